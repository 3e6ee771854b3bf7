/**
 * attachParley on a server the app owns: the app keeps its routes and its
 * own WebSocket upgrades; Parley adds /ws and (with a key) /api; close()
 * stops Parley gracefully and leaves the server running. createParley
 * options are validated like the environment.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { ConfigError } from '../../src/settings.js';
import { attachParley, createParley, type ParleyNode, type ParleyOptions } from '../../src/server/parley.js';
import { connect } from '../support/client.js';
import { sioConnect } from '../support/sio.js';

const KEY = 'attach-key';

function appServer(): Server {
  return createServer((req, res) => {
    res.writeHead(req.url === '/hello' ? 200 : 404, { 'Content-Type': 'text/plain' });
    res.end(req.url === '/hello' ? 'app' : 'app 404');
  });
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return (server.address() as AddressInfo).port;
}

describe('attachParley', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('adds /ws and /api to the app server; other requests and upgrades stay the app’s; close() keeps the server', async () => {
    const server = appServer();
    // The app's own WebSocket endpoint on the same server.
    const appWss = new WebSocketServer({ noServer: true });
    server.on('upgrade', (req, socket, head) => {
      if (req.url === '/app-ws')
        appWss.handleUpgrade(req, socket, head, (ws) => ws.send(JSON.stringify({ type: 'app' })));
    });
    const parley = await attachParley(server, { apiKey: KEY, logLevel: 'silent' });
    const port = await listen(server);
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    cleanups.push(() => parley.close());
    expect(parley.port).toBe(port);
    const base = `http://127.0.0.1:${port}`;

    expect(await (await fetch(`${base}/hello`)).text()).toBe('app');
    expect((await fetch(`${base}/metrics`)).status).toBe(404); // not asked for: the app's 404
    expect(await (await fetch(`${base}/metrics`)).text()).toBe('app 404');
    const unauthorized = await fetch(`${base}/api/presence?status=online`);
    expect(unauthorized.status).toBe(401);

    const ann = await connect(`ws://127.0.0.1:${port}/ws?user=ann`);
    const bob = await connect(`ws://127.0.0.1:${port}/ws?user=bob`);
    await ann.ok({ type: 'join', room: 'general' });
    await bob.ok({ type: 'join', room: 'general' });
    const posted = await fetch(`${base}/api/rooms/general/messages`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ text: 'from the api', from: 'server' }),
    });
    expect(posted.status).toBe(201);
    await bob.ok({ type: 'send', room: 'general', text: 'hi ann' });
    await ann.waitFor((f) => f.type === 'message' && (f.message as { text: string }).text === 'hi ann');
    await bob.waitFor((f) => f.type === 'message' && (f.message as { text: string }).text === 'from the api');

    // Socket.IO clients (both transports) on the same app server, in the same room.
    for (const transport of ['polling', 'websocket'] as const) {
      const sio = await sioConnect(`http://127.0.0.1:${port}`, transport, { user: `sio-${transport}` });
      await sio.ok('join', { room: 'general' });
      await sio.ok('send', { room: 'general', text: `hi from ${transport}` });
      await ann.waitFor((f) => f.type === 'message' && (f.message as { text: string }).text === `hi from ${transport}`);
      sio.socket.close();
    }

    const appWs = await connect(`ws://127.0.0.1:${port}/app-ws`);
    await appWs.waitFor((f) => f.type === 'app', 5000, 'the app’s own ws frame');
    appWs.close();

    await parley.close();
    expect((await ann.closed).code).toBe(1001);
    // The server is still the app's: its routes answer, Parley's are gone.
    expect(await (await fetch(`${base}/hello`)).text()).toBe('app');
    expect(await (await fetch(`${base}/api/presence`)).text()).toBe('app 404');
  });

  it('without an API key there is no /api; health and metrics only when asked', async () => {
    const server = appServer();
    const parley = await attachParley(server, { logLevel: 'silent', health: true, metrics: true });
    const port = await listen(server);
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    cleanups.push(() => parley.close());
    const base = `http://127.0.0.1:${port}`;
    expect(await (await fetch(`${base}/api/presence`)).text()).toBe('app 404');
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect(await (await fetch(`${base}/metrics`)).text()).toContain('parley_');
  });
});

describe('createParley(options)', () => {
  it('validates options with the environment’s errors, naming the option', async () => {
    const bad = (o: Record<string, unknown>): Promise<unknown> =>
      createParley(o as ParleyOptions).then(
        (node: ParleyNode) => node.stop(),
        (err: unknown) => err,
      );
    const portErr = await bad({ port: 70000 });
    expect(portErr).toBeInstanceOf(ConfigError);
    expect((portErr as ConfigError).setting).toBe('PORT');
    expect((portErr as Error).message).toBe('PORT: must be an integer between 0 and 65535, got "70000" (option port)');
    const typo = await bad({ apiKeys: 'x' });
    expect((typo as Error).message).toBe('apiKeys: unknown option (did you mean "apiKey"?)');
    const empty = await bad({ jwtSecret: '' });
    expect((empty as ConfigError).setting).toBe('PARLEY_JWT_SECRET');
    const origins = await bad({ allowedOrigins: [1] });
    expect((origins as ConfigError).setting).toBe('PARLEY_ALLOWED_ORIGINS');
  });

  it('starts on its own port from options; limits apply', async () => {
    const node = await createParley({ port: 0, host: '127.0.0.1', logLevel: 'silent', maxTextChars: 5 });
    const port = await node.start();
    try {
      expect(node.config.limits.maxTextChars).toBe(5);
      const c = await connect(`ws://127.0.0.1:${port}/ws?user=ann`);
      await c.ok({ type: 'join', room: 'r' });
      const r = await c.request({ type: 'send', room: 'r', text: 'too long' });
      expect(r.ok ? null : r.error.code).toBe('TOO_LARGE');
      c.close();
    } finally {
      await node.stop();
    }
  });

  it('listens with the configured backlog (PARLEY_LISTEN_BACKLOG), not Node’s 511', async () => {
    // `ss -ltn` shows a listening socket's backlog as Send-Q (the kernel caps it at net.core.somaxconn).
    const somaxconn = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8'));
    const wanted = Math.min(1234, somaxconn);
    const node = await createParley({ port: 0, host: '127.0.0.1', logLevel: 'silent', listenBacklog: wanted });
    const port = await node.start();
    try {
      const line = execFileSync('ss', ['-ltnH', `sport = :${port}`])
        .toString()
        .trim();
      const sendQ = Number(line.split(/\s+/)[2]);
      expect(sendQ).toBe(wanted);
      expect(node.config.listenBacklog).toBe(wanted);
    } finally {
      await node.stop();
    }
  });
});
