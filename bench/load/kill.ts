/** The kill task: users on a node that the orchestrator kills -9, watched from the other node. */
import { connectClient, pool } from '../lib/clients.js';
import type { KillResult, KillTask } from '../lib/types.js';
import {
  closeAll,
  connectAll,
  emit,
  errCode,
  nextCommand,
  REQUEST_CONCURRENCY,
  sleep,
  type PresenceFrame,
} from './common.js';

/** Holds users on node A, emits `ready`, then times until the watcher on B sees them offline. */
export async function killNode(task: KillTask): Promise<KillResult> {
  const setupErrors: string[] = [];
  const [portA, portB] = task.ports;
  const room = `${task.prefix}k`;
  const users = Array.from({ length: task.users }, (_, i) => `${task.prefix}k${i}`);
  const watcher = await connectClient('parley', portB, `${task.prefix}kw`);
  const wj = await watcher.join(room);
  if (!wj.ok) setupErrors.push(`watcher join: ${errCode(wj)}`);
  const clients = await connectAll('parley', [portA], users, setupErrors);
  await pool(clients, REQUEST_CONCURRENCY, async (c) => {
    const r = await c?.join(room);
    if (r && !r.ok && setupErrors.length < 10) setupErrors.push(`join: ${errCode(r)}`);
  });
  await sleep(500);
  const offline = new Map<string, number>();
  watcher.onOther = (f) => {
    const p = f as PresenceFrame;
    if (p.type !== 'presence' || p.room !== room) return;
    const user = p.member?.user;
    if (typeof user !== 'string' || offline.has(user)) return;
    if (p.event === 'leave' || p.member?.status === 'offline') offline.set(user, Date.now());
  };
  for (const c of clients) if (c) c.onClose = () => {};
  emit({ event: 'ready' });
  const cmd = await nextCommand();
  const killedAt = cmd.cmd === 'killed' ? cmd.at : Date.now();
  const end = Date.now() + task.timeoutMs;
  while (Date.now() < end && offline.size < task.users) await sleep(20);
  closeAll(clients);
  watcher.close();
  const times = [...offline.values()].map((t) => t - killedAt).sort((a, b) => a - b);
  return {
    users: task.users,
    firstOfflineMs: times.length > 0 ? (times[0] as number) : null,
    allOfflineMs: times.length === task.users ? (times[times.length - 1] as number) : null,
    seen: times.length,
    setupErrors,
  };
}
