/**
 * What every Redis store of the engine shares: the client type it is given
 * (one Redis, a Sentinel-managed primary, or a Redis Cluster) and the
 * mapping of command failures to the engine's failure contract.
 *
 * Stores take a `RedisCommands` and never care which deployment it is;
 * scripts that publish take the publish command name (`PUBLISH` on one
 * Redis or Sentinel, `SPUBLISH` on Cluster) as an ARGV from the engine
 * (`RedisEngine.publishCommand`), never hard-coded.
 */
import type { ChainableCommander, Cluster, Redis } from 'ioredis';
import { ParleyError, unavailable } from '../../protocol/errors.js';

/** The client a Redis store receives: one Redis (plain or Sentinel) or a Cluster. */
export type RedisCommands = Redis | Cluster;

/** The command a script uses to publish on a room's channel (see RedisEngine.publishCommand). */
export type PublishCommand = 'PUBLISH' | 'SPUBLISH';

/** Errors that mean "Redis cannot serve this now", though the connection answered. */
const UNAVAILABLE_REPLY = /^(LOADING|BUSY|MASTERDOWN|READONLY|OOM|CLUSTERDOWN|TRYAGAIN|NOREPLICAS)\b/;

/**
 * Maps a failed command to the engine's failure contract: anything about
 * reaching Redis becomes UNAVAILABLE; a genuine error reply (a bug) is kept
 * and surfaces as INTERNAL at the edge.
 */
export function toEngineError(err: unknown): Error {
  if (err instanceof ParleyError) return err;
  if (err instanceof Error && err.name === 'ReplyError' && !UNAVAILABLE_REPLY.test(err.message)) return err;
  return unavailable(err);
}

/**
 * Runs a batch (one round trip per node) and returns its replies in order,
 * throwing the first error (mapped by toEngineError).
 */
export async function run(batch: ChainableCommander): Promise<unknown[]> {
  let res: [Error | null, unknown][] | null;
  try {
    res = await batch.exec();
  } catch (err) {
    throw toEngineError(err);
  }
  if (!res) throw toEngineError(new Error('pipeline aborted'));
  return res.map(([err, value]) => {
    if (err) throw toEngineError(err);
    return value;
  });
}

/** Awaits a single command, mapping failures to the engine's contract. */
export async function call<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (err) {
    throw toEngineError(err);
  }
}

/**
 * A batch of commands to run together, issued one by one at once: the
 * engine coalesces the commands of one event-loop turn into one socket write
 * per Redis node (redis-engine.ts coalesceWrites), so this is one round trip
 * in call order on one Redis and one per node on a Cluster (where a pipeline
 * may not span nodes). Not an ioredis pipeline: a Pipeline copies every
 * defined script onto itself, ~20 KB of garbage per batch, which made a
 * connect storm of 5,000 clients allocate 160 KB per connection. Run it with run().
 */
export function batch(client: RedisCommands): ChainableCommander {
  const calls: Promise<unknown>[] = [];
  const exec = async (): Promise<[Error | null, unknown][]> =>
    (await Promise.allSettled(calls)).map((r) =>
      r.status === 'fulfilled'
        ? [null, r.value]
        : [r.reason instanceof Error ? r.reason : new Error(String(r.reason)), null],
    );
  const commands = client as unknown as Record<string | symbol, unknown>;
  // Every command method of the client, chained: the same surface as a pipeline.
  const chain: ChainableCommander = new Proxy({} as ChainableCommander, {
    get(_, prop) {
      if (prop === 'exec') return exec;
      if (prop === 'then') return undefined;
      const fn = commands[prop];
      if (typeof fn !== 'function') return undefined;
      return (...args: unknown[]) => {
        const p = (fn as (...a: unknown[]) => Promise<unknown>).apply(client, args);
        p.catch(() => undefined); // reported by exec
        calls.push(p);
        return chain;
      };
    },
  });
  return chain;
}
