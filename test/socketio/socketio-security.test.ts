/**
 * Socket.IO edge security with the real socket.io-client: JWT auth from
 * `auth: {token}` and its refusals as connect_error (reason as message, code
 * in data), origin checks and polling CORS, per-user caps, token expiry,
 * kicks, the frame size limit, PARLEY_SOCKETIO=0.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Message } from '../../src/protocol/frames.js';
import { hsToken, http, noneToken, uniq } from '../security/helpers.js';
import { startNode, type RunningNode } from '../support/server.js';
import { sioConnect, sioRefusal, type SioClient, type Transport } from '../support/sio.js';

const SECRET = 'socket-io-test-secret-that-is-long-enough-0123';
const API_KEY = 'sio-api-key-0123456789';

describe.each<Transport>(['websocket', 'polling'])('Socket.IO security (%s)', (transport) => {
  let node: RunningNode;
  const clients: SioClient[] = [];
  const open = async (auth: Record<string, unknown>): Promise<SioClient> => {
    const c = await sioConnect(node.url, transport, auth);
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    node = await startNode({
      env: { PARLEY_JWT_SECRET: SECRET, PARLEY_API_KEY: API_KEY, PARLEY_MAX_CONNECTIONS_PER_USER: '2' },
    });
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await node.stop();
  });

  it('accepts auth: {token}; sub and name become the identity', async () => {
    const user = uniq('ann');
    const room = uniq('r');
    const a = await open({ token: await hsToken(SECRET, { sub: user, name: 'Ann' }, { exp: '1h' }) });
    const joined = await a.ok<{ members: Array<{ user: string; name?: string }> }>('join', { room });
    expect(joined.members).toEqual([expect.objectContaining({ user, name: 'Ann' })]);
  });

  it('refuses bad credentials with connect_error: the reason as message, UNAUTHORIZED in data', async () => {
    const other = 'another-secret-that-is-also-long-enough-9876';
    const cases: Array<[string, Record<string, unknown>]> = [
      ['no auth', {}],
      ['dev-mode user in JWT mode', { user: uniq('eve') }],
      ['not a string', { token: 42 }],
      ['garbage', { token: 'not.a.jwt' }],
      ['alg none', { token: noneToken({ sub: 'admin' }) }],
      ['wrong secret', { token: await hsToken(other, { sub: 'eve' }, { exp: '1h' }) }],
      ['expired', { token: await hsToken(SECRET, { sub: 'eve' }, { exp: Math.floor(Date.now() / 1000) - 60 }) }],
    ];
    for (const [what, auth] of cases) {
      const r = await sioRefusal(node.url, transport, auth);
      expect(r.data?.code, what).toBe('UNAUTHORIZED');
      expect(r.message, what).toBe(r.data?.message);
      expect(r.message.length, what).toBeGreaterThan(0);
    }
  });

  it('caps connections per user (LIMIT) across both transports', async () => {
    const user = uniq('capped');
    const token = await hsToken(SECRET, { sub: user }, { exp: '1h' });
    await open({ token });
    await open({ token });
    const r = await sioRefusal(node.url, transport, { token });
    expect(r.data?.code).toBe('LIMIT');
  });

  it('closes with a `closing` event (4001) when the token expires, and does not reconnect by itself', async () => {
    const c = await open({
      token: await hsToken(SECRET, { sub: uniq('exp') }, { exp: Math.floor(Date.now() / 1000) + 2 }),
    });
    await c.until(() => c.disconnects.length > 0, 10_000, 'disconnect on expiry');
    expect(c.events.find((f) => f.type === 'closing')).toMatchObject({ code: 4001 });
    expect(c.disconnects[0]).toBe('io server disconnect');
    expect(c.socket.active).toBe(false);
  });

  it('is kicked by POST /api/users/:user/disconnect (4003)', async () => {
    const user = uniq('kick');
    const c = await open({ token: await hsToken(SECRET, { sub: user }, { exp: '1h' }) });
    const res = await http(node, 'POST', `/api/users/${user}/disconnect`, {
      headers: { Authorization: `Bearer ${API_KEY}` },
    });
    expect(res.status).toBeLessThan(300);
    await c.until(() => c.disconnects.length > 0, 5000, 'kick');
    expect(c.events.find((f) => f.type === 'closing')).toMatchObject({ code: 4003 });
    expect(c.disconnects[0]).toBe('io server disconnect');
  });

  it('drops a connection that sends more than the frame limit, and serves the others', async () => {
    const room = uniq('big');
    const token = async (): Promise<string> => hsToken(SECRET, { sub: uniq('big') }, { exp: '1h' });
    const a = await open({ token: await token() });
    const b = await open({ token: await token() });
    await a.ok('join', { room });
    await b.ok('join', { room });
    a.socket.emit('send', { room, text: 'x'.repeat(70 * 1024) });
    await a.until(() => a.disconnects.length > 0, 10_000, 'oversize disconnect');
    expect(a.disconnects[0]).toMatch(/transport (close|error)/);
    const { message } = await b.ok<{ message: Message }>('send', { room, text: 'fine' });
    await b.waitFor((f) => f.type === 'message' && (f.message as Message).id === message.id);
  });
});

describe('Socket.IO origins, CORS and the switch', () => {
  it('checks Origin against PARLEY_ALLOWED_ORIGINS (FORBIDDEN) and answers polling CORS for allowed ones', async () => {
    const allowed = 'https://chat.example.com';
    const node = await startNode({ env: { PARLEY_ALLOWED_ORIGINS: allowed } });
    try {
      for (const transport of ['websocket', 'polling'] as const) {
        const none = await sioRefusal(node.url, transport, { user: uniq('o') });
        expect(none.data?.code).toBe('FORBIDDEN');
        const evil = await sioRefusal(
          node.url,
          transport,
          { user: uniq('o') },
          {
            extraHeaders: { Origin: 'https://evil.example.com' },
          },
        );
        expect(evil.data?.code).toBe('FORBIDDEN');
        const ok = await sioConnect(node.url, transport, { user: uniq('o') }, { extraHeaders: { Origin: allowed } });
        expect(await ok.request('ping')).toEqual({ ok: true, data: {} });
        ok.close();
      }
      const res = await fetch(`${node.url}/socket.io/?EIO=4&transport=polling`, { headers: { Origin: allowed } });
      expect(res.status).toBe(200);
      expect(res.headers.get('access-control-allow-origin')).toBe(allowed);
      const evil = await fetch(`${node.url}/socket.io/?EIO=4&transport=polling`, {
        headers: { Origin: 'https://evil.example.com' },
      });
      expect(evil.headers.get('access-control-allow-origin')).toBeNull();
      await evil.text();
      await res.text();
    } finally {
      await node.stop();
    }
  });

  it('PARLEY_SOCKETIO=0 turns /socket.io/ off (404) and leaves /ws as it is', async () => {
    const node = await startNode({ env: { PARLEY_SOCKETIO: '0' } });
    try {
      const res = await fetch(`${node.url}/socket.io/?EIO=4&transport=polling`);
      expect(res.status).toBe(404);
      await res.text();
      const r = await sioRefusal(node.url, 'websocket', { user: uniq('off') });
      expect(r.message).toMatch(/websocket error/);
      const c = await node.client(uniq('ws'));
      expect(await c.ok({ type: 'ping' })).toEqual({});
      c.close();
    } finally {
      await node.stop();
    }
  });
});
