/**
 * Prometheus metrics (prom-client). One registry per server instance so that
 * several nodes in one test process do not share counters.
 *
 * Storage latency is measured at the engine seam, not inside an engine:
 * `instrumentEngine()` wraps any Engine (memory or Redis) and times every
 * storage call (`parley_engine_command_seconds{engine,op}`). With the Redis
 * engine that is the Redis round trip of the command or script behind each
 * call, as the features see it (auto-pipelining included).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Engine } from './engine/engine.js';
import { ParleyError } from './protocol/errors.js';
import type { StateSizesSource } from './state-sizes.js';

/** The bus counters an engine with a pub/sub bus keeps (the Redis engine's `busStats`). */
export interface BusCounters {
  resyncs: number;
  filled: number;
  dropped: number;
  listenerErrors: number;
}

/** True when `x` carries bus counters (structural check: the metrics do not import an engine). */
export function isBusCounters(x: unknown): x is BusCounters {
  if (typeof x !== 'object' || x === null) return false;
  const o = x as Record<string, unknown>;
  return ['resyncs', 'filled', 'dropped', 'listenerErrors'].every((k) => typeof o[k] === 'number');
}

/** Kinds of `parley_limit_breaches_total` created at zero so dashboards see them before the first breach. */
export const LIMIT_KINDS = [
  'frame_size',
  'binary_frame',
  'text_length',
  'send_rate',
  'command_rate',
  'typing_rate',
  'rooms_per_connection',
  'slow_consumer',
  'connections_per_ip',
  'connections_per_user',
  'pending_upgrades',
  'handshake_timeout',
  'origin',
  'auth',
  'http_body_size',
  'slow_mode',
] as const;

/** Lifecycle-store calls that are timed (as `op="lifecycle.<method>"`). */
const LIFECYCLE_OPS = new Set(['change', 'get', 'deletedAfter']);

/** Membership-store calls that are timed (not the engine-internal directory writes of every append). */
const MEMBERSHIP_OPS = new Set(['join', 'addMembers', 'forget', 'read', 'rooms', 'directory']);

/** Engine calls that are timed (the storage and bus operations the features make). */
const ENGINE_OPS = new Set([
  'append',
  'history',
  'since',
  'lastMessageId',
  'subscribe',
  'unsubscribe',
  'publish',
  'publishControl',
  'ready',
]);

/** Presence-store methods that are not storage calls. */
const PRESENCE_SKIP = new Set(['start', 'stop', 'constructor']);

