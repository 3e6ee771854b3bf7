/** The fan-out task: rooms of members on every node, sends on schedule, loss / duplicates / order / latency. */
import { performance } from 'node:perf_hooks';
import { pool, type BenchClient } from '../lib/clients.js';
import { latencyStats, type FanoutResult, type FanoutSetup, type FanoutTask } from '../lib/types.js';
import { closeAll, connectAll, emit, errCode, nextCommand, REQUEST_CONCURRENCY, RoomPacer, sleep } from './common.js';

/** The marker at the start of every bench text: `b|<key>|<send time ms>|`. */
function makeText(key: number, t: number, len: number): string {
  const head = `b|${key}|${t.toFixed(3)}|`;
  return head.length >= len ? head : head + 'x'.repeat(len - head.length);
}

/** Runs one fan-out load and checks every delivery (see FanoutResult). */
export async function fanout(task: FanoutTask): Promise<FanoutResult> {
  const size = Math.floor(task.connections / task.rooms);
  const n = size * task.rooms;
  const setupErrors: string[] = [];
  const t0 = performance.now();
  // Member m of room r is connection r*size+m, on node m % nodes: every room has members on every node.
  const users = Array.from({ length: n }, (_, i) => `${task.prefix}u${i}`);
  const roomName = (r: number): string => `${task.prefix}r${r}`;
  let connectFailures = 0;
  const clients = await connectAll(task.kind, task.ports, users, setupErrors, {
    window: task.connectWindow,
    onFailedAttempt: () => connectFailures++,
  });
  const connectMs = performance.now() - t0;
  const connectFailed = clients.filter((c) => c === null).length;

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

  const joinStart = performance.now();
  const joined = await pool(clients, REQUEST_CONCURRENCY, async (c, i) => {
    if (!c) return false;
    const r = await c.join(roomName(Math.floor(i / size)));
    if (!r.ok && setupErrors.length < 10) setupErrors.push(`join: ${errCode(r)} ${r.error?.message ?? ''}`);
    return r.ok;
  });
  const setupMs = performance.now() - t0;
  const setup: FanoutSetup = { connectMs, connectFailures, connectFailed, joinMs: performance.now() - joinStart };
  if (joined.some((ok) => !ok)) {
    closeAll(clients);
    throw new Error(
      `setup failed: ${joined.filter((ok) => !ok).length} of ${n} not joined (${connectFailed} not connected, ` +
        `${connectFailures} failed connect attempts, connects took ${connectMs.toFixed(0)} ms); ${setupErrors.join('; ')}`,
    );
  }
  if (task.holdBeforeLoad) {
    // The orchestrator measures the idle node, then releases the load.
    emit({ event: 'ready', setup });
    await nextCommand();
  } else {
    await sleep(200); // let join presence traffic settle
  }

  const sendErrors: Record<string, number> = {};
  const interval = 1000 / task.rate;
  const start = performance.now();
  const windowStart = start + task.warmupMs;
  const windowEnd = windowStart + task.measureMs;
  const pacer = new RoomPacer(task.rooms, interval, start);
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
      pacer.run(now, (r, late) => {
        if (late) {
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
      });
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
    ...setup,
    loadgenCpuSec: (cpu.user + cpu.system) / 1e6,
    setupErrors,
  };
}
