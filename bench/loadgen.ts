/**
 * The load generator: a separate process (forked by run.ts) that holds every
 * client connection, sends on schedule and checks every delivery. It runs one
 * task at a time, given over IPC, and reports phase events and a result.
 */
import { performance } from 'node:perf_hooks';
import { churn } from './load/churn.js';
import { connectClient, pool, type BenchClient, type Reply, type SystemKind } from './lib/clients.js';
import {
  latencyStats,
  type FanoutResult,
  type FanoutTask,
  type HistoryResult,
  type HistoryTask,
  type IdleResult,
  type IdleTask,
  type KillResult,
  type KillTask,
  type LoadCommand,
  type LoadEvent,
  type LoadTask,
  type PresenceResult,
  type PresenceTask,
} from './lib/types.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function emit(ev: LoadEvent): void {
  process.send?.(ev);
}

let commandWaiters: ((c: LoadCommand) => void)[] = [];
function nextCommand(): Promise<LoadCommand> {
  return new Promise((r) => commandWaiters.push(r));
}

const CONNECT_CONCURRENCY = 64;
const REQUEST_CONCURRENCY = 256;

async function connectAll(
  kind: SystemKind,
  ports: number[],
  users: string[],
  errors: string[],
): Promise<(BenchClient | null)[]> {
  return pool(users, CONNECT_CONCURRENCY, async (user, i) => {
    const port = ports[i % ports.length] as number;
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        return await connectClient(kind, port, user);
      } catch (e) {
        if (attempt === 2) {
          if (errors.length < 10) errors.push(`connect ${user}: ${(e as Error).message}`);
          return null;
        }
        await sleep(100);
      }
    }
    return null;
  });
}

function errCode(r: Reply): string {
  return r.error?.code ?? 'UNKNOWN';
}

function closeAll(clients: (BenchClient | null)[]): void {
  for (const c of clients) c?.close();
}

// ---------------------------------------------------------------- fan-out

/** The marker at the start of every bench text: `b|<key>|<send time ms>|`. */
function makeText(key: number, t: number, len: number): string {
  const head = `b|${key}|${t.toFixed(3)}|`;
  return head.length >= len ? head : head + 'x'.repeat(len - head.length);
}

