/**
 * A newcomer's first hour, as seen from the shell: start-up failures are one
 * clear line (no JSON stack unless LOG_LEVEL=debug), mistyped PARLEY_*
 * variables are named with a "did you mean", an empty PARLEY_JWT_SECRET is
 * an error, and the CLI takes host:port and tails without showing up online.
 */
import { createServer } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../support/client.js';
import { freePort, waitFor } from '../support/ports.js';
import { MAIN, requireBuild, run, waitExit, waitHealthy, type Run } from './proc.js';

const STACK = /\n\s+at |"stack"/;

describe('start-up failures', () => {
  beforeAll(() => requireBuild());

  it('an unknown Redis host fails at once (no wait for the start timeout) with one line, no stack', async () => {
    const r = run([MAIN], { PORT: '0', REDIS_URL: 'redis://nohost.invalid:6379', LOG_LEVEL: 'info' });
    expect(await waitExit(r, 20_000)).toBe(1);
    expect(r.stderr()).toMatch(
      /^parley: cannot start: cannot reach Redis at redis:\/\/nohost\.invalid:6379: getaddrinfo (ENOTFOUND|EAI_AGAIN) nohost\.invalid\n$/,
    );
    const out = r.stdout() + r.stderr();
    expect(out).not.toMatch(STACK);
    expect(out).not.toContain('presence removal');
    expect(out).not.toContain('redis engine: error');
  });

  it('a refused Redis port fails at once; LOG_LEVEL=debug adds the stack', async () => {
    const port = await freePort();
    const r = run([MAIN], { PORT: '0', REDIS_URL: `redis://127.0.0.1:${port}`, LOG_LEVEL: 'info' });
    expect(await waitExit(r, 20_000)).toBe(1);
    expect(r.stderr()).toBe(
      `parley: cannot start: cannot reach Redis at redis://127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}\n`,
    );
    expect(r.stdout()).not.toMatch(STACK);
    const debug = run([MAIN], { PORT: '0', REDIS_URL: `redis://127.0.0.1:${port}`, LOG_LEVEL: 'debug' });
    expect(await waitExit(debug, 20_000)).toBe(1);
    expect(debug.stdout()).toMatch(STACK);
  });

  it('a port in use is one line even at LOG_LEVEL=info (no fatal JSON before it)', async () => {
    const blocker = createServer();
    const port = await new Promise<number>((resolve) =>
      blocker.listen(0, '127.0.0.1', () => resolve((blocker.address() as { port: number }).port)),
    );
    try {
      const r = run([MAIN], { PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'info' });
      expect(await waitExit(r, 15_000)).toBe(1);
      expect(r.stderr()).toBe(
        `parley: cannot start: cannot listen on 127.0.0.1:${port}: the address is in use (PORT/HOST)\n`,
      );
      expect(r.stdout()).not.toMatch(STACK);
      expect(r.stdout()).not.toContain('"level":60');
    } finally {
      blocker.close();
    }
  });

  it('an empty PARLEY_JWT_SECRET is an error, not dev mode', async () => {
    const r = run([MAIN], { PORT: '0', PARLEY_JWT_SECRET: '' });
    expect(await waitExit(r, 15_000)).toBe(1);
    expect(r.stderr()).toBe(
      'parley: invalid configuration: PARLEY_JWT_SECRET: is set but empty (unset it for dev mode, or give a value)\n',
    );
  });
});

describe('a mistyped setting', () => {
  it('is named at start with the setting it probably meant; CLI variables are not warned about', async () => {
    requireBuild();
    const port = await freePort();
    const r = run([MAIN], {
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      PARLEY_API_KEYS: 'x',
      PARLEY_HISTROY_MAX: '5',
      PARLEY_URL: 'ws://127.0.0.1:1',
      PARLEY_TOTALLY_DIFFERENT_THING: '1',
    });
    await waitHealthy(r, port);
    r.child.kill('SIGTERM');
    await waitExit(r, 15_000);
    const out = r.stdout();
    expect(out).toContain('unknown setting PARLEY_API_KEYS (ignored): did you mean PARLEY_API_KEY?');
    expect(out).toContain('unknown setting PARLEY_HISTROY_MAX (ignored): did you mean PARLEY_HISTORY_MAX?');
    expect(out).toContain('unknown setting PARLEY_TOTALLY_DIFFERENT_THING (ignored)"');
    expect(out).not.toContain('PARLEY_URL');
  });
});

describe('the CLI, first tries', () => {
  let port: number;
  let server: Run;
  beforeAll(async () => {
    requireBuild();
    port = await freePort();
    server = run([MAIN], { PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn' });
    await waitHealthy(server, port);
  });
  afterAll(async () => {
    server.child.kill('SIGTERM');
    await waitExit(server, 15_000);
  });

  it('--url takes a bare host:port', async () => {
    const r = run(['bin/parley.mjs', 'send', 'general', 'hi', '--url', `127.0.0.1:${port}`], {});
    expect(await waitExit(r, 20_000)).toBe(0);
    expect(r.stdout().trim()).toMatch(/^\S+$/);
  });

  it('tail (default user) does not show up online in the room', async () => {
    const watcher = await connect(`ws://127.0.0.1:${port}/ws?user=ann`);
    await watcher.ok({ type: 'join', room: 'quiet' });
    const tail = run(['bin/parley.mjs', 'tail', 'quiet', '--url', `127.0.0.1:${port}`], {});
    try {
      await waitFor(() => tail.stderr().includes('tailing quiet'), 15_000, `tail to start: ${tail.stderr()}`);
      const r = await watcher.ok<{ members: { user: string; status: string }[]; count: number }>({
        type: 'presence',
        room: 'quiet',
      });
      expect(r.members.filter((m) => m.user === 'cli' && m.status !== 'offline')).toEqual([]);
      const bob = await connect(`ws://127.0.0.1:${port}/ws?user=bob`);
      await bob.ok({ type: 'join', room: 'quiet' });
      await bob.ok({ type: 'send', room: 'quiet', text: 'anyone?' });
      await waitFor(() => tail.stdout().includes('bob: anyone?'), 10_000, 'tail to print the message');
      // ann saw bob's join but never a presence event for the tail.
      await watcher.waitFor((f) => f.type === 'presence' && (f.member as { user: string }).user === 'bob');
      expect(
        watcher.events.filter((f) => f.type === 'presence' && (f.member as { user: string }).user === 'cli'),
      ).toEqual([]);
      bob.close();
    } finally {
      tail.child.kill('SIGTERM');
      await waitExit(tail, 10_000);
      watcher.close();
    }
  });
});
