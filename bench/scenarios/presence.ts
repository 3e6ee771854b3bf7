/** Presence (Parley only): status changes on one node, watchers on both. */
import { resolve } from 'node:path';
import { nextPrefix, type BenchContext } from '../lib/context.js';
import type { LoadGen } from '../lib/generator.js';
import { startCluster, type ServerNode } from '../lib/nodes.js';
import { treeCpuSeconds } from '../lib/proc.js';
import type { BenchRedis } from '../lib/redis.js';
import { fmt } from '../lib/report.js';
import type { PresenceResult } from '../lib/types.js';

/** The presence task's result with the CPU it cost. */
export interface PresenceRun extends PresenceResult {
  /** CPU seconds of the changers' node and of redis-server while the status changes ran. */
  nodeACpuSec: number;
  nodeBCpuSec: number;
  redisCpuSec: number;
  /** Node A CPU per acknowledged status change, µs. */
  nodeAUsPerChange: number;
}

/** Two Parley nodes on the flushed Redis; the presence task against them. */
export async function presenceRun(
  redis: BenchRedis,
  loadgen: LoadGen,
  profileDir: string | null,
): Promise<PresenceRun> {
  await redis.command('FLUSHALL');
  const nodes = await startCluster('parley', 2, redis.env);
  try {
    const a = nodes[0] as ServerNode;
    const b = nodes[1] as ServerNode;
    let c0 = [0, 0, 0];
    let c1 = [0, 0, 0];
    const sample = (): number[] => [a.cpuSeconds(), b.cpuSeconds(), treeCpuSeconds(redis.pid)];
    const profiling: Promise<unknown>[] = [];
    const r = await loadgen.run<PresenceResult>(
      {
        task: 'presence',
        ports: [a.port, b.port],
        changers: 100,
        inflight: 4,
        durationMs: 5000,
        prefix: nextPrefix('p'),
      },
      {
        'measure-start': () => {
          c0 = sample();
          if (profileDir) profiling.push(a.probe('prof-start'));
        },
        'measure-end': () => {
          c1 = sample();
          if (profileDir) {
            profiling.push(
              a.probe('prof-stop', { path: resolve(profileDir, 'parley-presence-nodeA.cpuprofile') }, 30_000),
            );
          }
        },
      },
    );
    await Promise.all(profiling);
    const d = c1.map((v, i) => v - (c0[i] as number));
    return {
      ...r,
      nodeACpuSec: d[0] as number,
      nodeBCpuSec: d[1] as number,
      redisCpuSec: d[2] as number,
      nodeAUsPerChange: ((d[0] as number) * 1e6) / Math.max(1, r.acked),
    };
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
  }
}

/** Runs the presence scenario and prints its line. */
export async function runPresence(ctx: BenchContext): Promise<void> {
  const { redis, loadgen, result, failures, log, profileDir } = ctx;
  log('presence: status changes on one node, watchers on both');
  try {
    const r = await presenceRun(redis, loadgen, profileDir);
    result.presence = r;
    console.log(
      `\nPresence: ${fmt(r.ackedPerSec)} status changes/s acked on one node (${r.changers} users, ${fmt(r.durationMs / 1000)} s; ` +
        `node CPU ${fmt(r.nodeACpuSec)} s = ${fmt(r.nodeAUsPerChange)} µs per change, other node ${fmt(r.nodeBCpuSec)} s, redis ${fmt(r.redisCpuSec)} s); ` +
        `errors ${JSON.stringify(r.errors)}; watcher same node saw ${r.watcherSameNode}, other node ${r.watcherOtherNode} of ${r.acked}; ` +
        `other-node delay p50 ${fmt(r.otherNodeLatencyMs.p50)} / p99 ${fmt(r.otherNodeLatencyMs.p99)} ms; ack p99 ${fmt(r.ackMs.p99)} ms`,
    );
    if (r.setupErrors.length) console.log(`  setup errors: ${r.setupErrors.join('; ')}`);
  } catch (e) {
    failures.push((e as Error).message);
    log(`  FAILED: ${(e as Error).message}`);
  }
}
