/** History (Parley only): 10,000 messages in one room, pages, join-since, the same after edits. */
import { nextPrefix, type BenchContext } from '../lib/context.js';
import type { LoadGen } from '../lib/generator.js';
import { startNode } from '../lib/nodes.js';
import type { BenchRedis } from '../lib/redis.js';
import { fmt } from '../lib/report.js';
import type { HistoryResult } from '../lib/types.js';

/** One Parley node with raised send limits on a fresh Redis; the history task against it. */
export async function historyRun(redis: BenchRedis, loadgen: LoadGen): Promise<HistoryResult> {
  await redis.command('FLUSHALL');
  // Send limits are raised on this node only, so that filling the room takes seconds (they do not touch reads).
  const node = await startNode('parley', redis.env, {
    PARLEY_HISTORY_MAX: '10000',
    PARLEY_SEND_RATE: '1000000',
    PARLEY_SEND_BURST: '1000000',
    PARLEY_COMMAND_RATE: '1000000',
    PARLEY_COMMAND_BURST: '1000000',
  });
  try {
    return await loadgen.run<HistoryResult>({
      task: 'history',
      port: node.port,
      stored: 10_000,
      fillers: 4,
      iterations: 300,
      missed: 100,
      prefix: nextPrefix('h'),
    });
  } finally {
    await node.stop();
  }
}

/** Runs the history scenario and prints its lines. */
export async function runHistory(ctx: BenchContext): Promise<void> {
  const { redis, loadgen, result, failures, log } = ctx;
  log('history: 10,000 messages in one room');
  try {
    const r = await historyRun(redis, loadgen);
    result.history = r;
    console.log(
      `\nHistory (${r.stored} stored, filled in ${fmt(r.fillMs / 1000)} s): 50-message page p50 ${fmt(r.historyMs.p50)} / p99 ${fmt(r.historyMs.p99)} ms (${r.historyBad} bad); ` +
        `join since (100 missed) p50 ${fmt(r.joinSinceMs.p50)} / p99 ${fmt(r.joinSinceMs.p99)} ms (${r.joinSinceBad} bad)`,
    );
    console.log(
      `History after ${r.changes} edits/reactions (every 2nd message edited, every 5th reacted to; applied in ${fmt(r.changeMs / 1000)} s): ` +
        `50-message page p50 ${fmt(r.editedHistoryMs.p50)} / p99 ${fmt(r.editedHistoryMs.p99)} ms (${r.editedHistoryBad} bad)`,
    );
    if (r.setupErrors.length) console.log(`  errors: ${r.setupErrors.join('; ')}`);
  } catch (e) {
    failures.push((e as Error).message);
    log(`  FAILED: ${(e as Error).message}`);
  }
}
