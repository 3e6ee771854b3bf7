/**
 * A fresh redis-server for one bench run, on a free port (never 6379), with
 * nothing persisted. Same settings as test/support/redis.ts.
 */
import type { ChildProcess } from 'node:child_process';
import { createConnection } from 'node:net';
import { freePort, sleep, spawnTracked, killChild } from './proc.js';

export interface BenchRedis {
  port: number;
  url: string;
  pid: number;
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
    port,
    url: `redis://127.0.0.1:${port}`,
    pid: child.pid as number,
    command: (...args) => rawCommand(port, args),
    stop: () => killChild(child),
  };
}
