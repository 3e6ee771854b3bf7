/**
 * A real Redis Cluster for tests: 6 redis-server processes (3 masters + 3
 * replicas) on free ports, each with an explicit cluster bus port and its own
 * temp dir, node timeout 2000 ms (a failover takes about 4 s), joined with
 * `redis-cli --cluster create`. One per test file (beforeAll); stop() kills
 * every process and removes the dirs. Never port 6379.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { freePort, sleep, waitFor } from './ports.js';

const exec = promisify(execFile);

export interface ClusterNodeProcess {
  port: number;
  busPort: number;
  dir: string;
  child: ChildProcess | null;
}

export interface RedisClusterProcess {
  /** `127.0.0.1:p1,127.0.0.1:p2,…`: the value of REDIS_CLUSTER_NODES. */
  nodesSetting: string;
  /** The node environment for this cluster: `{ REDIS_CLUSTER_NODES }`. */
  env: Record<string, string>;
  /** FLUSHALL on every master (a clean keyspace between suites). */
  flush(): Promise<void>;
  /** Seed nodes for ioredis Cluster. */
  seeds: { host: string; port: number }[];
  nodes: ClusterNodeProcess[];
  /** Port of the master that owns the slot of `key` now. */
  masterOf(key: string): Promise<number>;
  /** Ports of the current masters. */
  masters(): Promise<number[]>;
  /** SIGKILL of one node (its data stays on disk: it rejoins as a replica on restart). */
  kill(port: number): Promise<void>;
  /** Starts a killed node again with its dir (nodes.conf, AOF). */
  restart(port: number): Promise<void>;
  /** Resolves when every live node reports cluster_state:ok and every slot has a master that answers. */
  waitOk(ms?: number): Promise<void>;
  /** Kills every node and removes the dirs. */
  stop(): Promise<void>;
}

async function info(port: number, section: string): Promise<string> {
  const r = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 500 });
  r.on('error', () => {});
  try {
    await r.connect();
    return await r.info(section);
  } finally {
    r.disconnect();
  }
}

async function cli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await exec('redis-cli', ['-p', String(port), ...args], { timeout: 10_000 });
  return stdout;
}

function launch(n: ClusterNodeProcess): ChildProcess {
  const child = spawn(
    'redis-server',
    [
      '--port',
      String(n.port),
      '--cluster-port',
      String(n.busPort),
      '--bind',
      '127.0.0.1',
      '--protected-mode',
      'no',
      '--cluster-enabled',
      'yes',
      '--cluster-config-file',
      'nodes.conf',
      '--cluster-node-timeout',
      '2000',
      // A shard without a primary must not stop the others (docs/redis.md).
      '--cluster-require-full-coverage',
      'no',
      '--dir',
      n.dir,
      '--save',
      '',
      '--appendonly',
      'yes',
      '--repl-diskless-sync-delay',
      '0',
      '--daemonize',
      'no',
    ],
    { stdio: 'ignore' },
  );
  child.on('error', () => {});
  n.child = child;
  return child;
}

async function answers(port: number): Promise<boolean> {
  try {
    return (await cli(port, 'PING')).includes('PONG');
  } catch {
    return false;
  }
}

/**
 * Starts 3 masters + 3 replicas and waits for cluster_state:ok.
 *
 * @example
 * const cluster = await startRedisCluster();
 * const node = await startNode({ env: { REDIS_CLUSTER_NODES: cluster.nodesSetting } });
 */
