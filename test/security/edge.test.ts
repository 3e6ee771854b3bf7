/**
 * The edge under attack: origin checks, connection floods per IP and per
 * user, the HTTP API key, kicks, request heads that are too big or too many,
 * handshake limits and a slow consumer. Real sockets throughout.
 */
import { createConnection, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Message } from '../../src/protocol/frames.js';
import { connect, type TestClient } from '../support/client.js';
import { sleep, waitFor } from '../support/ports.js';
import { clientUrl, startNode, type RunningNode } from '../support/server.js';
import {
  breaches,
  closedWithin,
  devClient,
  expectHealthy,
  expectRefused,
  http,
  rawHttp,
  tryUpgrade,
  uniq,
} from './helpers.js';

const API_KEY = 'edge-api-key-0123456789abcdef';

describe('origin allowlist', () => {
  let node: RunningNode;
  const clients: TestClient[] = [];
  const good = 'https://chat.example.com';
  const open = (user: string): Promise<TestClient> =>
    connect(clientUrl(node.port, user), { origin: good }).then((c) => (clients.push(c), c));

  beforeAll(async () => {
    node = await startNode({ env: { PARLEY_ALLOWED_ORIGINS: `${good}, https://other.example.com` } });
  });
  afterAll(async () => {
    for (const c of clients) c.ws.terminate();
    await node.stop();
  });

  it('refuses a foreign, missing or look-alike Origin with 403 before the upgrade', async () => {
    const before = await breaches(node, 'origin');
    const url = clientUrl(node.port, uniq('o'));
    for (const origin of [
      'https://evil.example.com',
      'https://chat.example.com.evil.com',
      'http://chat.example.com',
      'null',
      'https://CHAT.example.com:443x',
    ]) {
      await expectRefused(url, 403, 'FORBIDDEN', { origin });
    }
    await expectRefused(url, 403, 'FORBIDDEN'); // no Origin at all
    expect(await breaches(node, 'origin')).toBe(before + 6);
    const ok = await tryUpgrade(url, { origin: 'https://other.example.com' });
    expect(ok.status).toBe(101);
    ok.ws?.close();
    await expectHealthy(node, open);
  });
});

describe('connection floods', () => {
  let node: RunningNode;
  const clients: TestClient[] = [];
  let open: (user: string) => Promise<TestClient>;

  beforeAll(async () => {
    node = await startNode({ env: { PARLEY_MAX_CONNECTIONS_PER_USER: '3', PARLEY_MAX_CONNECTIONS_PER_IP: '8' } });
    open = devClient(node, clients);
  });
  afterAll(async () => {
    for (const c of clients) c.ws.terminate();
    await node.stop();
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await waitFor(() => node.node.metrics.connections.get().then((g) => g.values[0]?.value === 0), 5000, 'all closed');
  });

  it("per user: the connection over the limit gets 429 LIMIT; the user's other connections keep working", async () => {
    const user = uniq('multi');
    const room = uniq('r');
    const mine = await Promise.all([open(user), open(user), open(user)]);
    const before = await breaches(node, 'connections_per_user');
    await expectRefused(clientUrl(node.port, user), 429, 'LIMIT');
    expect(await breaches(node, 'connections_per_user')).toBe(before + 1);
    for (const c of mine) await c.ok({ type: 'join', room });
    await mine[0]!.ok({ type: 'send', room, text: 'x' });
    for (const c of mine) await c.waitFor((f) => f.type === 'message');
    // One closes: a new connection is accepted again.
    mine[0]!.close();
    await mine[0]!.closed;
    await waitFor(
      async () => (await tryUpgrade(clientUrl(node.port, user)).then((r) => (r.ws?.close(), r.status))) === 101,
      3000,
      'slot freed',
    );
    await expectHealthy(node, open);
  });

  it('per IP: a burst of concurrent upgrades never exceeds the limit (429 LIMIT for the rest)', async () => {
    const before = await breaches(node, 'connections_per_ip');
    const attempts = await Promise.all(Array.from({ length: 30 }, () => tryUpgrade(clientUrl(node.port, uniq('ip')))));
    const accepted = attempts.filter((a) => a.status === 101);
    const refused = attempts.filter((a) => a.status !== 101);
    expect(accepted).toHaveLength(8);
    for (const r of refused) {
      expect(r.status).toBe(429);
      expect(r.body.error?.code).toBe('LIMIT');
    }
    expect(await breaches(node, 'connections_per_ip')).toBe(before + 22);
    // The accepted ones work.
    const room = uniq('r');
    const ws = accepted[0]!.ws!;
    ws.send(JSON.stringify({ type: 'join', id: 1, room }));
    const reply = await new Promise<Record<string, unknown>>((r) =>
      ws.on('message', (d) => {
        const f = JSON.parse(d.toString()) as Record<string, unknown>;
        if (f.type === 'reply') r(f);
      }),
    );
    expect(reply).toMatchObject({ id: 1, ok: true });
    for (const a of accepted) a.ws!.close();
    await waitFor(() => node.node.metrics.connections.get().then((g) => g.values[0]?.value === 0), 5000, 'all closed');
    await expectHealthy(node, open);
  });
});

