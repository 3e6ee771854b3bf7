/** Node death (Parley only): kill -9 of a node, until its users are offline on the other. */
import { nextPrefix, type BenchContext } from '../lib/context.js';
import type { LoadGen } from '../lib/generator.js';
import { startCluster, type ServerNode } from '../lib/nodes.js';
import type { BenchRedis } from '../lib/redis.js';
import type { KillResult } from '../lib/types.js';

/** Two Parley nodes; the first is SIGKILLed once its users have joined. */
export async function killRun(redis: BenchRedis, loadgen: LoadGen): Promise<KillResult> {
  await redis.command('FLUSHALL');
  const nodes = await startCluster('parley', 2, redis.env);
  try {
    const a = nodes[0] as ServerNode;
    const b = nodes[1] as ServerNode;
    return await loadgen.run<KillResult>(
      { task: 'kill', ports: [a.port, b.port], users: 50, timeoutMs: 40_000, prefix: nextPrefix('k') },
      {
        ready: () => {
          const at = Date.now();
          void a.kill().then(() => loadgen.command({ cmd: 'killed', at }));
        },
      },
      120_000,
    );
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
  }
}

/** Runs the kill scenario and prints its line. */
export async function runKill(ctx: BenchContext): Promise<void> {
  const { redis, loadgen, result, failures, log } = ctx;
  log('presence: kill -9 of a node, until its users are offline on the other');
  try {
    const r = await killRun(redis, loadgen);
    result.kill = r;
    console.log(
      `\nNode death: kill -9 -> first user offline on the other node after ${r.firstOfflineMs ?? 'never'} ms, all ${r.users} after ${r.allOfflineMs ?? `never (${r.seen} seen)`} ms`,
    );
    if (r.setupErrors.length) console.log(`  setup errors: ${r.setupErrors.join('; ')}`);
  } catch (e) {
    failures.push((e as Error).message);
    log(`  FAILED: ${(e as Error).message}`);
  }
}
