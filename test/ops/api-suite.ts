/**
 * The HTTP API end to end, run on the memory engine and on Redis (two nodes:
 * what is published or disconnected through one node acts on the other).
 */
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Message, PresenceEntry } from '../../src/protocol/frames.js';
import type { TestClient } from '../support/client.js';
import type { RunningNode } from '../support/server.js';

export const KEY = 'ops-test-key-123';

export interface ApiCluster {
  /** The node the API is called on. */
  api: RunningNode;
  /** Where WebSocket clients connect (the same node on the memory engine). */
  ws: RunningNode;
  stop(): Promise<void>;
}

export interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

/** Calls the API of `node` with the test key (or `key`). */
export async function call(
  node: RunningNode,
  method: string,
  path: string,
  body?: unknown,
  key: string | null = KEY,
): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (key !== null) headers.Authorization = `Bearer ${key}`;
  let payload: string | undefined;
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = typeof body === 'string' ? body : JSON.stringify(body);
  }
  const res = await fetch(`${node.url}${path}`, { method, headers, body: payload });
  const text = await res.text();
  let parsed: Record<string, unknown> = {};
  if (text !== '') parsed = JSON.parse(text) as Record<string, unknown>;
  return { status: res.status, headers: res.headers, body: parsed };
}

function expectError(a: Answer, status: number, code: string): void {
  expect(a.status, JSON.stringify(a.body)).toBe(status);
  expect(a.headers.get('content-type')).toMatch(/^application\/json/);
  const err = a.body.error as { code: string; message: string };
  expect(err.code).toBe(code);
  expect(typeof err.message).toBe('string');
  expect(err.message.length).toBeGreaterThan(3);
}

let seq = 0;
/** A room/user id unique to this run. */
const uid = (p: string): string => `${p}-${process.pid}-${++seq}`;

