/**
 * Starting Parley nodes for tests, all the same way: in-process (fast, for
 * most suites) or as a child process (for kill -9 and signal tests).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { createParley, type ParleyNode } from '../../src/server/parley.js';
import { ensureBuilt, ROOT } from './build.js';
import { connect, type TestClient } from './client.js';
import { freePort, sleep } from './ports.js';

export interface NodeOptions {
  redisUrl?: string;
  /** Extra environment (PARLEY_* settings). */
  env?: Record<string, string>;
}

export interface RunningNode {
  port: number;
  url: string;
  wsUrl: string;
  node: ParleyNode;
  /** Opens a dev-mode client as `user`. */
  client(user: string, name?: string): Promise<TestClient>;
  stop(): Promise<void>;
}

function wsUrlFor(port: number) {
  return `ws://127.0.0.1:${port}/ws`;
}

export function clientUrl(port: number, user: string, name?: string): string {
  const q = new URLSearchParams({ user });
  if (name) q.set('name', name);
  return `${wsUrlFor(port)}?${q.toString()}`;
}

/** Starts a node in this process on a free port. */
export async function startNode(opts: NodeOptions = {}): Promise<RunningNode> {
  const env: Record<string, string> = { PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', ...opts.env };
  if (opts.redisUrl) env.REDIS_URL = opts.redisUrl;
  const config = loadConfig(env);
  const node = await createParley(config, createLogger(config.logLevel, config.nodeId));
  const port = await node.start();
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    wsUrl: wsUrlFor(port),
    node,
    client: (user, name) => connect(clientUrl(port, user, name)),
    stop: () => node.stop(),
  };
}

export interface NodeProcess {
  port: number;
  url: string;
  wsUrl: string;
  child: ChildProcess;
  output: () => string;
  client(user: string, name?: string): Promise<TestClient>;
  /** SIGKILL: no cleanup at all. */
  kill(): Promise<void>;
  /** SIGTERM; resolves with the exit code. */
  terminate(): Promise<number | null>;
}

/** Starts a node as a child process from the built server (dist/, rebuilt from src/ first or fails). */
export async function spawnNode(opts: NodeOptions = {}): Promise<NodeProcess> {
  ensureBuilt();
  const port = await freePort();
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    ...opts.env,
  };
  delete env.REDIS_URL;
  if (opts.redisUrl) env.REDIS_URL = opts.redisUrl;
  const child = spawn(process.execPath, ['dist/server/main.js'], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  for (let i = 0; ; i++) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      if (res.ok) break;
    } catch {
      /* not up yet */
    }
    if (child.exitCode !== null || i > 150) throw new Error(`node did not start:\n${out}`);
    await sleep(100);
  }
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    wsUrl: wsUrlFor(port),
    child,
    output: () => out,
    client: (user, name) => connect(clientUrl(port, user, name)),
    async kill() {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
    },
    async terminate() {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}
