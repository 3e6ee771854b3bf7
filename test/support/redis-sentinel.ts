/**
 * A real Sentinel deployment for tests: one primary, one replica and three
 * sentinels (quorum 2, down-after 2000 ms, failover-timeout 5000 ms) on free
 * ports in temp dirs. One per test file (beforeAll); stop() kills every
 * process and removes the dirs. Never port 6379.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, sleep, waitFor } from './ports.js';

const exec = promisify(execFile);

export const SENTINEL_NAME = 'parleytest';

interface Proc {
  port: number;
  dir: string;
  args: string[];
  child: ChildProcess | null;
}

export interface RedisSentinelProcess {
  /** `127.0.0.1:p1,…`: the value of REDIS_SENTINELS. */
  sentinelsSetting: string;
  sentinels: { host: string; port: number }[];
  name: string;
  /** The node environment for this deployment: `{ REDIS_SENTINELS, REDIS_SENTINEL_NAME }`. */
  env: Record<string, string>;
  /** Port of the primary the sentinels name now. */
  primary(): Promise<number>;
  /** Ports of the two data nodes (primary and replica). */
  dataPorts: number[];
  /** SIGKILL of a data node. */
  kill(port: number): Promise<void>;
  /** Starts a killed data node again (as a replica of the current primary). */
  restart(port: number): Promise<void>;
  /** Resolves when the sentinels name a live primary other than `not` (if given) and it answers as master. */
  waitPrimary(not?: number, ms?: number): Promise<number>;
  stop(): Promise<void>;
}

async function cli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await exec('redis-cli', ['-p', String(port), ...args], { timeout: 5000 });
  return stdout;
}

function start(p: Proc): void {
  const child = spawn('redis-server', p.args, { stdio: 'ignore' });
  child.on('error', () => {});
  p.child = child;
}

async function answers(port: number): Promise<boolean> {
  try {
    return (await cli(port, 'PING')).includes('PONG');
  } catch {
    return false;
  }
}

async function killProc(p: Proc): Promise<void> {
  const proc = p.child;
  p.child = null;
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGKILL');
  await Promise.race([exited, sleep(5000)]);
}

/**
 * Starts the primary, its replica and three sentinels; resolves when the
 * replica is in sync and every sentinel knows both.
 *
 * @example
 * const s = await startRedisSentinel();
 * const node = await startNode({ env: { REDIS_SENTINELS: s.sentinelsSetting, REDIS_SENTINEL_NAME: s.name } });
 */
export async function startRedisSentinel(): Promise<RedisSentinelProcess> {
  const ports = new Set<number>();
  const pick = async (): Promise<number> => {
    for (;;) {
      const p = await freePort();
      if (!ports.has(p)) {
        ports.add(p);
        return p;
      }
    }
  };
  const dataArgs = (port: number, dir: string, replicaOf?: number): string[] => [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--protected-mode',
    'no',
    '--dir',
    dir,
    '--save',
    '',
    '--appendonly',
    'no',
    '--repl-diskless-sync',
    'yes',
    '--repl-diskless-sync-delay',
    '0',
    ...(replicaOf === undefined ? [] : ['--replicaof', '127.0.0.1', String(replicaOf)]),
  ];
  const primaryPort = await pick();
  const replicaPort = await pick();
  const data: Proc[] = [];
  for (const [port, of] of [
    [primaryPort, undefined],
    [replicaPort, primaryPort],
  ] as const) {
    const dir = mkdtempSync(join(tmpdir(), 'parley-sentinel-data-'));
    data.push({ port, dir, args: dataArgs(port, dir, of), child: null });
  }
  const sentinels: Proc[] = [];
  for (let i = 0; i < 3; i++) {
    const port = await pick();
    const dir = mkdtempSync(join(tmpdir(), 'parley-sentinel-'));
    const conf = join(dir, 'sentinel.conf');
    writeFileSync(
      conf,
      [
        `port ${port}`,
        'bind 127.0.0.1',
        'protected-mode no',
        `dir ${dir}`,
        `sentinel monitor ${SENTINEL_NAME} 127.0.0.1 ${primaryPort} 2`,
        `sentinel down-after-milliseconds ${SENTINEL_NAME} 2000`,
        `sentinel failover-timeout ${SENTINEL_NAME} 5000`,
        `sentinel parallel-syncs ${SENTINEL_NAME} 1`,
        '',
      ].join('\n'),
    );
    sentinels.push({ port, dir, args: [conf, '--sentinel'], child: null });
  }
  const all = [...data, ...sentinels];
  const stop = async (): Promise<void> => {
    await Promise.all(all.map((p) => killProc(p)));
    for (const p of all) rmSync(p.dir, { recursive: true, force: true });
  };

  const primary = async (): Promise<number> => {
    for (const s of sentinels) {
      if (!s.child) continue;
      try {
        const out = (await cli(s.port, 'SENTINEL', 'get-master-addr-by-name', SENTINEL_NAME)).trim().split('\n');
        const port = Number(out[1]);
        if (Number.isInteger(port) && port > 0) return port;
      } catch {
        // try the next sentinel
      }
    }
    throw new Error('no sentinel answers');
  };
  const isMaster = async (port: number): Promise<boolean> =>
    /role:master/.test(await cli(port, 'INFO', 'replication').catch(() => ''));

  try {
    for (const p of data) start(p);
    await Promise.all(data.map((p) => waitFor(() => answers(p.port), 10_000, `redis-server on ${p.port}`)));
    await waitFor(
      async () => /master_link_status:up/.test(await cli(replicaPort, 'INFO', 'replication')),
      10_000,
      'replica in sync',
    );
    for (const s of sentinels) start(s);
    await Promise.all(sentinels.map((s) => waitFor(() => answers(s.port), 10_000, `sentinel on ${s.port}`)));
    await waitFor(
      async () => {
        for (const s of sentinels) {
          const out = await cli(s.port, 'SENTINEL', 'replicas', SENTINEL_NAME).catch(() => '');
          if (!out.includes(String(replicaPort))) return false;
          const peers = await cli(s.port, 'SENTINEL', 'sentinels', SENTINEL_NAME).catch(() => '');
          if ((peers.match(/^name$/gm) ?? []).length < 2) return false;
        }
        return true;
      },
      20_000,
      'sentinels know the replica and each other',
    );
  } catch (err) {
    await stop();
    throw err;
  }

  const sentinelsSetting = sentinels.map((s) => `127.0.0.1:${s.port}`).join(',');
  return {
    sentinelsSetting,
    env: { REDIS_SENTINELS: sentinelsSetting, REDIS_SENTINEL_NAME: SENTINEL_NAME },
    sentinels: sentinels.map((s) => ({ host: '127.0.0.1', port: s.port })),
    name: SENTINEL_NAME,
    dataPorts: data.map((p) => p.port),
    primary,
    async kill(port) {
      const p = data.find((x) => x.port === port);
      if (p) await killProc(p);
    },
    async restart(port) {
      const p = data.find((x) => x.port === port);
      if (!p || p.child) return;
      const current = await primary();
      p.args = dataArgs(p.port, p.dir, current === p.port ? undefined : current);
      start(p);
      await waitFor(() => answers(p.port), 10_000, `redis-server on ${p.port}`);
    },
    async waitPrimary(not, ms = 30_000) {
      return waitFor(
        async () => {
          const port = await primary().catch(() => 0);
          if (port === 0 || port === not) return 0;
          return (await isMaster(port)) ? port : 0;
        },
        ms,
        'a sentinel-switched primary',
      );
    },
    stop,
  };
}
