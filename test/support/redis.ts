/**
 * Real redis-server processes for tests, on free ports (never 6379), with
 * nothing persisted. Missing redis-server is a hard failure, never a skip:
 * .ci/run installs it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createConnection } from 'node:net';
import { freePort, sleep } from './ports.js';

export interface RedisProcess {
  port: number;
  url: string;
  /** SIGKILLs the server (data is lost: it persists nothing). */
  kill(): Promise<void>;
  /** Starts it again on the same port (empty). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ port, host: '127.0.0.1' });
    let buf = '';
    sock.setTimeout(500);
    sock.on('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => {
      buf += d.toString();
      if (buf.includes('PONG')) {
        sock.destroy();
        resolve(true);
      }
    });
    sock.on('error', () => resolve(false));
    sock.on('timeout', () => {
      sock.destroy();
      resolve(false);
    });
  });
}

export async function startRedis(): Promise<RedisProcess> {
  const port = await freePort();
  let child: ChildProcess | null = null;

  const launch = async (): Promise<void> => {
    const proc = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no'],
      { stdio: 'ignore' },
    );
    const failed = new Promise<Error>((resolve) =>
      proc.on('error', (e) => resolve(new Error(`cannot start redis-server (is it installed?): ${e.message}`))),
    );
    child = proc;
    for (let i = 0; i < 100; i++) {
      const res = await Promise.race([ping(port), failed, sleep(500).then(() => false)]);
      if (res instanceof Error) throw res;
      if (res === true) return;
      await sleep(50); // a refused connection answers at once: wait before the next try
      if (proc.exitCode !== null) throw new Error(`redis-server exited with ${proc.exitCode}`);
    }
    throw new Error(`redis-server did not answer on port ${port}`);
  };

  const kill = async (): Promise<void> => {
    const proc = child;
    child = null;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGKILL');
    await exited;
  };

  await launch();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    kill,
    restart: launch,
    stop: kill,
  };
}
