/** Server nodes under test: how each system is started, probed and stopped. */
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isParley, type SystemKind } from './clients.js';
import { freePort, spawnTracked, stopChild, killChild, waitHttpOk, treeCpu } from './proc.js';

/** dist/bench (where the compiled bench runs from). */
export const BENCH_DIST = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const REPO_ROOT = resolve(BENCH_DIST, '..', '..');

export interface SystemDef {
  kind: SystemKind;
  label: string;
  script: string;
  /** Node flags the system ships with (Parley: those of `npm start`). */
  nodeArgs?: string[];
  env: Record<string, string>;
}

export const SYSTEMS: Record<SystemKind, SystemDef> = {
  parley: {
    kind: 'parley',
    label: 'Parley',
    // BENCH_PARLEY_MAIN: another build's main.js (e.g. a patched copy of dist/) to measure against the same peers.
    script: process.env.BENCH_PARLEY_MAIN ?? resolve(REPO_ROOT, 'dist/server/main.js'),
    // As `npm start` runs it (package.json): GC on the main thread keeps idle RSS near the live heap.
    nodeArgs: ['--single-threaded-gc'],
    env: {
      LOG_LEVEL: 'warn',
      // 2,000 bench connections come from one IP; the per-IP cap (1,000 per node) would refuse them.
      PARLEY_MAX_CONNECTIONS_PER_IP: '100000',
    },
  },
  parleysio: {
    kind: 'parleysio',
    label: 'Parley via socket.io-client',
    script: process.env.BENCH_PARLEY_MAIN ?? resolve(REPO_ROOT, 'dist/server/main.js'),
    nodeArgs: ['--single-threaded-gc'],
    env: { LOG_LEVEL: 'warn', PARLEY_MAX_CONNECTIONS_PER_IP: '100000' },
  },
  socketio: { kind: 'socketio', label: 'Socket.IO', script: resolve(BENCH_DIST, 'peers/socketio.js'), env: {} },
  relay: { kind: 'relay', label: 'relay', script: resolve(BENCH_DIST, 'peers/relay.js'), env: {} },
};

export function systemAvailable(kind: SystemKind): boolean {
  return existsSync(SYSTEMS[kind].script);
}

interface ProbeReply {
  probe: number;
  data: unknown;
}

export interface MemoryUsage {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
}

export class ServerNode {
  private nextProbe = 1;
  private readonly waiting = new Map<number, (d: unknown) => void>();
  private logTail = '';

  constructor(
    readonly kind: SystemKind,
    readonly port: number,
    readonly child: ChildProcess,
  ) {
    child.on('message', (m: unknown) => {
      const r = m as ProbeReply;
      const cb = this.waiting.get(r.probe);
      if (cb) {
        this.waiting.delete(r.probe);
        cb(r.data);
      }
    });
    const keep = (d: Buffer): void => {
      this.logTail = (this.logTail + d.toString()).slice(-4000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
  }

  get pid(): number {
    return this.child.pid as number;
  }

  get log(): string {
    return this.logTail;
  }

  cpuSeconds(): number {
    return treeCpu(this.pid).cpu;
  }

  /** Kernel (stime) seconds of the node's process tree. */
  sysSeconds(): number {
    return treeCpu(this.pid).sys;
  }

  probe(cmd: string, extra: Record<string, unknown> = {}, timeoutMs = 10_000): Promise<unknown> {
    const id = this.nextProbe++;
    return new Promise((resolvePromise, reject) => {
      const t = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`probe ${cmd} timed out on ${this.kind}:${this.port}`));
      }, timeoutMs);
      this.waiting.set(id, (d) => {
        clearTimeout(t);
        resolvePromise(d);
      });
      this.child.send({ probe: id, cmd, ...extra });
    });
  }

  async memory(): Promise<MemoryUsage> {
    return (await this.probe('mem')) as MemoryUsage;
  }

  stop(): Promise<void> {
    return stopChild(this.child, 3000);
  }

  kill(): Promise<void> {
    return killChild(this.child);
  }
}

/**
 * Starts one server node. `redis` is a REDIS_URL, or the environment of a
 * Redis deployment (e.g. `{ REDIS_CLUSTER_NODES }`, Parley only).
 */
export async function startNode(
  kind: SystemKind,
  redis: string | Record<string, string>,
  extraEnv: Record<string, string> = {},
): Promise<ServerNode> {
  const redisEnv = typeof redis === 'string' ? { REDIS_URL: redis } : redis;
  const def = SYSTEMS[kind];
  const port = await freePort();
  const probeUrl = pathToFileURL(resolve(BENCH_DIST, 'probe.js')).href;
  // BENCH_SERVER_NODE_OPTIONS: extra node flags for every server node (e.g. "--perf-basic-prof" for perf).
  const extra = (process.env.BENCH_SERVER_NODE_OPTIONS ?? '').split(' ').filter(Boolean);
  const child = spawnTracked(
    process.execPath,
    [...(def.nodeArgs ?? []), ...extra, '--expose-gc', '--import', probeUrl, def.script],
    {
      cwd: REPO_ROOT,
      env: {
        ...withoutRedis(process.env),
        ...def.env,
        ...extraEnv,
        PORT: String(port),
        HOST: '127.0.0.1',
        ...redisEnv,
      },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    },
  );
  const node = new ServerNode(kind, port, child);
  try {
    await waitHttpOk(`http://127.0.0.1:${port}/${isParley(kind) ? 'readyz' : 'healthz'}`, 20_000, child);
  } catch (e) {
    await node.kill();
    throw new Error(`${def.label} node did not start: ${(e as Error).message}\n${node.log}`, { cause: e });
  }
  return node;
}

/** The environment without any Redis deployment setting (the bench sets exactly one). */
function withoutRedis(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out = { ...env };
  delete out.REDIS_URL;
  delete out.REDIS_CLUSTER_NODES;
  delete out.REDIS_SENTINELS;
  return out;
}

export async function startCluster(
  kind: SystemKind,
  count: number,
  redisUrl: string | Record<string, string>,
  extraEnv: Record<string, string> = {},
): Promise<ServerNode[]> {
  const nodes: ServerNode[] = [];
  try {
    for (let i = 0; i < count; i++) nodes.push(await startNode(kind, redisUrl, extraEnv));
  } catch (e) {
    await Promise.all(nodes.map((n) => n.kill()));
    throw e;
  }
  return nodes;
}