export async function startRedisCluster(): Promise<RedisClusterProcess> {
  const nodes: ClusterNodeProcess[] = [];
  const used = new Set<number>();
  const pick = async (): Promise<number> => {
    for (;;) {
      const p = await freePort();
      if (!used.has(p)) {
        used.add(p);
        return p;
      }
    }
  };
  for (let i = 0; i < 6; i++) {
    nodes.push({
      port: await pick(),
      busPort: await pick(),
      dir: mkdtempSync(join(tmpdir(), 'parley-cluster-')),
      child: null,
    });
  }
  const byPort = (port: number): ClusterNodeProcess => {
    const n = nodes.find((x) => x.port === port);
    if (!n) throw new Error(`no cluster node on port ${port}`);
    return n;
  };
  const alive = (): ClusterNodeProcess[] => nodes.filter((n) => n.child !== null && n.child.exitCode === null);

  const stop = async (): Promise<void> => {
    await Promise.all(nodes.map((n) => killNode(n)));
    for (const n of nodes) rmSync(n.dir, { recursive: true, force: true });
  };

  try {
    for (const n of nodes) launch(n);
    await Promise.all(nodes.map((n) => waitFor(() => answers(n.port), 10_000, `redis-server on ${n.port}`)));
    await exec(
      'redis-cli',
      ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '1', '--cluster-yes'],
      { timeout: 30_000 },
    );
  } catch (err) {
    await stop();
    throw err;
  }

  const masters = async (): Promise<number[]> => {
    const out: number[] = [];
    for (const n of alive()) {
      if (/role:master/.test(await info(n.port, 'replication').catch(() => ''))) out.push(n.port);
    }
    return out;
  };

  const waitOk = async (ms = 20_000): Promise<void> => {
    await waitFor(
      async () => {
        for (const n of alive()) {
          const text = await info(n.port, 'cluster').catch(() => '');
          if (text === '') return false;
          const state = await cli(n.port, 'CLUSTER', 'INFO').catch(() => '');
          if (!/cluster_state:ok/.test(state)) return false;
        }
        // Every master in the slot map must be a live process.
        const slots = await cli(alive()[0]!.port, 'CLUSTER', 'SLOTS').catch(() => '');
        const livePorts = new Set(alive().map((n) => String(n.port)));
        const lines = slots.split('\n').map((l) => l.trim());
        // redis-cli prints each slot range as: start, end, master ip, master port, id, ...
        for (let i = 0; i + 3 < lines.length; i++) {
          if (lines[i] === '127.0.0.1' && /^\d+$/.test(lines[i - 1] ?? '') && /^\d+$/.test(lines[i - 2] ?? '')) {
            if (!livePorts.has(lines[i + 1]!)) return false;
            i += 1;
          }
        }
        return (await masters()).length === 3;
      },
      ms,
      'cluster_state:ok',
    );
  };

  try {
    await waitOk(30_000);
    // Replicas attached and synced, so a failover test has a replica to promote.
    await waitFor(
      async () => {
        for (const port of await masters()) {
          const text = await info(port, 'replication');
          if (!/connected_slaves:1/.test(text) || !/state=online/.test(text)) return false;
        }
        return true;
      },
      20_000,
      'replicas online',
    );
  } catch (err) {
    await stop();
    throw err;
  }

  const nodesSetting = nodes.map((n) => `127.0.0.1:${n.port}`).join(',');
  return {
    nodesSetting,
    env: { REDIS_CLUSTER_NODES: nodesSetting },
    async flush() {
      for (const port of await masters()) await cli(port, 'FLUSHALL');
    },
    seeds: nodes.map((n) => ({ host: '127.0.0.1', port: n.port })),
    nodes,
    masters,
    async masterOf(key) {
      const slot = Number((await cli(alive()[0]!.port, 'CLUSTER', 'KEYSLOT', key)).trim());
      for (const port of await masters()) {
        const r = await cli(port, 'CLUSTER', 'COUNTKEYSINSLOT', String(slot)).catch(() => '');
        if (r === '') continue;
        // The owner answers a key lookup without redirect.
        const own = await cli(port, 'CLUSTER', 'NODES');
        const me = own.split('\n').find((l) => l.includes('myself'));
        if (me && ownsSlot(me, slot)) return port;
      }
      throw new Error(`no live master owns slot ${slot}`);
    },
    kill: (port) => killNode(byPort(port)),
    async restart(port) {
      const n = byPort(port);
      if (n.child && n.child.exitCode === null) return;
      launch(n);
      await waitFor(() => answers(n.port), 10_000, `redis-server on ${n.port}`);
    },
    waitOk,
    stop,
  };
}

/** True when a CLUSTER NODES line lists `slot` among its ranges. */
function ownsSlot(line: string, slot: number): boolean {
  for (const part of line.split(' ').slice(8)) {
    const [a, b] = part.split('-');
    const from = Number(a);
    const to = b === undefined ? from : Number(b);
    if (Number.isInteger(from) && slot >= from && slot <= to) return true;
  }
  return false;
}

async function killNode(n: ClusterNodeProcess): Promise<void> {
  const proc = n.child;
  n.child = null;
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGKILL');
  await Promise.race([exited, sleep(5000)]);
}
