/**
 * bin/parley.mjs against a real server process: serve, send, tail, who,
 * exit codes, and `npx parley serve` from the repo.
 */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, sleep, waitFor } from '../support/ports.js';
import { MAIN, requireBuild, ROOT, run, waitExit, waitHealthy, type Run } from './proc.js';

const CLI = 'bin/parley.mjs';
const KEY = 'cli-key';

describe('parley CLI', () => {
  let port: number;
  let server: Run;
  let url: string;
  beforeAll(async () => {
    requireBuild();
    port = await freePort();
    url = `ws://127.0.0.1:${port}`;
    server = run([MAIN], { PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', PARLEY_API_KEY: KEY });
    await waitHealthy(server, port);
  });
  afterAll(async () => {
    if (server.child.exitCode === null) {
      server.child.kill('SIGTERM');
      await waitExit(server, 15_000);
    }
  });

  const cli = async (
    args: string[],
    env: Record<string, string> = {},
  ): Promise<{ code: number | null; out: string; err: string }> => {
    const r = run([CLI, ...args], env);
    const code = await waitExit(r, 20_000);
    return { code, out: r.stdout(), err: r.stderr() };
  };

  it('send prints the stored id; tail prints history and live messages; who lists members', async () => {
    const first = await cli([
      'send',
      'ops-room',
      'before',
      'the',
      'tail',
      '--url',
      url,
      '--user',
      'ann',
      '--name',
      'Ann',
    ]);
    expect(first.code, first.err).toBe(0);
    expect(first.out.trim()).toMatch(/^\d+-\d+$/);

    const tail = run([CLI, 'tail', 'ops-room', '--url', url, '--user', 'watcher', '--presence'], {});
    await waitFor(() => tail.stderr().includes('tailing ops-room'), 10_000, 'tail to start');
    expect(tail.stdout()).toMatch(/\] Ann \(ann\): before the tail\n/);

    const json = await cli(
      ['send', 'ops-room', 'live one', '--url', url, '--user', 'bob', '--json', '--client-msg-id', 'k1'],
      {},
    );
    expect(json.code, json.err).toBe(0);
    const msg = JSON.parse(json.out) as { id: string; from: string; text: string; clientMsgId: string };
    expect(msg).toMatchObject({ from: 'bob', text: 'live one', clientMsgId: 'k1' });
    // The same clientMsgId again stores nothing new: same id back.
    const again = await cli([
      'send',
      'ops-room',
      'live one',
      '--url',
      url,
      '--user',
      'bob',
      '--json',
      '--client-msg-id',
      'k1',
    ]);
    expect((JSON.parse(again.out) as { id: string }).id).toBe(msg.id);
    await waitFor(() => tail.stdout().includes('bob: live one'), 5000, 'live message in tail');
    expect(tail.stdout().match(/bob: live one/g)).toHaveLength(1);
    expect(tail.stderr()).toMatch(/bob +online \(join\)/);

    const who = await cli(['who', 'ops-room', '--url', url, '--user', 'asker']);
    expect(who.code, who.err).toBe(0);
    expect(who.out).toMatch(/^watcher +online$/m);
    expect(who.out).toMatch(/1 member in ops-room/);

    const online = await cli(['who', '--url', url, '--key', KEY]);
    expect(online.code, online.err).toBe(0);
    expect(online.out).toMatch(/^watcher +online$/m);
    const viaEnv = await cli(['who', '--json', '--url', `http://127.0.0.1:${port}/ws`], { PARLEY_API_KEY: KEY });
    expect(JSON.parse(viaEnv.out)).toMatchObject({ count: 1 });

    tail.child.kill('SIGINT');
    expect(await waitExit(tail, 10_000)).toBe(0);
  });

  it('send from stdin', async () => {
    const r = run([CLI, 'send', 'ops-stdin', '-', '--url', url, '--user', 'pipe', '--json'], {}, true);
    r.child.stdin!.end('line one\nline two\n');
    expect(await waitExit(r, 20_000)).toBe(0);
    expect((JSON.parse(r.stdout()) as { text: string }).text).toBe('line one\nline two');
  });

  it("exits 1 with the server's error code, 2 on bad usage", async () => {
    const forbidden = await cli(['send', 'dm:x:y', 'hi', '--url', url, '--user', 'ann']);
    expect(forbidden.code).toBe(1);
    expect(forbidden.err).toMatch(/FORBIDDEN/);
    const noKey = await cli(['who', '--url', url]);
    expect(noKey.code).toBe(1);
    expect(noKey.err).toMatch(/--key or set PARLEY_API_KEY/);
    const wrongKey = await cli(['who', '--url', url, '--key', 'nope']);
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.err).toMatch(/401 UNAUTHORIZED/);
    const down = await cli(['send', 'r', 'hi', '--url', `ws://127.0.0.1:${await freePort()}`]);
    expect(down.code).toBe(1);
    expect(down.err).toMatch(/cannot connect/);
    expect((await cli(['send', 'only-room'])).code).toBe(2);
    expect((await cli(['frobnicate'])).code).toBe(2);
    expect((await cli(['tail', 'r', '--bogus-flag'])).code).toBe(2);
    const help = await cli(['--help']);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/Usage: parley <command>/);
  });

  it('tail notices a server shutdown (1001) and says it reconnects', async () => {
    const p = await freePort();
    const s = run([MAIN], { PORT: String(p), HOST: '127.0.0.1', LOG_LEVEL: 'warn' });
    await waitHealthy(s, p);
    const tail = run([CLI, 'tail', 'bye', '--url', `ws://127.0.0.1:${p}`, '--history', '0'], {});
    await waitFor(() => tail.stderr().includes('tailing bye'), 10_000, 'tail to start');
    s.child.kill('SIGTERM');
    expect(await waitExit(s, 15_000)).toBe(0);
    await waitFor(() => tail.stderr().includes('connection lost (1001); reconnecting'), 5000, 'reconnect note');
    tail.child.kill('SIGTERM');
    expect(await waitExit(tail, 10_000)).toBe(0);
  });
});