export function apiSuite(name: string, setup: () => Promise<ApiCluster>): void {
  describe(`HTTP API (${name})`, () => {
    let c: ApiCluster;
    const clients: TestClient[] = [];
    const client = async (user: string, name?: string): Promise<TestClient> => {
      const t = await c.ws.client(user, name);
      clients.push(t);
      return t;
    };

    beforeAll(async () => {
      c = await setup();
    });
    afterAll(async () => {
      for (const t of clients) t.close();
      await c?.stop();
    });

    it('refuses a missing or wrong key with 401 and WWW-Authenticate, on every route', async () => {
      for (const [method, path] of [
        ['GET', '/api/presence'],
        ['POST', '/api/rooms/r/messages'],
        ['GET', '/api/rooms/r/messages'],
        ['GET', '/api/rooms/r/presence'],
        ['GET', '/api/users/u/presence'],
        ['POST', '/api/users/u/disconnect'],
        ['GET', '/api/openapi.json'],
        ['GET', '/api/no-such-route'],
      ] as const) {
        const none = await call(c.api, method, path, method === 'POST' ? { text: 'x', from: 'u' } : undefined, null);
        expectError(none, 401, 'UNAUTHORIZED');
        expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
        const wrong = await call(c.api, method, path, undefined, 'not-the-key');
        expectError(wrong, 401, 'UNAUTHORIZED');
      }
      const basic = await fetch(`${c.api.url}/api/presence`, { headers: { Authorization: `Basic ${KEY}` } });
      expect(basic.status).toBe(401);
    });

    it('publishes as a user (201), delivers it live, dedupes by clientMsgId', async () => {
      const room = uid('pub');
      const ann = await client(uid('ann'));
      await ann.ok({ type: 'join', room });
      const r = await call(c.api, 'POST', `/api/rooms/${room}/messages`, {
        text: 'deploy finished',
        from: 'deploy-bot',
        name: '  Deploy Bot  ',
        clientMsgId: 'd-1',
      });
      expect(r.status).toBe(201);
      const m = r.body.message as Message;
      expect(m).toMatchObject({
        room,
        from: 'deploy-bot',
        name: 'Deploy Bot',
        text: 'deploy finished',
        clientMsgId: 'd-1',
      });
      expect(m.id).toMatch(/^\d+-\d+$/);
      expect(Math.abs(m.ts - Date.now())).toBeLessThan(60_000);
      await ann.waitFor((f) => f.type === 'message' && (f.message as Message).id === m.id, 5000, 'live message');

      const again = await call(c.api, 'POST', `/api/rooms/${room}/messages`, {
        text: 'deploy finished (retry)',
        from: 'deploy-bot',
        clientMsgId: 'd-1',
      });
      expect(again.status).toBe(201);
      expect((again.body.message as Message).id).toBe(m.id);
      const h = await call(c.api, 'GET', `/api/rooms/${room}/messages`);
      expect((h.body.messages as Message[]).map((x) => x.id)).toEqual([m.id]);
    });

    it('pages history with before and limit, oldest first', async () => {
      const room = uid('hist');
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const r = await call(c.api, 'POST', `/api/rooms/${room}/messages`, { text: `m${i}`, from: 'writer' });
        expect(r.status).toBe(201);
        ids.push((r.body.message as Message).id);
      }
      const p1 = await call(c.api, 'GET', `/api/rooms/${room}/messages?limit=2`);
      expect(p1.status).toBe(200);
      expect((p1.body.messages as Message[]).map((m) => m.text)).toEqual(['m3', 'm4']);
      expect(p1.body.hasMore).toBe(true);
      const p2 = await call(c.api, 'GET', `/api/rooms/${room}/messages?limit=2&before=${ids[3]}`);
      expect((p2.body.messages as Message[]).map((m) => m.text)).toEqual(['m1', 'm2']);
      const p3 = await call(c.api, 'GET', `/api/rooms/${room}/messages?limit=2&before=${ids[1]}`);
      expect((p3.body.messages as Message[]).map((m) => m.text)).toEqual(['m0']);
      expect(p3.body.hasMore).toBe(false);
      const capped = await call(c.api, 'GET', `/api/rooms/${room}/messages?limit=100000`);
      expect(capped.status).toBe(200);
      expect(capped.body.messages as Message[]).toHaveLength(5);
      const empty = await call(c.api, 'GET', `/api/rooms/${uid('nobody')}/messages`);
      expect(empty.body).toEqual({ messages: [], hasMore: false });
    });

    it('validates requests: 400 BAD_REQUEST naming the problem', async () => {
      const room = uid('val');
      const cases: Array<[unknown, RegExp]> = [
        [{ from: 'ann' }, /"text" is required/],
        [{ text: 'hi' }, /"from" is required/],
        [{ text: 5, from: 'ann' }, /"text"/],
        [{ text: '', from: 'ann' }, /"text"/],
        [{ text: 'hi', from: 'bad id!' }, /"from"/],
        [{ text: 'hi', from: 'ann', clientMsgId: '' }, /"clientMsgId"/],
        [{ text: 'hi', from: 'ann', clientMsgId: 'x'.repeat(129) }, /"clientMsgId"/],
        [{ text: 'hi', from: 'ann', name: 7 }, /"name"/],
        ['{not json', /not valid JSON/],
        ['[1,2]', /JSON object/],
        ['', /empty/],
      ];
      for (const [body, message] of cases) {
        const r = await call(c.api, 'POST', `/api/rooms/${room}/messages`, body);
        expectError(r, 400, 'BAD_REQUEST');
        expect((r.body.error as { message: string }).message).toMatch(message);
      }
      expectError(
        await call(c.api, 'POST', '/api/rooms/bad%20room/messages', { text: 'x', from: 'a' }),
        400,
        'BAD_REQUEST',
      );
      expectError(await call(c.api, 'GET', `/api/rooms/${'r'.repeat(129)}/messages`), 400, 'BAD_REQUEST');
      expectError(await call(c.api, 'GET', `/api/rooms/${room}/messages?before=yesterday`), 400, 'BAD_REQUEST');
      for (const limit of ['0', '-1', 'ten', '1.5', '']) {
        expectError(await call(c.api, 'GET', `/api/rooms/${room}/messages?limit=${limit}`), 400, 'BAD_REQUEST');
      }
      expectError(await call(c.api, 'GET', '/api/presence?status=invisible'), 400, 'BAD_REQUEST');
      expectError(await call(c.api, 'GET', '/api/presence?limit=0'), 400, 'BAD_REQUEST');
      expectError(await call(c.api, 'GET', '/api/users/no%20pe/presence'), 400, 'BAD_REQUEST');
      // Nothing was stored by any of them.
      expect((await call(c.api, 'GET', `/api/rooms/${room}/messages`)).body.messages).toEqual([]);
    });

    it('answers limits with 413 TOO_LARGE, private rooms with 403, unknown routes 404, wrong methods 405', async () => {
      const room = uid('lim');
      const long = await call(c.api, 'POST', `/api/rooms/${room}/messages`, { text: 'x'.repeat(101), from: 'ann' });
      expectError(long, 413, 'TOO_LARGE');
      const huge = await call(c.api, 'POST', `/api/rooms/${room}/messages`, { text: 'x'.repeat(5000), from: 'ann' });
      expectError(huge, 413, 'TOO_LARGE');
      expect((huge.body.error as { message: string }).message).toMatch(/body/);

      expectError(
        await call(c.api, 'POST', '/api/rooms/dm:ann:bob/messages', { text: 'hi', from: 'eve' }),
        403,
        'FORBIDDEN',
      );
      expect((await call(c.api, 'POST', '/api/rooms/dm:ann:bob/messages', { text: 'hi', from: 'bob' })).status).toBe(
        201,
      );
      expectError(
        await call(c.api, 'POST', '/api/rooms/dm:bob:ann/messages', { text: 'hi', from: 'bob' }),
        403,
        'FORBIDDEN',
      );

      expectError(await call(c.api, 'GET', '/api/rooms'), 404, 'NOT_FOUND');
      expectError(await call(c.api, 'GET', '/api/rooms/x/messages/1-0/extra'), 404, 'NOT_FOUND');
      const getOne = await call(c.api, 'GET', '/api/rooms/x/messages/1-0');
      expectError(getOne, 405, 'BAD_REQUEST');
      expect(getOne.headers.get('allow')).toBe('PATCH, DELETE');
      expectError(await call(c.api, 'GET', '/nothing-here'), 404, 'NOT_FOUND');
      const del = await call(c.api, 'DELETE', `/api/rooms/${room}/messages`);
      expectError(del, 405, 'BAD_REQUEST');
      expect(del.headers.get('allow')).toBe('POST, GET');
      const get = await call(c.api, 'GET', '/api/users/ann/disconnect');
      expectError(get, 405, 'BAD_REQUEST');
      expect(get.headers.get('allow')).toBe('POST');
    });

    it('reports room, user and cluster-wide presence', async () => {
      const room = uid('pres');
      const annId = uid('ann');
      const bobId = uid('bob');
      const ann = await client(annId, 'Ann');
      const bob = await client(bobId);
      await ann.ok({ type: 'join', room });
      await bob.ok({ type: 'join', room });
      await bob.ok({ type: 'status', status: 'away', text: 'lunch' });

      const rp = await call(c.api, 'GET', `/api/rooms/${room}/presence`);
      expect(rp.status).toBe(200);
      expect(rp.body.count).toBe(2);
      const members = rp.body.members as PresenceEntry[];
      expect(members.find((m) => m.user === annId)).toMatchObject({ status: 'online', name: 'Ann' });
      expect(members.find((m) => m.user === bobId)).toMatchObject({ status: 'away', text: 'lunch' });

      expect((await call(c.api, 'GET', `/api/users/${annId}/presence`)).body).toMatchObject({
        user: annId,
        status: 'online',
      });
      const ghost = await call(c.api, 'GET', `/api/users/${uid('ghost')}/presence`);
      expect(ghost.status).toBe(200);
      expect(ghost.body.status).toBe('offline');

      const online = await call(c.api, 'GET', '/api/presence?status=online');
      expect(online.status).toBe(200);
      const onlineUsers = (online.body.users as PresenceEntry[]).map((u) => u.user);
      expect(onlineUsers).toContain(annId);
      expect(onlineUsers).not.toContain(bobId);
      expect(online.body.count as number).toBeGreaterThanOrEqual(1);
      const dflt = await call(c.api, 'GET', '/api/presence');
      expect((dflt.body.users as PresenceEntry[]).map((u) => u.user)).toContain(annId);
      const away = await call(c.api, 'GET', '/api/presence?status=away');
      expect((away.body.users as PresenceEntry[]).map((u) => u.user)).toEqual(expect.arrayContaining([bobId]));

      await bob.ok({ type: 'status', status: 'invisible' });
      const after = await call(c.api, 'GET', `/api/users/${bobId}/presence`);
      expect(after.body.status).toBe('offline');
      const listed = await call(c.api, 'GET', '/api/presence?status=away');
      expect((listed.body.users as PresenceEntry[]).map((u) => u.user)).not.toContain(bobId);

      ann.close();
      await ann.closed;
      await expect
        .poll(async () => (await call(c.api, 'GET', `/api/users/${annId}/presence`)).body.status, { timeout: 5000 })
        .toBe('offline');
      const gone = await call(c.api, 'GET', `/api/users/${annId}/presence`);
      expect(typeof gone.body.lastSeen).toBe('number');
    });

    it("disconnects all of a user's connections with 4003", async () => {
      const user = uid('kick');
      const one = await client(user);
      const two = await client(user);
      const other = await client(uid('stay'));
      const r = await call(c.api, 'POST', `/api/users/${user}/disconnect`);
      expect(r.status).toBe(200);
      expect(r.body).toEqual({});
      const closes = await Promise.all([one.closed, two.closed]);
      expect(closes.map((x) => x.code)).toEqual([4003, 4003]);
      expect(await other.ok({ type: 'ping' })).toEqual({});
      // A user with no connection: still 200.
      expect((await call(c.api, 'POST', `/api/users/${uid('nobody')}/disconnect`)).status).toBe(200);
    });

    it('never serves files outside the web root', async () => {
      for (const path of [
        '/../../../../etc/passwd',
        '/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd',
        '/..%5c..%5cetc/passwd',
        '/%00',
      ]) {
        const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
          const req = httpRequest({ host: '127.0.0.1', port: c.api.port, path, method: 'GET' }, (res) => {
            let text = '';
            res.on('data', (d: Buffer) => (text += d.toString()));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
          });
          req.on('error', reject);
          req.end();
        });
        expect(status, path).toBe(404);
        expect(body).not.toContain('root:');
        expect(JSON.parse(body)).toMatchObject({ error: { code: 'NOT_FOUND' } });
      }
    });

    it('serves health, readiness and metrics without the key', async () => {
      expect((await call(c.api, 'POST', `/api/rooms/${uid('m')}/messages`, { text: 'x', from: 'ann' })).status).toBe(
        201,
      );
      const h = await fetch(`${c.api.url}/healthz`);
      expect(h.status).toBe(200);
      expect(await h.json()).toEqual({ status: 'ok' });
      const r = await fetch(`${c.api.url}/readyz`);
      expect(r.status).toBe(200);
      expect(await r.json()).toMatchObject({ status: 'ready' });
      const m = await fetch(`${c.api.url}/metrics`);
      expect(m.status).toBe(200);
      expect(m.headers.get('content-type')).toMatch(/^text\/plain/);
      expect(await m.text()).toMatch(
        /^parley_http_requests_total\{route="\/api\/rooms\/\{room\}\/messages",status="201"\} \d+$/m,
      );
    });
  });
}
