/**
 * A small metrics history kept by each node for the admin dashboard: every
 * 5 s it samples its counters (messages in, deliveries out, connections)
 * into a 15-minute ring, notes new limit breaches, and announces itself in
 * the engine's node directory. Read by /api/admin/*.
 */
import type { AdminHistory, AdminOverview, AdminSource } from '../api/admin-routes.js';
import type { Engine } from '../engine/engine.js';
import type { PresenceStore } from '../engine/presence-store.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';

const INTERVAL_MS = 5000;
const WINDOW_MS = 15 * 60_000;
const MAX_BREACHES = 50;

export interface StatsDeps {
  engine: Engine;
  metrics: Metrics;
  log: Logger;
  nodeTimeoutMs: number;
  /** Rooms with local members and how many (this node's fan-out). */
  localRooms(): Iterable<string>;
  roomCount(): number;
}

async function counterTotal(c: { get(): Promise<{ values: { value: number }[] }> }): Promise<number> {
  return (await c.get()).values.reduce((sum, v) => sum + v.value, 0);
}

export class NodeStats implements AdminSource {
  private readonly startedAt = Date.now();
  private readonly samples: AdminHistory['samples'] = [];
  private readonly breaches: AdminOverview['breaches'] = [];
  private last: { ts: number; in: number; out: number; breaches: Map<string, number> } | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly deps: StatsDeps) {}

  /** Samples now and every 5 s (unref'd: it never keeps the process alive). */
  start(): void {
    void this.sample();
    this.timer = setInterval(() => void this.sample(), INTERVAL_MS);
    this.timer.unref();
  }

  /** Stops sampling and removes this node from the directory. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.deps.engine.nodes.remove(this.deps.engine.options.nodeId).catch(() => undefined);
  }

  private async sample(): Promise<void> {
    const { metrics, engine, log } = this.deps;
    try {
      const ts = Date.now();
      const [inTotal, outTotal, breachValues] = await Promise.all([
        counterTotal(metrics.messagesIn),
        counterTotal(metrics.messagesOut),
        metrics.limitBreaches.get(),
      ]);
      const byLimit = new Map<string, number>();
      for (const v of breachValues.values) byLimit.set(String(v.labels.limit), v.value);
      const connections = (await metrics.connections.get()).values[0]?.value ?? 0;
      if (this.last !== null) {
        const secs = Math.max(0.001, (ts - this.last.ts) / 1000);
        this.samples.push({
          ts,
          messagesPerSec: (inTotal - this.last.in) / secs,
          deliveriesPerSec: (outTotal - this.last.out) / secs,
          connections,
        });
        while (this.samples.length > 0 && this.samples[0]!.ts < ts - WINDOW_MS) this.samples.shift();
        for (const [limit, value] of byLimit) {
          const delta = value - (this.last.breaches.get(limit) ?? 0);
          if (delta > 0) this.breaches.push({ ts, limit, count: delta });
        }
        while (this.breaches.length > MAX_BREACHES) this.breaches.shift();
      }
      this.last = { ts, in: inTotal, out: outTotal, breaches: byLimit };
      await engine.nodes.announce({
        id: engine.options.nodeId,
        engine: engine.kind,
        connections,
        rooms: this.deps.roomCount(),
        startedAt: this.startedAt,
        seenAt: ts,
      });
    } catch (err) {
      log.debug({ err }, 'stats sample failed');
    }
  }

  history(): AdminHistory {
    return { node: this.deps.engine.options.nodeId, intervalMs: INTERVAL_MS, samples: [...this.samples] };
  }

  async overview(): Promise<AdminOverview> {
    const { engine, metrics, nodeTimeoutMs } = this.deps;
    const now = Date.now();
    const presence: PresenceStore = engine.presence;
    const [nodes, online, away, busy] = await Promise.all([
      engine.nodes.list(3600_000),
      presence.listByStatus('online', 0),
      presence.listByStatus('away', 0),
      presence.listByStatus('busy', 0),
    ]);
    const rooms = [...this.deps.localRooms()];
    const counts = await Promise.all(
      rooms.map(async (room) => ({ room, members: (await presence.roomMembers(room, 0)).count })),
    );
    counts.sort((a, b) => b.members - a.members || a.room.localeCompare(b.room));
    const listed = nodes.map((n) => ({
      ...n,
      uptimeMs: n.seenAt - n.startedAt,
      alive: now - n.seenAt <= nodeTimeoutMs,
    }));
    return {
      node: engine.options.nodeId,
      now,
      nodes: listed,
      connections: listed.filter((n) => n.alive).reduce((sum, n) => sum + n.connections, 0),
      rooms: rooms.length,
      presence: { online: online.count, away: away.count, busy: busy.count },
      busiestRooms: counts.slice(0, 10),
      breaches: [...this.breaches].reverse(),
      slowConsumerCloses: await counterTotal(metrics.slowConsumers),
    };
  }
}