export class Metrics {
  readonly registry = new Registry();
  readonly connections = new Gauge({
    name: 'parley_connections',
    help: 'Open WebSocket connections',
    registers: [this.registry],
  });
  readonly connectionsTotal = new Counter({
    name: 'parley_connections_total',
    help: 'WebSocket connections accepted',
    registers: [this.registry],
  });
  readonly joins = new Counter({ name: 'parley_joins_total', help: 'Room joins', registers: [this.registry] });
  readonly messagesIn = new Counter({
    name: 'parley_messages_in_total',
    help: 'Messages stored from this node (WebSocket send and HTTP publish; duplicates not counted)',
    registers: [this.registry],
  });
  readonly messagesOut = new Counter({
    name: 'parley_messages_out_total',
    help: 'Message events written to local connections',
    registers: [this.registry],
  });
  readonly fanoutSeconds = new Histogram({
    name: 'parley_fanout_seconds',
    help: 'Time to write one bus event to all local members of a room',
    buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05],
    registers: [this.registry],
  });
  readonly fanoutErrors = new Counter({
    name: 'parley_fanout_member_errors_total',
    help: 'Deliveries to one local member that threw (that member is closed with 1011; the others still get the event)',
    registers: [this.registry],
  });
  readonly presenceEvents = new Counter({
    name: 'parley_presence_events_total',
    help: 'Presence events published',
    labelNames: ['event'] as const,
    registers: [this.registry],
  });
  readonly limitBreaches = new Counter({
    name: 'parley_limit_breaches_total',
    help: 'Requests refused or connections closed by a limit',
    labelNames: ['limit'] as const,
    registers: [this.registry],
  });
  readonly slowConsumers = new Counter({
    name: 'parley_slow_consumer_closes_total',
    help: 'Connections closed with 4008',
    registers: [this.registry],
  });
  readonly commandErrors = new Counter({
    name: 'parley_command_errors_total',
    help: 'Commands answered with an error',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });
  readonly engineSeconds = new Histogram({
    name: 'parley_engine_command_seconds',
    help: 'Latency of storage calls through the engine seam (Redis round trips when engine="redis")',
    labelNames: ['engine', 'op'] as const,
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 2.5],
    registers: [this.registry],
  });
  readonly engineErrors = new Counter({
    name: 'parley_engine_command_errors_total',
    help: 'Storage calls that failed, by error code (UNAVAILABLE: storage unreachable)',
    labelNames: ['engine', 'op', 'code'] as const,
    registers: [this.registry],
  });
  readonly httpRequests = new Counter({
    name: 'parley_http_requests_total',
    help: 'HTTP requests answered, by route and status',
    labelNames: ['route', 'status'] as const,
    registers: [this.registry],
  });
  readonly shutdownClosed = new Counter({
    name: 'parley_shutdown_closes_total',
    help: 'Connections closed with 1001 by a graceful shutdown',
    registers: [this.registry],
  });
  readonly webhookDeliveries = new Counter({
    name: 'parley_webhook_deliveries_total',
    help: 'Webhook delivery attempts by outcome (success, http_error, timeout, network_error, dropped: given up after PARLEY_WEBHOOK_RETRY_FOR_MS)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly info = new Gauge({
    name: 'parley_node_info',
    help: 'Always 1; labels say which node, engine and Redis deployment (redis_mode: memory, single, sentinel, cluster) this is',
    labelNames: ['node', 'engine', 'redis_mode'] as const,
    registers: [this.registry],
  });

  /** Owners whose state sizes `parley_state_entries` reads at scrape time. */
  private readonly stateSources: StateSizesSource[] = [];
  readonly stateEntries = new Gauge({
    name: 'parley_state_entries',
    help: 'Entries in an in-memory per-room or per-connection structure of this node, read at scrape time (map="<owner>.<name>")',
    labelNames: ['map'] as const,
    registers: [this.registry],
    collect: () => this.collectStateSizes(),
  });

  /**
   * @param collectProcess also export prom-client's process metrics (CPU, memory, event-loop lag, handles).
   *
   * @example
   * const metrics = new Metrics();
   * metrics.joins.inc();
   * const text = await metrics.registry.metrics(); // Prometheus text format
   */
  constructor(collectProcess = true) {
    if (collectProcess) collectDefaultMetrics({ register: this.registry });
    for (const limit of LIMIT_KINDS) this.limitBreaches.inc({ limit }, 0);
    for (const event of ['join', 'leave', 'update'] as const) this.presenceEvents.inc({ event }, 0);
  }

  /**
   * Exports the Redis bus counters (`parley_bus_*_total`), read at scrape
   * time; zero on an engine without a bus (memory).
   *
   * @example
   * metrics.busCounters(() => redisEngine.busStats);
   */
  busCounters(read: () => BusCounters | null): void {
    const series: Array<[keyof BusCounters, string, string]> = [
      ['resyncs', 'parley_bus_resyncs_total', 'Bus resubscriptions after a Redis reconnect'],
      ['filled', 'parley_bus_gap_filled_total', 'Messages delivered from the stream by a gap fill after a reconnect'],
      ['dropped', 'parley_bus_dropped_total', 'Live message events dropped as already delivered (by a gap fill)'],
      ['listenerErrors', 'parley_bus_listener_errors_total', 'Exceptions thrown by bus listeners (caught)'],
    ];
    for (const [field, name, help] of series) {
      new Counter({
        name,
        help,
        registers: [this.registry],
        collect() {
          this.reset();
          this.inc(read()?.[field] ?? 0);
        },
      });
    }
  }

  /**
   * Exports `source.stateSizes()` as `parley_state_entries{map}` on every
   * scrape (each name is a `map` label value).
   *
   * @example
   * metrics.stateSizes(fanout); // parley_state_entries{map="fanout.rooms"} 3
   */
  stateSizes(source: StateSizesSource): void {
    this.stateSources.push(source);
  }

  private collectStateSizes(): void {
    this.stateEntries.reset();
    for (const source of this.stateSources) {
      for (const [map, n] of Object.entries(source.stateSizes())) this.stateEntries.set({ map }, n);
    }
  }

  /**
   * Adds a gauge whose value is read at scrape time.
   *
   * @example
   * metrics.gaugeFn('parley_rooms_local', 'Rooms this node is subscribed to', () => fanout.roomCount);
   */
  gaugeFn(name: string, help: string, read: () => number): void {
    new Gauge({
      name,
      help,
      registers: [this.registry],
      collect() {
        this.set(read());
      },
    });
  }
}

