/** The presence task: status changes on one node, watchers on both nodes. */
import { performance } from 'node:perf_hooks';
import { connectClient, pool } from '../lib/clients.js';
import { latencyStats, type PresenceResult, type PresenceTask } from '../lib/types.js';
import { closeAll, connectAll, emit, errCode, REQUEST_CONCURRENCY, sleep, type PresenceFrame } from './common.js';

/** Changers flip their status as fast as acks come; both watchers count the updates. */
export async function presence(task: PresenceTask): Promise<PresenceResult> {
  const setupErrors: string[] = [];
  const [portA, portB] = task.ports;
  const changerUsers = Array.from({ length: task.changers }, (_, i) => `${task.prefix}c${i}`);
  const rooms = changerUsers.map((_, i) => `${task.prefix}p${i}`);
  const changers = await connectAll('parley', [portA], changerUsers, setupErrors);
  const [wA, wB] = await Promise.all([
    connectClient('parley', portA, `${task.prefix}wa`),
    connectClient('parley', portB, `${task.prefix}wb`),
  ]);
  await pool(changers, REQUEST_CONCURRENCY, async (c, i) => {
    const r = await c?.join(rooms[i] as string);
    if (r && !r.ok && setupErrors.length < 10) setupErrors.push(`join: ${errCode(r)}`);
  });
  for (const w of [wA, wB]) {
    await pool(rooms, 32, async (room) => {
      const r = await w.join(room);
      if (!r.ok && setupErrors.length < 10) setupErrors.push(`watcher join: ${errCode(r)} ${r.error?.message ?? ''}`);
    });
  }
  await sleep(300);
  let countA = 0;
  let countB = 0;
  const otherLat: number[] = [];
  let running = false;
  const onUpdate = (isB: boolean) => (f: Record<string, unknown>) => {
    const p = f as PresenceFrame;
    if (!running || p.type !== 'presence' || p.event !== 'update') return;
    const text = p.member?.text;
    if (typeof text !== 'string' || !text.startsWith('t')) return;
    if (isB) {
      countB++;
      otherLat.push(performance.now() - Number(text.slice(1)));
    } else countA++;
  };
  wA.onOther = onUpdate(false);
  wB.onOther = onUpdate(true);

  const errors: Record<string, number> = {};
  const acks: number[] = [];
  let acked = 0;
  running = true;
  emit({ event: 'measure-start' });
  const t0 = performance.now();
  const end = t0 + task.durationMs;
  await Promise.all(
    changers.flatMap((c, i) =>
      Array.from({ length: task.inflight }, async (_, j) => {
        if (!c) return;
        let flip = (i + j) % 2 === 0;
        while (performance.now() < end) {
          flip = !flip;
          const t = performance.now();
          const r = await c.request({ type: 'status', status: flip ? 'away' : 'busy', text: `t${t.toFixed(3)}` });
          acks.push(performance.now() - t);
          if (r.ok) acked++;
          else {
            const code = errCode(r);
            errors[code] = (errors[code] ?? 0) + 1;
            if (code === 'CLOSED') return;
            if (code === 'RATE_LIMITED') await sleep(50);
          }
        }
      }),
    ),
  );
  const durationMs = performance.now() - t0;
  emit({ event: 'measure-end' });
  const drainEnd = performance.now() + 5000;
  while (performance.now() < drainEnd && (countA < acked || countB < acked)) await sleep(20);
  running = false;
  closeAll(changers);
  wA.close();
  wB.close();
  return {
    changers: task.changers,
    acked,
    ackedPerSec: acked / (durationMs / 1000),
    errors,
    watcherSameNode: countA,
    watcherOtherNode: countB,
    otherNodeLatencyMs: latencyStats(otherLat),
    ackMs: latencyStats(acks),
    durationMs,
    setupErrors,
  };
}
