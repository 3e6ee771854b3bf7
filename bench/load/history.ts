/** The history task: a room filled with 10,000 messages, pages and join-since, again after edits. */
import { performance } from 'node:perf_hooks';
import { connectClient, pool, type BenchClient } from '../lib/clients.js';
import { latencyStats, type HistoryResult, type HistoryTask } from '../lib/types.js';
import { closeAll, connectAll, errCode, sleep } from './common.js';

interface SendData {
  message?: { id?: string };
}
interface HistoryData {
  messages?: unknown[];
}
interface JoinData {
  messages?: unknown[];
  recovered?: boolean;
}

/** Fills a room, then times history pages and join-since, before and after edits. */
export async function history(task: HistoryTask): Promise<HistoryResult> {
  const setupErrors: string[] = [];
  const room = `${task.prefix}h`;
  const users = Array.from({ length: task.fillers }, (_, i) => `${task.prefix}f${i}`);
  const fillers = await connectAll('parley', [task.port], users, setupErrors);
  await pool(fillers, 32, async (c) => {
    const r = await c?.join(room);
    if (r && !r.ok && setupErrors.length < 10) setupErrors.push(`join: ${errCode(r)}`);
  });
  // Fill: the node runs with its send limits raised for this scenario, so a few pipelined
  // fillers suffice (every filler is a member and gets every message as an event).
  const ids: string[] = [];
  const authors = new Map<string, BenchClient>();
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    fillers.flatMap((c) =>
      Array.from({ length: 16 }, async () => {
        if (!c) return;
        while (next < task.stored) {
          next++;
          const r = await c.send(room, `history filler ${next} ${'x'.repeat(60)}`);
          const id = (r.data as SendData | undefined)?.message?.id;
          if (r.ok && id) {
            ids.push(id);
            authors.set(id, c);
          } else if (setupErrors.length < 10) setupErrors.push(`fill send: ${errCode(r)}`);
        }
      }),
    ),
  );
  const fillMs = performance.now() - t0;
  ids.sort(compareIds);
  await sleep(300);

  const reader = await connectClient('parley', task.port, `${task.prefix}reader`);
  await reader.join(room);
  const pages = async (): Promise<{ lat: number[]; bad: number }> => {
    const lat: number[] = [];
    let bad = 0;
    for (let i = 0; i < task.iterations; i++) {
      // Half the pages are the latest, half start before a random stored message.
      const before =
        i % 2 === 1 && ids.length > 100 ? ids[50 + Math.floor(Math.random() * (ids.length - 50))] : undefined;
      const t = performance.now();
      const r = await reader.request(
        before ? { type: 'history', room, limit: 50, before } : { type: 'history', room, limit: 50 },
      );
      lat.push(performance.now() - t);
      const n = (r.data as HistoryData | undefined)?.messages?.length;
      if (!r.ok || n !== 50) {
        bad++;
        if (setupErrors.length < 10) setupErrors.push(`history: ok=${r.ok} ${r.ok ? '' : errCode(r)} n=${n}`);
      }
    }
    return { lat, bad };
  };
  const plain = await pages();
  const historyLat = plain.lat;
  const historyBad = plain.bad;
  const joiner = await connectClient('parley', task.port, `${task.prefix}joiner`);
  const since = ids[ids.length - 1 - task.missed];
  const joinLat: number[] = [];
  let joinBad = 0;
  for (let i = 0; i < task.iterations && since; i++) {
    const t = performance.now();
    const r = await joiner.join(room, since);
    joinLat.push(performance.now() - t);
    const d = r.data as JoinData | undefined;
    if (!r.ok || d?.messages?.length !== task.missed || d.recovered !== true) {
      joinBad++;
      if (setupErrors.length < 10) {
        setupErrors.push(`join since: ok=${r.ok} ${errCode(r)} n=${d?.messages?.length} recovered=${d?.recovered}`);
      }
    }
    await joiner.leave(room);
  }
  joiner.close();
  // Then the same pages with every 2nd message edited and every 5th reacted to (by its author).
  const editStarted = performance.now();
  let edits = 0;
  const targets = ids.map((id, i) => ({ id, i })).filter(({ i }) => i % 2 === 0 || i % 5 === 0);
  await pool(targets, 32, async ({ id, i }) => {
    const c = authors.get(id);
    const frame =
      i % 2 === 0
        ? { type: 'edit', room, messageId: id, text: `edited ${id} ${'y'.repeat(60)}` }
        : { type: 'react', room, messageId: id, emoji: '👍' };
    const r = await c?.request(frame);
    if (r?.ok) edits++;
    else if (setupErrors.length < 10) setupErrors.push(`${frame.type}: ${r ? errCode(r) : 'no client'}`);
  });
  const editMs = performance.now() - editStarted;
  closeAll(fillers);
  const edited = await pages();
  reader.close();

  return {
    stored: ids.length,
    fillMs,
    historyMs: latencyStats(historyLat),
    historyBad,
    joinSinceMs: latencyStats(joinLat),
    joinSinceBad: joinBad,
    changes: edits,
    changeMs: editMs,
    editedHistoryMs: latencyStats(edited.lat),
    editedHistoryBad: edited.bad,
    setupErrors,
  };
}

/** Message ids are `<ms>-<seq>` (Parley's codec); compare numerically, falling back to strings. */
function compareIds(a: string, b: string): number {
  const [am, as] = a.split('-').map(Number);
  const [bm, bs] = b.split('-').map(Number);
  if (am !== undefined && bm !== undefined && !Number.isNaN(am) && !Number.isNaN(bm) && am !== bm) return am - bm;
  if (as !== undefined && bs !== undefined && !Number.isNaN(as) && !Number.isNaN(bs) && as !== bs) return as - bs;
  return a < b ? -1 : a > b ? 1 : 0;
}
