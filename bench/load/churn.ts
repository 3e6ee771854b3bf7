/**
 * The soak load (load generator side): the main scenario's fan-out load for
 * minutes, with reconnect churn. Every second `churnPerSec` clients (half on
 * each node) close their socket, wait for the close, reconnect as the same
 * user to the other node and rejoin their room with `since` = the last
 * message id they saw. Every client must end with every message of its room
 * exactly once: the `since` reply's messages count as delivered. A window
 * sample goes to the orchestrator every `sampleMs`.
 *
 * Deliveries are counted per client in a byte array indexed by the room's
 * send sequence (1 byte per message per client: 24 MB for 20 minutes at the
 * default load), so memory stays flat however long it runs.
 */
import { performance } from 'node:perf_hooks';
import { readFileSync } from 'node:fs';
import { connectClient, pool, type BenchClient } from '../lib/clients.js';
import {
  latencyStats,
  type ChurnResult,
  type ChurnTask,
  type ChurnWindow,
  type LatencyStats,
  type LoadEvent,
} from '../lib/types.js';
import { CONNECT_CONCURRENCY, REQUEST_CONCURRENCY, RoomPacer, closeAll, errCode, sleep } from './common.js';

/** Latencies over a whole soak: log buckets of 2% from 10 µs up, so memory does not grow with the run. */
export class LogHistogram {
  private readonly counts = new Float64Array(1200);
  private n = 0;
  private max = 0;
  private static readonly BASE = Math.log(1.02);
  private static readonly MIN = 0.01;

  add(ms: number): void {
    const b = ms <= LogHistogram.MIN ? 0 : Math.floor(Math.log(ms / LogHistogram.MIN) / LogHistogram.BASE) + 1;
    this.counts[Math.min(b, this.counts.length - 1)]! += 1;
    this.n++;
    if (ms > this.max) this.max = ms;
  }

  stats(): LatencyStats {
    const q = (p: number): number => {
      if (this.n === 0) return NaN;
      const want = p * this.n;
      let seen = 0;
      for (let b = 0; b < this.counts.length; b++) {
        seen += this.counts[b]!;
        if (seen > want) return b === 0 ? LogHistogram.MIN : LogHistogram.MIN * Math.exp(b * LogHistogram.BASE);
      }
      return this.max;
    };
    return { count: this.n, p50: q(0.5), p95: q(0.95), p99: q(0.99), max: this.n === 0 ? NaN : this.max };
  }
}

/** Message ids are `<ms>-<seq>`: numeric order. */
function newerId(a: string, b: string | null): boolean {
  if (b === null) return true;
  const da = a.indexOf('-');
  const db = b.indexOf('-');
  const ma = Number(a.slice(0, da));
  const mb = Number(b.slice(0, db));
  if (ma !== mb) return ma > mb;
  return Number(a.slice(da + 1)) > Number(b.slice(db + 1));
}

function rssBytes(): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'latin1'));
    return m ? Number(m[1]) * 1024 : process.memoryUsage().rss;
  } catch {
    return process.memoryUsage().rss;
  }
}

interface JoinData {
  messages?: Array<{ id?: string; text?: string }>;
  recovered?: boolean;
}

/**
 * Runs the churn load; `emit` sends a `sample` event at each window's end.
 *
 * @example
 * const result = await churn({ task: 'churn', ports: [a, b], connections: 2000, ... }, (e) => process.send?.(e));
 */