describe('behind a trusted proxy', () => {
  let node: RunningNode;
  beforeAll(async () => {
    node = await startNode({ env: { PARLEY_TRUST_PROXY: '1', PARLEY_MAX_CONNECTIONS_PER_IP: '2' } });
  });
  afterAll(() => node.stop());

  it('counts connections per forwarded client address', async () => {
    const open = (ip: string) =>
      tryUpgrade(clientUrl(node.port, uniq('p')), { headers: { 'X-Forwarded-For': `6.6.6.6, ${ip}` } });
    const a = await Promise.all([open('10.0.0.1'), open('10.0.0.1'), open('10.0.0.1'), open('10.0.0.2')]);
    expect(a.map((r) => r.status).sort()).toEqual([101, 101, 101, 429]);
    for (const r of a) r.ws?.close();
  });
});

describe('HTTP API key and kicks', () => {
  let node: RunningNode;
  let closedApi: RunningNode;
  const clients: TestClient[] = [];
  let open: (user: string) => Promise<TestClient>;

  beforeAll(async () => {
    node = await startNode({ env: { PARLEY_API_KEY: API_KEY } });
    closedApi = await startNode();
    open = devClient(node, clients);
  });
  afterAll(async () => {
    for (const c of clients) c.ws.terminate();
    await node.stop();
    await closedApi.stop();
  });

  it('refuses /api without a key, with a wrong key, or when no key is configured (401 UNAUTHORIZED)', async () => {
    const path = '/api/presence?status=online';
    const cases: Array<[RunningNode, Record<string, string>]> = [
      [node, {}],
      [node, { Authorization: 'Bearer wrong' }],
      [node, { Authorization: `Bearer ${API_KEY}x` }],
      [node, { Authorization: `Bearer ${API_KEY.slice(0, -1)}` }],
      [node, { Authorization: `Basic ${Buffer.from(`x:${API_KEY}`).toString('base64')}` }],
      [node, { Authorization: API_KEY }],
      [closedApi, { Authorization: `Bearer ${API_KEY}` }],
      [closedApi, { Authorization: 'Bearer ' }],
    ];
    for (const [n, headers] of cases) {
      const res = await http(n, 'GET', path, { headers });
      expect(res.status, JSON.stringify(headers)).toBe(401);
      expect(res.body).toMatchObject({ error: { code: 'UNAUTHORIZED' } });
    }
    const kick = await http(node, 'POST', '/api/users/victim/disconnect', {
      headers: { Authorization: 'Bearer nope' },
    });
    expect(kick.status).toBe(401);
    const ok = await http(node, 'GET', path, { headers: { Authorization: `Bearer ${API_KEY}` } });
    expect(ok.status).toBe(200);
    await expectHealthy(node, open);
  });

  it('POST /api/users/:user/disconnect closes every connection of that user with 4003, nobody else', async () => {
    const victim = uniq('victim');
    const room = uniq('r');
    const v1 = await open(victim);
    const v2 = await open(victim);
    const bystander = await open(uniq('by'));
    await bystander.ok({ type: 'join', room });
    await v1.ok({ type: 'join', room });
    const res = await http(node, 'POST', `/api/users/${victim}/disconnect`, {
      headers: { Authorization: `Bearer ${API_KEY}` },
    });
    expect(res.status).toBe(200);
    expect((await closedWithin(v1, 3000)).code).toBe(4003);
    expect((await closedWithin(v2, 3000)).code).toBe(4003);
    expect(await bystander.ok({ type: 'ping' })).toEqual({});
    await bystander.waitFor(
      (f) => f.type === 'presence' && f.event === 'leave' && (f.member as { user: string }).user === victim,
    );
    // Bad user id in the path.
    const bad = await http(node, 'POST', '/api/users/a%20b/disconnect', {
      headers: { Authorization: `Bearer ${API_KEY}` },
    });
    expect(bad.status).toBe(400);
    await expectHealthy(node, open);
  });
});

