/**
 * `npm run bench`: Parley against Socket.IO + redis-adapter and a bare ws +
 * Redis pub/sub relay, side by side on one fresh redis-server, driven by one
 * load generator in its own process; `--deployment cluster` runs Parley on a
 * 3-shard Redis Cluster instead (Redis CPU = every redis-server, plus the
 * busiest shard's share). See docs/performance.md.
 *
 * This file only orchestrates: options in lib/options.ts, each part in
 * scenarios/<part>.ts, table printing in lib/report.ts.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { resolve } from 'node:path';
import type { BenchContext } from './lib/context.js';
import { LoadGen } from './lib/generator.js';
import { REPO_ROOT, SYSTEMS, systemAvailable } from './lib/nodes.js';
import { parseArgs } from './lib/options.js';
import { startDeployment } from './lib/redis.js';
import { runHistory } from './scenarios/history.js';
import { runIdle } from './scenarios/idle.js';
import { runKill } from './scenarios/kill.js';
import { runMain, runProfile } from './scenarios/main.js';
import { runPresence } from './scenarios/presence.js';
import { runSoak } from './scenarios/soak.js';
import { runSweep } from './scenarios/sweep.js';

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const wants = (part: string, flag: boolean): boolean => (o.only.size > 0 ? o.only.has(part) : flag);
  const started = new Date();
  const t0 = performance.now();
  const systems = o.systems.filter((k) => {
    if (systemAvailable(k)) return true;
    const msg = `${SYSTEMS[k].label}: ${SYSTEMS[k].script} not found (run npm run build first)`;
    if (o.quick) throw new Error(msg);
    console.warn(`SKIPPED ${msg}`);
    return false;
  });
  const outDir = resolve(REPO_ROOT, 'bench/results');
  mkdirSync(outDir, { recursive: true });
  const stamp = started.toISOString().replace(/[:.]/g, '-');
  const log = (s: string): void => console.log(`[${((performance.now() - t0) / 1000).toFixed(1)}s] ${s}`);

  if (o.deployment === 'cluster' && systems.some((k) => k !== 'parley')) {
    console.warn('--deployment cluster: only Parley runs on a Redis Cluster; the peers are left out');
    systems.splice(0, systems.length, ...systems.filter((k) => k === 'parley'));
  }
  const redis = await startDeployment(o.deployment);
  const loadgen = new LoadGen();
  log(
    `${o.deployment === 'cluster' ? `redis cluster (3 shards) seeded at` : 'redis-server on'} :${redis.port}` +
      `${o.ackReplicas > 0 ? `, PARLEY_ACK_REPLICAS=${o.ackReplicas}` : ''}; load generator pid ${loadgen.pid}; ${cpus().length} cores, load avg ${loadavg()
        .map((x) => x.toFixed(2))
        .join(' ')}`,
  );

  const result: Record<string, unknown> = {
    startedAt: started.toISOString(),
    machine: { cores: cpus().length, cpu: cpus()[0]?.model, node: process.version, loadavgAtStart: loadavg() },
    options: { ...o, only: [...o.only] },
  };
  const failures: string[] = [];
  const profileDir = o.profile ? resolve(outDir, 'profiles', stamp) : null;
  const ctx: BenchContext = { o, systems, redis, loadgen, result, failures, log, profileDir };
  try {
    if (wants('main', true)) await runMain(ctx);
    if (profileDir) await runProfile(ctx, profileDir);
    if (wants('bigrooms', o.bigRooms)) {
      const rooms = Math.max(1, Math.round(o.connections / o.bigRoomSize));
      await runMain({ ...ctx, o: { ...o, rooms } }, 'bigRooms');
    }
    if (wants('sweep', o.sweep)) await runSweep(ctx);
    if (wants('sweepsmall', o.sweepSmall)) {
      const size = Math.max(1, Math.round(o.connections / o.rooms));
      const connections = o.sweepSmallConnections;
      await runSweep(
        { ...ctx, o: { ...o, connections, rooms: Math.max(1, Math.round(connections / size)) } },
        'sweepSmall',
      );
    }
    if (wants('idle', o.idle)) await runIdle(ctx);
    if (systems.includes('parley')) {
      if (wants('presence', o.presence)) await runPresence(ctx);
      if (wants('kill', o.kill)) await runKill(ctx);
      if (wants('history', o.history)) await runHistory(ctx);
      // The soak runs only when asked for (--only soak, npm run bench:soak): it takes --soak-minutes.
      if (o.only.has('soak')) await runSoak(ctx);
    }
  } finally {
    await loadgen.stop();
    await redis.stop();
  }

  result.failures = failures;
  result.elapsedSec = (performance.now() - t0) / 1000;
  const out = o.out ? resolve(o.out) : resolve(outDir, `bench-${stamp}${o.quick ? '-quick' : ''}.json`);
  writeFileSync(out, JSON.stringify(result, null, 2));
  log(`results: ${out}`);
  if (failures.length > 0) {
    console.error(`\nBENCH FAILED:\n- ${failures.join('\n- ')}`);
    process.exit(1);
  }
  if (o.quick)
    console.log(
      `bench quick: all ${systems.length} systems ran and delivered every message (no loss, no duplicates, one order per room)`,
    );
}

main().catch((e: unknown) => {
  console.error((e as Error).stack ?? String(e));
  process.exit(1);
});