export async function churn(task: ChurnTask, emit: (e: LoadEvent) => void): Promise<ChurnResult> {
  const size = Math.floor(task.connections / task.rooms);
  const n = size * task.rooms;
  const setupErrors: string[] = [];
  const t0 = performance.now();
  const users = Array.from({ length: n }, (_, i) => `${task.prefix}u${i}`);
  const roomName = (r: number): string => `${task.prefix}r${r}`;
  const roomOf = (i: number): number => Math.floor(i / size);
  // Sequence numbers per room fit the run (sends are scheduled, never more than rate x duration).
  const capacity = Math.ceil((task.rate * task.durationMs) / 1000) + 16;

  const clients: (BenchClient | null)[] = new Array<BenchClient | null>(n).fill(null);
  const nodeOf = new Uint8Array(n);
  const counts = Array.from({ length: n }, () => new Uint8Array(capacity));
  const lastId: (string | null)[] = new Array<string | null>(n).fill(null);
  const busy = new Uint8Array(n); // reconnecting
  const pendingSends = new Uint16Array(n);
  const roomSent = new Uint32Array(task.rooms);
  const roomRotation = new Uint32Array(task.rooms);
  const keyFailed = Array.from({ length: task.rooms }, () => new Uint8Array(capacity));
  let finished = false;

  // Window counters (reset at every sample) and run totals.
  let wSent = 0;
  let wSendErrors = 0;
  let wDelivered = 0;
  let wRecovered = 0;
  let wReconnects = 0;
  let wNotRecovered = 0;
  let wReconnectErrors = 0;
  let wUnexpected = 0;
  let wSkipped = 0;
  let wLatency: number[] = [];
  let wRejoin: number[] = [];
  const runLatency = new LogHistogram();
  const runRejoin = new LogHistogram();
  const sendErrors: Record<string, number> = {};
  const reconnectErrors: Record<string, number> = {};
  let sentOk = 0;
  let skipped = 0;
  let unique = 0;
  let recoveredMessages = 0;
  let reconnects = 0;
  let notRecovered = 0;
  let unexpectedCloses = 0;
  let pendingAcks = 0;

  /** One delivery to client i (live, or recovered from a `since` reply). */
  const deliver = (i: number, text: string, id: string, recovered: boolean): void => {
    const p1 = text.indexOf('|', 2);
    const p2 = text.indexOf('|', p1 + 1);
    const seq = Number(text.slice(2, p1));
    if (!(seq >= 0 && seq < capacity)) return;
    const c = counts[i]!;
    const prev = c[seq]!;
    if (prev < 255) c[seq] = prev + 1;
    if (prev === 0) {
      unique++;
      wDelivered++;
      if (recovered) {
        wRecovered++;
        recoveredMessages++;
      }
    }
    if (!recovered) {
      const lat = performance.now() - Number(text.slice(p1 + 1, p2));
      wLatency.push(lat);
      runLatency.add(lat);
    }
    if (id !== '' && newerId(id, lastId[i]!)) lastId[i] = id;
  };

  const attach = (i: number, c: BenchClient): void => {
    c.onMessage = (room, text, id) => {
      if (room === roomName(roomOf(i))) deliver(i, text, id, false);
    };
    c.onClose = () => {
      // A close we did not ask for (slow consumer, server restart): reconnect it like churn, to the same node.
      if (finished || busy[i] === 1 || clients[i] !== c) return;
      unexpectedCloses++;
      wUnexpected++;
      void reconnect(i, nodeOf[i]!, false);
    };
  };

  const inflight = new Set<Promise<void>>();
  /** Close (unless it closed already), reconnect as the same user to node `to`, rejoin with since. */
  const reconnect = (i: number, to: number, close: boolean): Promise<void> => {
    busy[i] = 1;
    const started = performance.now();
    const p = (async () => {
      const old = clients[i];
      if (old && close && old.isOpen()) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, 5000);
          old.onClose = () => {
            clearTimeout(t);
            resolve();
          };
          old.close();
        });
      }
      if (old) {
        old.onMessage = null;
        old.onClose = null;
      }
      for (let attempt = 0; attempt < 5; attempt++) {
        let c: BenchClient;
        try {
          c = await connectClient('parley', task.ports[to]!, users[i]!);
        } catch (e) {
          reconnectErrors[`connect: ${(e as Error).message.slice(0, 60)}`] =
            (reconnectErrors[`connect: ${(e as Error).message.slice(0, 60)}`] ?? 0) + 1;
          wReconnectErrors++;
          await sleep(200);
          continue;
        }
        clients[i] = c;
        nodeOf[i] = to;
        attach(i, c);
        const since = lastId[i]!;
        const r = await c.join(roomName(roomOf(i)), since ?? undefined);
        if (!r.ok) {
          const code = `join: ${errCode(r)}`;
          reconnectErrors[code] = (reconnectErrors[code] ?? 0) + 1;
          wReconnectErrors++;
          c.onClose = null;
          c.close();
          await sleep(200);
          continue;
        }
        const d = (r.data ?? {}) as JoinData;
        for (const m of d.messages ?? []) {
          if (typeof m.text === 'string') deliver(i, m.text, m.id ?? '', true);
        }
        if (since !== null && d.recovered === false) {
          notRecovered++;
          wNotRecovered++;
        }
        reconnects++;
        wReconnects++;
        const took = performance.now() - started;
        wRejoin.push(took);
        runRejoin.add(took);
        return;
      }
    })().finally(() => {
      busy[i] = 0;
      inflight.delete(p);
    });
    inflight.add(p);
    return p;
  };

  // ---- setup: connect everyone (member m of a room on node m % 2), join
  const connected = await pool(users, CONNECT_CONCURRENCY, async (user, i) => {
    const to = (i % size) % 2;
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const c = await connectClient('parley', task.ports[to]!, user);
        clients[i] = c;
        nodeOf[i] = to;
        attach(i, c);
        return true;
      } catch (e) {
        if (attempt === 2 && setupErrors.length < 10) setupErrors.push(`connect ${user}: ${(e as Error).message}`);
        await sleep(100);
      }
    }
    return false;
  });
  const joined = await pool(clients, REQUEST_CONCURRENCY, async (c, i) => {
    if (!c) return false;
    const r = await c.join(roomName(roomOf(i)));
    if (!r.ok && setupErrors.length < 10) setupErrors.push(`join: ${errCode(r)} ${r.error?.message ?? ''}`);
    return r.ok;
  });
  const setupMs = performance.now() - t0;
  if (connected.some((ok) => !ok) || joined.some((ok) => !ok)) {
    finished = true;
    closeAll(clients);
    throw new Error(`setup failed: ${joined.filter((ok) => !ok).length} of ${n} not joined; ${setupErrors.join('; ')}`);
  }
  await sleep(500); // let join presence traffic settle

  // ---- the run
  const interval = 1000 / task.rate;
  const start = performance.now();
  const end = start + task.durationMs;
  const pacer = new RoomPacer(task.rooms, interval, start);
  let nextSample = start + task.sampleMs;
  let nextChurn = start + task.churnAfterMs;
  let sampleIndex = 0;
  let windowStart = start;
  const cpuAtStart = process.cpuUsage();

  const sample = (now: number): void => {
    const open: [number, number] = [0, 0];
    for (let i = 0; i < n; i++) {
      if (clients[i]?.isOpen() && busy[i] === 0) {
        if (nodeOf[i] === 0) open[0]++;
        else open[1]++;
      }
    }
    const w: ChurnWindow = {
      index: sampleIndex++,
      atMs: now - start,
      windowMs: now - windowStart,
      sent: wSent,
      sendErrors: wSendErrors,
      delivered: wDelivered,
      recovered: wRecovered,
      latencyMs: latencyStats(wLatency),
      reconnects: wReconnects,
      notRecovered: wNotRecovered,
      reconnectErrors: wReconnectErrors,
      unexpectedCloses: wUnexpected,
      rejoinMs: latencyStats(wRejoin),
      open,
      skipped: wSkipped,
      loadgenRss: rssBytes(),
    };
    wSent = wSendErrors = wDelivered = wRecovered = wReconnects = wNotRecovered = wReconnectErrors = 0;
    wUnexpected = wSkipped = 0;
    wLatency = [];
    wRejoin = [];
    windowStart = now;
    emit({ event: 'sample', sample: w });
  };

  /** A member of room r to send from: the next in rotation that is connected and not reconnecting. */
  const senderOf = (r: number): number => {
    for (let k = 0; k < size; k++) {
      const m = r * size + (roomRotation[r]! % size);
      roomRotation[r] = roomRotation[r]! + 1;
      if (busy[m] === 0 && clients[m]?.isOpen()) return m;
    }
    return -1;
  };

  /** Half the churn from each node, each to the other; never a client with a send in flight. */
  const churnOnce = (): void => {
    const per = [Math.floor(task.churnPerSec / 2), Math.ceil(task.churnPerSec / 2)];
    for (const from of [0, 1]) {
      let picked = 0;
      for (let tries = 0; picked < per[from]! && tries < 20 * task.churnPerSec; tries++) {
        const i = Math.floor(Math.random() * n);
        if (nodeOf[i] !== from || busy[i] === 1 || pendingSends[i]! > 0 || !clients[i]?.isOpen()) continue;
        picked++;
        void reconnect(i, 1 - from, true);
      }
    }
  };

  sample(start); // window 0: the baseline
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = performance.now();
      // Sampled before the end check: with a duration of whole windows, the last window ends at the end.
      if (now >= nextSample) {
        nextSample += task.sampleMs;
        sample(now);
      }
      if (now >= end) {
        resolve();
        return;
      }
      if (now >= nextChurn) {
        nextChurn += 1000;
        churnOnce();
      }
      pacer.run(now, (r, late) => {
        const seq = roomSent[r]!;
        const m = late || seq >= capacity ? -1 : senderOf(r);
        if (m < 0) {
          skipped++;
          wSkipped++;
        } else {
          roomSent[r] = seq + 1;
          const c = clients[m]!;
          const t = performance.now();
          const head = `s|${seq}|${t.toFixed(3)}|`;
          pendingSends[m] = pendingSends[m]! + 1;
          pendingAcks++;
          void c
            .send(roomName(r), head.length >= task.textBytes ? head : head.padEnd(task.textBytes, 'x'))
            .then((rep) => {
              pendingAcks--;
              pendingSends[m] = pendingSends[m]! - 1;
              if (rep.ok) {
                sentOk++;
                wSent++;
              } else {
                keyFailed[r]![seq] = 1;
                wSendErrors++;
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

  // ---- drain: reconnects in flight finish, acks come back, missing deliveries arrive (or drainMs passes)
  const drainStarted = performance.now();
  while (inflight.size > 0 && performance.now() - drainStarted < task.drainMs)
    await Promise.race([...inflight, sleep(100)]);
  let expected = 0;
  const owed = (): number => {
    let e = 0;
    for (let r = 0; r < task.rooms; r++) {
      let ok = 0;
      const failed = keyFailed[r]!;
      for (let s = 0; s < roomSent[r]!; s++) if (failed[s] === 0) ok++;
      e += ok * size;
    }
    return e;
  };
  while (performance.now() - drainStarted < task.drainMs) {
    if (pendingAcks === 0 && unique >= owed()) break;
    await sleep(50);
  }
  await sleep(100); // duplicates right behind
  const drainMs = performance.now() - drainStarted;
  finished = true;

  // ---- exactly once per client, over the whole run
  let delivered = 0;
  let lost = 0;
  let duplicates = 0;
  let clientsWithLoss = 0;
  for (let i = 0; i < n; i++) {
    const r = roomOf(i);
    const c = counts[i]!;
    const failed = keyFailed[r]!;
    let missed = 0;
    for (let s = 0; s < roomSent[r]!; s++) {
      if (failed[s] === 1) continue;
      expected++;
      const k = c[s]!;
      if (k === 0) missed++;
      else {
        delivered++;
        duplicates += k - 1;
      }
    }
    lost += missed;
    if (missed > 0) clientsWithLoss++;
  }
  closeAll(clients);

  return {
    connections: n,
    rooms: task.rooms,
    roomSize: size,
    rate: task.rate,
    churnPerSec: task.churnPerSec,
    durationMs: task.durationMs,
    sent: sentOk,
    sendErrors,
    skipped,
    expected,
    delivered,
    lost,
    duplicates,
    clientsWithLoss,
    recoveredMessages,
    reconnects,
    notRecovered,
    reconnectErrors,
    unexpectedCloses,
    latencyMs: runLatency.stats(),
    rejoinMs: runRejoin.stats(),
    setupMs,
    drainMs,
    loadgenCpuSec: (cpu.user + cpu.system) / 1e6,
    setupErrors,
  };
}