describe('request heads and handshakes', () => {
  let node: RunningNode;
  const clients: TestClient[] = [];
  let open: (user: string) => Promise<TestClient>;

  beforeAll(async () => {
    node = await startNode({ env: { PARLEY_MAX_HEADER_BYTES: '8192', PARLEY_MAX_HEADERS: '50' } });
    open = devClient(node, clients);
  });
  afterAll(async () => {
    for (const c of clients) c.ws.terminate();
    await node.stop();
  });

  const upgradeHead = (path: string, extra: string[] = [], before: string[] = []): string =>
    [
      `GET ${path} HTTP/1.1`,
      'Host: 127.0.0.1',
      ...before,
      'Connection: Upgrade',
      'Upgrade: websocket',
      'Sec-WebSocket-Version: 13',
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
      ...extra,
      '',
      '',
    ].join('\r\n');

  it('a huge header on upgrade gets 431 and no socket', async () => {
    const out = await rawHttp(node.port, upgradeHead(`/ws?user=${uniq('h')}`, [`X-Big: ${'a'.repeat(10_000)}`]));
    expect(out).toMatch(/^HTTP\/1\.1 431 /);
    await expectHealthy(node, open);
  });

  it('thousands of small headers get 431; a few hundred are cut to the header cap and the upgrade still works', async () => {
    const many = Array.from({ length: 3000 }, (_, i) => `X-H${i}: v`);
    expect(await rawHttp(node.port, upgradeHead(`/ws?user=${uniq('h')}`, many))).toMatch(/^HTTP\/1\.1 431 /);
    const some = Array.from({ length: 300 }, (_, i) => `X-${i}: v`); // about 3 KB
    expect(await rawHttp(node.port, upgradeHead(`/ws?user=${uniq('h')}`, some))).toMatch(/^HTTP\/1\.1 101 /);
    // Headers beyond the cap are not read: a required header hidden behind them fails the handshake cleanly.
    const hiding = await rawHttp(node.port, upgradeHead(`/ws?user=${uniq('h')}`, [], some));
    expect(hiding).toMatch(/^HTTP\/1\.1 400 /);
    await expectHealthy(node, open);
  });

  it('a huge URL (token or user) gets 431, not a crash', async () => {
    const out = await rawHttp(node.port, upgradeHead(`/ws?user=${'a'.repeat(20_000)}`));
    expect(out).toMatch(/^HTTP\/1\.1 431 /);
    await expectHealthy(node, open);
  });

  it('upgrades to other paths get 404 and plain GET /ws without credentials gets 401', async () => {
    expect(await rawHttp(node.port, upgradeHead('/other?user=x'))).toMatch(/^HTTP\/1\.1 404 /);
    expect(await rawHttp(node.port, upgradeHead('/ws'))).toMatch(/^HTTP\/1\.1 401 /);
    expect(await rawHttp(node.port, upgradeHead('/ws?user='))).toMatch(/^HTTP\/1\.1 401 /);
    await expectHealthy(node, open);
  });

  it('a refused client that keeps its side open does not keep the socket (dropped after a grace period)', async () => {
    const sock = createConnection({ port: node.port, host: '127.0.0.1', allowHalfOpen: true });
    let text = '';
    sock.on('data', (d) => (text += d.toString()));
    sock.write(upgradeHead('/ws'));
    await waitFor(() => text.includes('UNAUTHORIZED'), 3000, '401 response');
    expect(text).toMatch(/^HTTP\/1\.1 401 /);
    await sleep(2500);
    // The server has dropped it: writing now fails.
    const gone = new Promise<boolean>((resolve) => {
      sock.once('error', () => resolve(true));
      sock.once('close', () => resolve(true));
      setTimeout(() => resolve(false), 2000);
    });
    sock.write('still here?');
    setTimeout(() => sock.writable && sock.write('and again'), 200);
    expect(await gone).toBe(true);
    sock.destroy();
  });

  it('garbage instead of HTTP gets 400 and the node carries on', async () => {
    expect(await rawHttp(node.port, '\u0016\u0003\u0001 hello tls?\r\n\r\n')).toMatch(/^HTTP\/1\.1 400 /);
    expect(
      await rawHttp(
        node.port,
        'GET /ws HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n',
      ),
    ).toMatch(/^HTTP\/1\.1 400 /);
    await expectHealthy(node, open);
  });
});