describe('parley serve', () => {
  beforeAll(() => requireBuild());

  it('runs a node with flags over the environment and stops with exit 0 on SIGTERM', async () => {
    const p = await freePort();
    const r = run([CLI, 'serve', '--port', String(p), '--host', '127.0.0.1'], { PORT: '1', LOG_LEVEL: 'info' });
    await waitHealthy(r, p);
    r.child.kill('SIGTERM');
    expect(await waitExit(r, 15_000)).toBe(0);
    expect(r.stdout()).toMatch(/"msg":"stopped"/);
  });

  it('exits 1 with a clear message on a bad setting', async () => {
    const r = run([CLI, 'serve', '--port', 'nope'], {});
    expect(await waitExit(r, 15_000)).toBe(1);
    expect(r.stderr()).toMatch(/^parley: invalid configuration: PORT: must be an integer/);
  });

  it('works as `npx parley serve` from the repo', async () => {
    const p = await freePort();
    // Its own process group, so that a failed test can stop the node under npx too.
    const child = spawn('npx', ['--no-install', 'parley', 'serve', '--port', String(p), '--host', '127.0.0.1'], {
      cwd: ROOT,
      env: { ...process.env, LOG_LEVEL: 'info', REDIS_URL: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    let code: number | null | 'timeout' = 'timeout';
    try {
      await waitFor(
        async () => {
          try {
            return (await fetch(`http://127.0.0.1:${p}/healthz`)).ok;
          } catch {
            return false;
          }
        },
        30_000,
        'npx parley serve to answer',
      );
      // The node itself (not npx) gets SIGTERM, as from a process manager; npx exits with the node's code.
      // The log line comes through npx's pipe, possibly after /healthz already answered.
      const listening = await waitFor(
        () => out.split('\n').find((l) => l.includes('parley listening') && l.endsWith('}')),
        15_000,
        'the listening log line',
      );
      const pid = (JSON.parse(listening) as { pid?: number }).pid;
      expect(pid, out).toBeTypeOf('number');
      process.kill(pid!, 'SIGTERM');
      code = await Promise.race([exited, sleep(15_000).then(() => 'timeout' as const)]);
    } finally {
      if (code === 'timeout') process.kill(-child.pid!, 'SIGKILL');
    }
    expect(code, out).toBe(0);
    expect(out).toMatch(/"msg":"stopped"/);
    await expect(fetch(`http://127.0.0.1:${p}/healthz`)).rejects.toThrow();
  });
});