async function fanout(task: FanoutTask): Promise<FanoutResult> {
  const size = Math.floor(task.connections / task.rooms);
  const n = size * task.rooms;
  const setupErrors: string[] = [];
  const t0 = performance.now();
  // Member m of room r is connection r*size+m, on node m % nodes: every room has members on every node.
  const users = Array.from({ length: n }, (_, i) => `${task.prefix}u${i}`);
  const roomName = (r: number): string => `${task.prefix}r${r}`;
  const clients = await connectAll(task.kind, task.ports, users, setupErrors);

  // Per member: keys received, in arrival order.
  const recv: number[][] = Array.from({ length: n }, () => []);
  const sendTime: number[] = [];
  const inWindow: boolean[] = [];
  const keyRoom: number[] = [];
  const keyFailed: boolean[] = [];
  const latencies: number[] = [];
  const acks: number[] = [];
  let received = 0;
  let measuring = false;

  for (let i = 0; i < n; i++) {
    const c = clients[i];
    if (!c) continue;
    const list = recv[i] as number[];
    c.onMessage = (_room, text) => {
      const now = performance.now();
      const p1 = text.indexOf('|', 2);
      const p2 = text.indexOf('|', p1 + 1);
      const key = Number(text.slice(2, p1));
      list.push(key);
      received++;
      if (inWindow[key]) latencies.push(now - Number(text.slice(p1 + 1, p2)));
    };
  }

  const joined = await pool(clients, REQUEST_CONCURRENCY, async (c, i) => {
    if (!c) return false;
    const r = await c.join(roomName(Math.floor(i / size)));
    if (!r.ok && setupErrors.length < 10) setupErrors.push(`join: ${errCode(r)} ${r.error?.message ?? ''}`);
    return r.ok;
  });
  const setupMs = performance.now() - t0;
  if (joined.some((ok) => !ok)) {
    closeAll(clients);
    throw new Error(`setup failed: ${joined.filter((ok) => !ok).length} of ${n} not joined; ${setupErrors.join('; ')}`);
  }
  await sleep(200); // let join presence traffic settle

  const sendErrors: Record<string, number> = {};
  const interval = 1000 / task.rate;
  const lagLimit = 100;
  const start = performance.now();
  const windowStart = start + task.warmupMs;
  const windowEnd = windowStart + task.measureMs;
  const roomNext = Array.from({ length: task.rooms }, (_, r) => start + (r / task.rooms) * interval);
  const roomCount = new Array<number>(task.rooms).fill(0);
  const roomSent = new Array<number>(task.rooms).fill(0);
  let key = 0;
  let skipped = 0;
  let windowSent = 0;
  let pendingAcks = 0;
  let cpuAtStart = process.cpuUsage();

  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = performance.now();
      if (!measuring && now >= windowStart && now < windowEnd) {
        measuring = true;
        cpuAtStart = process.cpuUsage();
        emit({ event: 'measure-start' });
      }
      if (now >= windowEnd) {
        measuring = false;
        emit({ event: 'measure-end' });
        resolve();
        return;
      }
      for (let r = 0; r < task.rooms; r++) {
        let due = roomNext[r] as number;
        while (due <= now) {
          if (now - due > lagLimit) {
            skipped++;
          } else {
            const member = r * size + ((roomCount[r] as number) % size);
            roomCount[r] = (roomCount[r] as number) + 1;
            const c = clients[member] as BenchClient;
            const k = key++;
            const t = performance.now();
            sendTime[k] = t;
            keyRoom[k] = r;
            inWindow[k] = measuring;
            if (measuring) windowSent++;
            roomSent[r] = (roomSent[r] as number) + 1;
            pendingAcks++;
            void c.send(roomName(r), makeText(k, t, task.textBytes)).then((rep) => {
              pendingAcks--;
              acks.push(performance.now() - t);
              if (!rep.ok) {
                keyFailed[k] = true;
                const code = errCode(rep);
                sendErrors[code] = (sendErrors[code] ?? 0) + 1;
              }
            });
          }
          due += interval;
        }
        roomNext[r] = due;
      }
      setTimeout(tick, 1);
    };
    tick();
  });
  const cpu = process.cpuUsage(cpuAtStart);

  // Drain: wait until every expected delivery arrived, or drainMs passed.
  const expectedNow = (): number => {
    let e = 0;
    for (let k = 0; k < key; k++) if (!keyFailed[k]) e += size;
    return e;
  };
  const drainEnd = performance.now() + task.drainMs;
  while (performance.now() < drainEnd) {
    if (pendingAcks === 0 && received >= expectedNow()) break;
    await sleep(20);
  }
  await sleep(50); // catch duplicates that arrive right behind
  closeAll(clients);

  // Loss, duplicates and order.
  const expected = expectedNow();
  let unique = 0;
  let duplicates = 0;
  let windowDelivered = 0;
  let roomsOutOfOrder = 0;
  for (let r = 0; r < task.rooms; r++) {
    let reference: number[] | null = null;
    const firstSeen: number[][] = [];
    for (let m = 0; m < size; m++) {
      const list = recv[r * size + m] as number[];
      const seen = new Set<number>();
      const order: number[] = [];
      for (const k of list) {
        if (seen.has(k)) {
          duplicates++;
          continue;
        }
        seen.add(k);
        order.push(k);
        if (keyRoom[k] === r) {
          unique++;
          if (inWindow[k]) windowDelivered++;
        }
      }
      firstSeen.push(order);
      if (!reference || order.length > reference.length) reference = order;
    }
    const pos = new Map<number, number>();
    (reference ?? []).forEach((k, i) => pos.set(k, i));
    let bad = false;
    for (const order of firstSeen) {
      let last = -1;
      for (const k of order) {
        const p = pos.get(k);
        if (p === undefined) continue;
        if (p < last) {
          bad = true;
          break;
        }
        last = p;
      }
      if (bad) break;
    }
    if (bad) roomsOutOfOrder++;
  }

  const measureSec = task.measureMs / 1000;
  return {
    connections: n,
    rooms: task.rooms,
    roomSize: size,
    rate: task.rate,
    targetSendPerSec: task.rate * task.rooms,
    sentPerSec: windowSent / measureSec,
    sent: key,
    sendErrors,
    skipped,
    expected,
    delivered: unique,
    lost: Math.max(0, expected - unique),
    duplicates,
    windowDelivered,
    deliveredPerSec: windowDelivered / measureSec,
    orderOk: roomsOutOfOrder === 0,
    roomsOutOfOrder,
    latencyMs: latencyStats(latencies),
    ackMs: latencyStats(acks),
    measureMs: task.measureMs,
    setupMs,
    loadgenCpuSec: (cpu.user + cpu.system) / 1e6,
    setupErrors,
  };
}

// ---------------------------------------------------------------- idle

async function idle(task: IdleTask): Promise<IdleResult> {
  const errors: string[] = [];
  const t0 = performance.now();
  const users = Array.from({ length: task.connections }, (_, i) => `${task.prefix}i${i}`);
  const clients = await connectAll(task.kind, [task.port], users, errors);
  const joined = await pool(clients, REQUEST_CONCURRENCY, async (c, i) => {
    if (!c) return false;
    const r = await c.join(`${task.prefix}ir${Math.floor(i / task.roomSize)}`);
    if (!r.ok && errors.length < 10) errors.push(`join: ${errCode(r)}`);
    return r.ok;
  });
  const info: IdleResult = {
    connected: clients.filter((c) => c !== null).length,
    joined: joined.filter(Boolean).length,
    setupMs: performance.now() - t0,
    errors,
  };
  emit({ event: 'ready', info });
  await nextCommand();
  closeAll(clients);
  return info;
}

// ---------------------------------------------------------------- presence

interface PresenceFrame {
  type?: string;
  room?: string;
  event?: string;
  member?: { user?: string; status?: string; text?: string };
}

async function presence(task: PresenceTask): Promise<PresenceResult> {
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

// ---------------------------------------------------------------- kill -9

async function killNode(task: KillTask): Promise<KillResult> {
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

// ---------------------------------------------------------------- history

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

async function history(task: HistoryTask): Promise<HistoryResult> {
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

// ---------------------------------------------------------------- main

async function runTask(task: LoadTask): Promise<void> {
  commandWaiters = [];
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
  else {
    const waiters = commandWaiters;
    commandWaiters = [];
    for (const w of waiters) w(m);
  }
});
process.on('disconnect', () => process.exit(0));
