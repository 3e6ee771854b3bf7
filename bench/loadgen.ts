/**
 * The load generator: a separate process (forked by run.ts) that holds every
 * client connection, sends on schedule and checks every delivery. It runs one
 * task at a time, given over IPC, and reports phase events and a result.
 * Each task lives in load/<task>.ts; this file only dispatches.
 */
import { churn } from './load/churn.js';
import { deliverCommand, emit, resetCommands } from './load/common.js';
import { fanout } from './load/fanout.js';
import { history } from './load/history.js';
import { idle } from './load/idle.js';
import { killNode } from './load/kill.js';
import { presence } from './load/presence.js';
import type { LoadCommand, LoadTask } from './lib/types.js';

async function runTask(task: LoadTask): Promise<void> {
  resetCommands();
  try {
    let result;
    switch (task.task) {
      case 'fanout':
        result = await fanout(task);
        break;
      case 'idle':
        result = await idle(task);
        break;
      case 'presence':
        result = await presence(task);
        break;
      case 'kill':
        result = await killNode(task);
        break;
      case 'history':
        result = await history(task);
        break;
      case 'churn':
        result = await churn(task, emit);
        break;
    }
    emit({ event: 'result', result });
  } catch (e) {
    emit({ event: 'failed', error: (e as Error).stack ?? String(e) });
  }
}

process.on('message', (msg: unknown) => {
  const m = msg as LoadTask | LoadCommand;
  if ('task' in m) void runTask(m);
  else deliverCommand(m);
});
process.on('disconnect', () => process.exit(0));
