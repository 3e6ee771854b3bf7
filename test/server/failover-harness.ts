/**
 * Chat traffic under a failover, measured: senders on node A and receivers on
 * node B in several rooms, every send with a clientMsgId and retried with the
 * same id (like the SDK) on UNAVAILABLE or no reply, until it is acknowledged.
 * The caller kills a primary in the middle; report() says what the contract
 * promises was kept (docs/redis.md "Failover").
 */
import type { Message } from '../../src/protocol/frames.js';
import type { TestClient } from '../support/client.js';
import { sleep, waitFor } from '../support/ports.js';
import type { RunningNode } from '../support/server.js';

export interface RoomStats {
  room: string;
  /** Acknowledged messages, in ack order. */
  acked: Message[];
  unavailable: number;
  /** Requests without a reply within 5 s (the contract's bound), and other errors. */
  noReply: number;
  otherErrors: string[];
  /** Slowest reply, ms (ok or error). */
  slowestMs: number;
  /** Longest time between two acknowledged sends (sends run back to back), ms. */
  longestGapMs: number;
  /** Time from the kill to the first ack of a send started after it, ms (null before the kill). */
  serveAgainMs: number | null;
  /** Sends still not acknowledged when the traffic stopped (retried for 20 s at most). */
  abandoned: number;
}

export interface Traffic {
  rooms: RoomStats[];
  senders: TestClient[];
  receivers: TestClient[];
  /** Marks the moment of the kill (serveAgainMs counts from it). */
  markKill(): void;
  /** Stops sending and waits for the loops to end. */
  stop(): Promise<void>;
}

/**
 * Starts one sender (node A) and one receiver (node B) per room, both joined,
 * and a send loop per room with `intervalMs` between acknowledged sends.
 */
export async function startTraffic(a: RunningNode, b: RunningNode, rooms: string[], intervalMs = 50): Promise<Traffic> {
  const senders: TestClient[] = [];
  const receivers: TestClient[] = [];
  const stats: RoomStats[] = [];
  for (const [i, room] of rooms.entries()) {
    const s = await a.client(`sender-${i}`);
    const r = await b.client(`receiver-${i}`);
    await s.ok({ type: 'join', room });
    await r.ok({ type: 'join', room });
    senders.push(s);
    receivers.push(r);
    stats.push({
      room,
      acked: [],
      unavailable: 0,
      noReply: 0,
      otherErrors: [],
      slowestMs: 0,
      longestGapMs: 0,
      serveAgainMs: null,
      abandoned: 0,
    });
  }
  let running = true;
  let killedAt: number | null = null;
  const loop = async (i: number): Promise<void> => {
    const st = stats[i]!;
    const s = senders[i]!;
    let seq = 0;
    let lastAck = Date.now();
    while (running) {
      const clientMsgId = `m${i}-${++seq}`;
      const startedAt = Date.now();
      for (;;) {
        if (!running && Date.now() - startedAt > 20_000) {
          st.abandoned++;
          break;
        }
        const t = Date.now();
        let reply;
        try {
          reply = await s.request<{ message: Message }>(
            { type: 'send', room: st.room, text: clientMsgId, clientMsgId },
            5000,
          );
        } catch {
          st.noReply++;
          continue;
        }
        st.slowestMs = Math.max(st.slowestMs, Date.now() - t);
        if (reply.ok) {
          const now = Date.now();
          st.acked.push(reply.data.message);
          st.longestGapMs = Math.max(st.longestGapMs, now - lastAck);
          lastAck = now;
          if (killedAt !== null && st.serveAgainMs === null && startedAt >= killedAt) st.serveAgainMs = now - killedAt;
          break;
        }
        if (reply.error.code === 'UNAVAILABLE') st.unavailable++;
        else st.otherErrors.push(reply.error.code);
        await sleep(100); // the SDK's pause before a retry
      }
      await sleep(intervalMs);
    }
  };
  const loops = rooms.map((_, i) => loop(i));
  return {
    rooms: stats,
    senders,
    receivers,
    markKill() {
      killedAt = Date.now();
    },
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

/** Waits until every receiver holds every acknowledged message of its room; returns what each got, in order. */
export async function settle(t: Traffic, ms = 15_000): Promise<Message[][]> {
  await waitFor(
    () =>
      t.rooms.every((st, i) => {
        const got = new Set(t.receivers[i]!.messages(st.room).map((m) => m.id));
        return st.acked.every((m) => got.has(m.id));
      }),
    ms,
    'every acknowledged message delivered on the other node',
  ).catch(() => undefined); // the assertions below say what is missing
  return t.rooms.map((st, i) => t.receivers[i]!.messages(st.room) as unknown as Message[]);
}

/** One line per room for the test output (the figures docs/redis.md quotes). */
export function describeRooms(t: Traffic, shardOf: (room: string) => string): string {
  return t.rooms
    .map(
      (st) =>
        `${shardOf(st.room).padEnd(12)} ${st.room.padEnd(18)} acked=${st.acked.length} unavailable=${st.unavailable} noReply=${st.noReply} abandoned=${st.abandoned} errors=${st.otherErrors.length} slowest=${st.slowestMs}ms longestGap=${st.longestGapMs}ms serveAgain=${st.serveAgainMs ?? '-'}ms`,
    )
    .join('\n');
}
