/**
 * A fresh Redis deployment for one bench run, on free ports (never 6379),
 * with nothing persisted: one redis-server (same settings as
 * test/support/redis.ts), or a 3-shard Redis Cluster (3 masters + 3
 * replicas, like test/support/redis-cluster.ts).
 */
import { execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, sleep, spawnTracked, killChild } from './proc.js';

/** Which Redis the Parley nodes of a bench run talk to (`--deployment`). */
export type Deployment = 'single' | 'cluster';

export interface BenchRedis {
  deployment: Deployment;
  port: number;
  /** REDIS_URL of the single Redis (on a cluster: its first node, for the peers that need one Redis). */
  url: string;
  /** The environment that points a Parley node at this deployment. */
  env: Record<string, string>;
  pid: number;
  /** Every redis-server process, grouped by shard (single: one shard of one process). */
  shards: number[][];
  /** Runs one command (inline protocol) and returns the raw reply text. */
  command(...args: string[]): Promise<string>;
  stop(): Promise<void>;
}

function rawCommand(port: number, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = createConnection({ port, host: '127.0.0.1' });
    let buf = '';
    const payload = `*${args.length}\r\n` + args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('');
    sock.setTimeout(5000);
    sock.on('connect', () => sock.write(payload));
    sock.on('data', (d) => {
      buf += d.toString();
      if (buf.endsWith('\r\n')) {
        sock.destroy();
        resolve(buf);
      }
    });
    sock.on('error', reject);
    sock.on('timeout', () => {
      sock.destroy();
      reject(new Error('redis command timed out'));
    });
  });
}

export async function startBenchRedis(): Promise<BenchRedis> {
  let port = await freePort();
  while (port === 6379) port = await freePort();
  const child: ChildProcess = spawnTracked(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no'],
    { stdio: 'ignore' },
  );
  let spawnError: Error | null = null;
  child.on('error', (e) => (spawnError = new Error(`cannot start redis-server (is it installed?): ${e.message}`)));
  for (let i = 0; ; i++) {
    if (spawnError) throw spawnError;
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
    try {
      if ((await rawCommand(port, ['PING'])).includes('PONG')) break;
    } catch {
      // not up yet
    }
    if (i > 100) throw new Error(`redis-server did not answer on port ${port}`);
    await sleep(50);
  }
  return {
    deployment: 'single',
    port,
    url: `redis://127.0.0.1:${port}`,
    env: { REDIS_URL: `redis://127.0.0.1:${port}` },
    pid: child.pid as number,
    shards: [[child.pid as number]],
    command: (...args) => rawCommand(port, args),
    stop: () => killChild(child),
  };
}

const exec = promisify(execFile);

async function waitPong(port: number, child: ChildProcess): Promise<void> {
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
    try {
      if ((await rawCommand(port, ['PING'])).includes('PONG')) return;
    } catch {
      // not up yet
    }
    if (i > 100) throw new Error(`redis-server did not answer on port ${port}`);
    await sleep(50);
  }
}

/** 3 masters + 3 replicas, cluster node timeout 2000, each node in its own temp dir. */
export async function startBenchCluster(): Promise<BenchRedis> {
  const used = new Set<number>([6379]);
  const pick = async (): Promise<number> => {
    for (;;) {
      const p = await freePort();
      if (!used.has(p)) {
        used.add(p);
        return p;
      }
    }
  };
  const nodes: Array<{ port: number; child: ChildProcess; dir: string }> = [];
  const stop = async (): Promise<void> => {
    await Promise.all(nodes.map((n) => killChild(n.child)));
    for (const n of nodes) rmSync(n.dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < 6; i++) {
      const port = await pick();
      const busPort = await pick();
      const dir = mkdtempSync(join(tmpdir(), 'parley-bench-cluster-'));
      const child = spawnTracked(
        'redis-server',
        [
          ...['--port', String(port), '--cluster-port', String(busPort), '--bind', '127.0.0.1'],
          ...['--protected-mode', 'no', '--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf'],
          ...['--cluster-node-timeout', '2000', '--cluster-require-full-coverage', 'no'],
          ...['--dir', dir, '--save', '', '--appendonly', 'no'],
        ],
        { stdio: 'ignore' },
      );
      nodes.push({ port, child, dir });
    }
    await Promise.all(nodes.map((n) => waitPong(n.port, n.child)));
    await exec(
      'redis-cli',
      ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '1', '--cluster-yes'],
      { timeout: 30_000 },
    );
    // Every node ok and every master with its replica online.
    for (let i = 0; ; i++) {
      const infos = await Promise.all(nodes.map((n) => rawCommand(n.port, ['CLUSTER', 'INFO']).catch(() => '')));
      const repl = await Promise.all(nodes.map((n) => rawCommand(n.port, ['INFO', 'replication']).catch(() => '')));
      const masters = repl.filter((r) => r.includes('role:master'));
      if (
        infos.every((t) => t.includes('cluster_state:ok')) &&
        masters.length === 3 &&
        masters.every((r) => r.includes('connected_slaves:1') && r.includes('state=online'))
      ) {
        break;
      }
      if (i > 300) throw new Error('the bench cluster did not become ok');
      await sleep(100);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  // Shards: each master with its replica (from the master's INFO replication).
  const shards: number[][] = [];
  const masters: number[] = [];
  for (const n of nodes) {
    const repl = await rawCommand(n.port, ['INFO', 'replication']);
    if (!repl.includes('role:master')) continue;
    masters.push(n.port);
    const replicaPort = Number(/slave0:ip=[^,]+,port=(\d+)/.exec(repl)?.[1]);
    const replica = nodes.find((x) => x.port === replicaPort);
    shards.push([n.child.pid as number, ...(replica ? [replica.child.pid as number] : [])]);
  }
  const seeds = nodes.map((n) => `127.0.0.1:${n.port}`).join(',');
  return {
    deployment: 'cluster',
    port: nodes[0]!.port,
    url: `redis://127.0.0.1:${nodes[0]!.port}`,
    env: { REDIS_CLUSTER_NODES: seeds },
    pid: nodes[0]!.child.pid as number,
    shards,
    // FLUSHALL and the like go to every master.
    command: async (...args) => (await Promise.all(masters.map((port) => rawCommand(port, args)))).join(''),
    stop,
  };
}

/** Starts the deployment the bench was asked for. */
export function startDeployment(deployment: Deployment): Promise<BenchRedis> {
  return deployment === 'cluster' ? startBenchCluster() : startBenchRedis();
}