describe('slow consumer', () => {
  let node: RunningNode;
  const clients: TestClient[] = [];
  let open: (user: string) => Promise<TestClient>;

  beforeAll(async () => {
    node = await startNode({
      env: {
        PARLEY_MAX_BUFFERED_BYTES: String(64 * 1024),
        PARLEY_MAX_TEXT_CHARS: '60000',
        PARLEY_MAX_FRAME_BYTES: String(128 * 1024),
        PARLEY_SEND_RATE: '10000',
        PARLEY_SEND_BURST: '10000',
        PARLEY_COMMAND_RATE: '10000',
        PARLEY_COMMAND_BURST: '10000',
        PARLEY_HISTORY_MAX: '20',
      },
    });
    open = devClient(node, clients);
  });
  afterAll(async () => {
    for (const c of clients) c.ws.terminate();
    await node.stop();
  });

  it('a client that never reads is closed with 4008 while the others get every message', async () => {
    const room = uniq('slow');
    const slow = await open(uniq('slow'));
    const reader = await open(uniq('reader'));
    const sender = await open(uniq('sender'));
    for (const c of [slow, reader, sender]) await c.ok({ type: 'join', room });
    const socket = (slow.ws as unknown as { _socket: Socket })._socket;
    socket.pause();
    const text = 'z'.repeat(50_000);
    let sent = 0;
    // Until the server gives up on the slow client (kernel buffers take several MB first).
    while ((await node.node.metrics.slowConsumers.get()).values[0]?.value !== 1) {
      await Promise.all(Array.from({ length: 10 }, () => sender.ok({ type: 'send', room, text })));
      sent += 10;
      expect(sent, 'slow consumer never detected').toBeLessThan(2000);
    }
    expect(await breaches(node, 'slow_consumer')).toBe(1);
    // Life goes on for the others: more messages, all delivered.
    for (let i = 0; i < 10; i++) await sender.ok({ type: 'send', room, text: `after ${i}` });
    sent += 10;
    await reader.waitFor(() => reader.messages(room).length >= sent, 15_000, `${sent} messages`);
    expect(reader.messages(room)).toHaveLength(sent);
    expect(sender.messages(room).length).toBe(sent);
    // Nothing more is queued for the slow one; once it reads, it finds the 4008 close.
    socket.resume();
    const closed = await closedWithin(slow, 15_000);
    expect(closed.code).toBe(4008);
    expect(slow.messages(room).length).toBeLessThan(sent);
    await expectHealthy(node, open);
  });
});

describe('handshake concurrency', () => {
  it('frames pipelined far ahead of their replies are all answered in order', async () => {
    const node = await startNode();
    try {
      const c = await node.client(uniq('pipe'));
      const replies = await Promise.all(Array.from({ length: 150 }, () => c.request({ type: 'ping' }, 10_000)));
      expect(replies.every((r) => r.ok)).toBe(true);
      c.close();
    } finally {
      await node.stop();
    }
  });

  it('messages keep their order for a reader while a sender pipelines', async () => {
    const node = await startNode({ env: { PARLEY_SEND_RATE: '1000', PARLEY_SEND_BURST: '1000' } });
    try {
      const room = uniq('order');
      const a = await node.client(uniq('a'));
      const b = await node.client(uniq('b'));
      await a.ok({ type: 'join', room });
      await b.ok({ type: 'join', room });
      const sent = await Promise.all(
        Array.from({ length: 100 }, (_, i) => a.ok<{ message: Message }>({ type: 'send', room, text: String(i) })),
      );
      await b.waitFor(() => b.messages(room).length >= 100, 5000, '100 messages');
      expect(b.messages(room).map((m) => m.text)).toEqual(sent.map((s) => s.message.text));
      a.close();
      b.close();
      await sleep(10);
    } finally {
      await node.stop();
    }
  });
});