function errorCode(err: unknown): string {
  return err instanceof ParleyError ? err.code : 'INTERNAL';
}

/**
 * Wraps the methods named by `pick` of `target` with a timer. The wrapper is
 * an object whose prototype is `target`, with every method as an own
 * property bound to `target` (timed ones wrapped): fields are ordinary
 * prototype lookups (a Proxy trap on every property read cost ~1 µs per
 * message on the hot path). Getters are not wrapped: engines expose none
 * that features use.
 */
function timed<T extends object>(
  target: T,
  engineKind: string,
  prefix: string,
  pick: (name: string) => boolean,
  metrics: Metrics,
  own: Record<string, unknown> = {},
): T {
  const wrapper = Object.create(target) as Record<string, unknown>;
  const names = new Set<string>();
  for (let proto: object | null = target; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    for (const name of Object.getOwnPropertyNames(proto)) names.add(name);
  }
  for (const name of names) {
    if (name === 'constructor') continue;
    const fn: unknown = (target as Record<string, unknown>)[name];
    if (typeof fn !== 'function') continue;
    if (!pick(name)) {
      // Untimed methods still run on the target, so writes to `this` land there.
      wrapper[name] = (fn as (...a: unknown[]) => unknown).bind(target);
      continue;
    }
    const op = prefix + name;
    const hist = metrics.engineSeconds.labels({ engine: engineKind, op });
    const failed = (err: unknown): void => {
      metrics.engineErrors.inc({ engine: engineKind, op, code: errorCode(err) });
    };
    wrapper[name] = function (...args: unknown[]): unknown {
      const end = hist.startTimer();
      let result: unknown;
      try {
        result = (fn as (...a: unknown[]) => unknown).apply(target, args);
      } catch (err) {
        end();
        failed(err);
        throw err;
      }
      if (result instanceof Promise) {
        return result.then(
          (v: unknown) => {
            end();
            return v;
          },
          (err: unknown) => {
            end();
            failed(err);
            throw err;
          },
        );
      }
      end();
      return result;
    };
  }
  for (const [key, value] of Object.entries(own)) wrapper[key] = value;
  return wrapper as T;
}

/**
 * Returns the engine with every storage call timed into
 * `parley_engine_command_seconds{engine,op}` (presence-store calls as
 * `op="presence.<method>"`, membership-store calls as `op="memberships.<method>"`) and failures counted in
 * `parley_engine_command_errors_total`. Behaviour is unchanged: same
 * results, same errors, same `this`.
 *
 * @example
 * const engine = instrumentEngine(new MemoryEngine({ nodeId: 'n1' }), metrics);
 * await engine.append({ room: 'lobby', from: 'ann', text: 'hi' }); // observed as op="append"
 */
export function instrumentEngine<E extends Engine>(engine: E, metrics: Metrics): E {
  const presence = timed(engine.presence, engine.kind, 'presence.', (name) => !PRESENCE_SKIP.has(name), metrics);
  const lifecycle = timed(engine.lifecycle, engine.kind, 'lifecycle.', (name) => LIFECYCLE_OPS.has(name), metrics);
  const memberships = timed(engine.memberships, engine.kind, 'memberships.', (n) => MEMBERSHIP_OPS.has(n), metrics);
  return timed(engine, engine.kind, '', (name) => ENGINE_OPS.has(name), metrics, { presence, lifecycle, memberships });
}
