/**
 * Moderation over real sockets and the HTTP API, on one memory node and on
 * two Redis nodes (the moderator, the target's devices and the bystanders
 * spread over both): permission matrix, bans with the `removed` event,
 * mutes, slow mode, topics.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Message } from '../../src/protocol/frames.js';
import { connect, type TestClient } from '../support/client.js';
import { waitFor } from '../support/ports.js';
import type { RunningNode } from '../support/server.js';

export const KEY = 'moderation-test-key';

export interface ModCluster {
  nodes: RunningNode[];
  stop(): Promise<void>;
}

let n = 0;
export const uniq = (p: string): string => `${p}-${++n}-${Math.random().toString(36).slice(2, 7)}`;

/** Calls the API of a node; `key` null sends none. */
export async function api(
  node: RunningNode,
  method: string,
  path: string,
  body?: unknown,
  key: string | null = KEY,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const headers: Record<string, string> = {};
  if (key !== null) headers.Authorization = `Bearer ${key}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(`${node.url}${path}`, {
    method,
    headers,
    body: body === undefined ? null : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

export function moderationSuite(name: string, makeCluster: () => Promise<ModCluster>): void {
  describe(`moderation: ${name}`, () => {
    let cluster: ModCluster;
    const clients: TestClient[] = [];
    let next = 0;
    /** A dev-mode client on node `at` (default: alternating); `roles` as the `?roles=` list. */
    const client = async (user: string, opts: { roles?: string; at?: number } = {}): Promise<TestClient> => {
      const nodes = cluster.nodes;
      const node = nodes[(opts.at ?? next++) % nodes.length]!;
      const q = new URLSearchParams({ user });
      if (opts.roles) q.set('roles', opts.roles);
      const c = await connect(`${node.wsUrl}?${q.toString()}`);
      clients.push(c);
      return c;
    };
    const mod = (at?: number): Promise<TestClient> =>
      client(uniq('mod'), at === undefined ? { roles: 'moderator' } : { roles: 'moderator', at });
    const errorCode = async (c: TestClient, frame: Record<string, unknown>): Promise<string> => {
      const r = await c.request(frame);
      return r.ok ? 'ok' : r.error.code;
    };

    beforeAll(async () => {
      cluster = await makeCluster();
    });
    afterAll(async () => {
      for (const c of clients) c.close();
      await cluster.stop();
    });

    it('lets only moderators (JWT/dev roles moderator or admin) and the API key moderate; no join needed', async () => {
      const room = uniq('perm');
      const plain = await client(uniq('user'));
      const other = await client(uniq('user'), { roles: 'viewer,editor' });
      const moderator = await mod();
      const admin = await client(uniq('admin'), { roles: 'admin' });
      const target = uniq('target');
      const commands = [
        { type: 'ban', room, user: target },
        { type: 'ban', room, user: target, seconds: 60 },
        { type: 'unban', room, user: target },
        { type: 'mute', room, user: target },
        { type: 'mute', room, user: target, seconds: 60 },
        { type: 'unmute', room, user: target },
      ];
      for (const cmd of commands) {
        expect(await errorCode(plain, cmd), JSON.stringify(cmd)).toBe('FORBIDDEN');
        expect(await errorCode(other, cmd), JSON.stringify(cmd)).toBe('FORBIDDEN');
        expect(await errorCode(moderator, cmd), JSON.stringify(cmd)).toBe('ok');
        expect(await errorCode(admin, cmd), JSON.stringify(cmd)).toBe('ok');
      }
      expect(await errorCode(moderator, { type: 'ban', room, user: target, seconds: 0 })).toBe('BAD_REQUEST');
      expect(await errorCode(moderator, { type: 'mute', room, user: 'bad id!' })).toBe('BAD_REQUEST');
      const node = cluster.nodes[0]!;
      for (const [method, path, body] of [
        ['PUT', `/api/rooms/${room}/bans/${target}`, {}],
        ['PUT', `/api/rooms/${room}/bans/${target}`, { seconds: 30 }],
        ['DELETE', `/api/rooms/${room}/bans/${target}`, undefined],
        ['PUT', `/api/rooms/${room}/mutes/${target}`, {}],
        ['DELETE', `/api/rooms/${room}/mutes/${target}`, undefined],
        ['PUT', `/api/rooms/${room}/settings`, { topic: 'x' }],
      ] as const) {
        expect((await api(node, method, path, body, null)).status, `${method} ${path} without key`).toBe(401);
        expect((await api(node, method, path, body, 'wrong')).status).toBe(401);
        expect((await api(node, method, path, body)).status, `${method} ${path}`).toBe(200);
      }
      expect((await api(node, 'PUT', `/api/rooms/${room}/bans/${target}`, { seconds: -1 })).status).toBe(400);
      expect((await api(node, 'PUT', `/api/rooms/${room}/mutes/${target}`, { seconds: 'x' })).status).toBe(400);
    });

    it('a ban takes every connection of the user out of the room on every node, at once', async () => {
      const room = uniq('ban');
      const keep = uniq('keep');
      const bob = uniq('bob');
      const bob1 = await client(bob, { at: 0 });
      const bob2 = await client(bob, { at: 1 });
      const ann = await client(uniq('ann'), { at: 1 });
      for (const c of [bob1, bob2]) {
        await c.ok({ type: 'join', room });
        await c.ok({ type: 'join', room: keep });
      }
      await ann.ok({ type: 'join', room });
      const moderator = await mod(0);
      await moderator.ok({ type: 'ban', room, user: bob });
      for (const c of [bob1, bob2]) {
        const ev = await c.waitFor((f) => f.type === 'removed', 5000, 'removed');
        expect(ev).toEqual({ type: 'removed', room, reason: 'banned' });
      }
      const leave = await ann.waitFor(
        (f) => f.type === 'presence' && f.event === 'leave' && (f.member as { user: string }).user === bob,
        5000,
        'presence leave',
      );
      expect(leave.room).toBe(room);
      // Out of the room for real: no more messages from it; other rooms untouched.
      const { message } = await ann.ok<{ message: Message }>({ type: 'send', room, text: 'after the ban' });
      const probe = await bob1.ok<{ message: Message }>({ type: 'send', room: keep, text: 'still here' });
      await bob2.waitFor((f) => f.type === 'message' && (f.message as Message).id === probe.message.id);
      await bob1.waitFor((f) => f.type === 'message' && (f.message as Message).id === probe.message.id);
      for (const c of [bob1, bob2]) expect(c.messages(room).map((m) => m.id)).not.toContain(message.id);
      // FORBIDDEN where the contract says, on both nodes.
      for (const c of [bob1, bob2]) {
        expect(await errorCode(c, { type: 'join', room })).toBe('FORBIDDEN');
        expect(await errorCode(c, { type: 'send', room, text: 'x' })).toBe('FORBIDDEN');
        expect(await errorCode(c, { type: 'history', room })).toBe('FORBIDDEN');
      }
      const count = await ann.ok<{ count: number }>({ type: 'presence', room });
      expect(count.count).toBe(1);
      // A new connection is refused too; unban lets the user back.
      const bob3 = await client(bob, { at: 1 });
      expect(await errorCode(bob3, { type: 'join', room })).toBe('FORBIDDEN');
      expect(await errorCode(await client(uniq('carl')), { type: 'join', room })).toBe('ok');
      await moderator.ok({ type: 'unban', room, user: bob });
      for (const c of [bob1, bob2, bob3]) await c.ok({ type: 'join', room });
      await bob1.ok({ type: 'send', room, text: 'back' });
    });

    it('a ban through the HTTP API works the same, and a timed ban ends by itself', async () => {
      const room = uniq('timed');
      const bob = uniq('bob');
      const b = await client(bob);
      await b.ok({ type: 'join', room });
      expect(
        (await api(cluster.nodes[1 % cluster.nodes.length]!, 'PUT', `/api/rooms/${room}/bans/${bob}`, { seconds: 1 }))
          .status,
      ).toBe(200);
      await b.waitFor((f) => f.type === 'removed' && f.room === room, 5000, 'removed');
      expect(await errorCode(b, { type: 'join', room })).toBe('FORBIDDEN');
      await waitFor(async () => (await errorCode(b, { type: 'join', room })) === 'ok', 8000, 'the ban to end');
      // A timed mute as well
      await api(cluster.nodes[0]!, 'PUT', `/api/rooms/${room}/mutes/${bob}`, { seconds: 1 });
      expect(await errorCode(b, { type: 'send', room, text: 'muted' })).toBe('FORBIDDEN');
      await waitFor(async () => (await errorCode(b, { type: 'send', room, text: 'free' })) === 'ok', 8000, 'mute end');
    });

    it('a muted user stays joined and reads, but may not send or type', async () => {
      const room = uniq('mute');
      const bob = uniq('bob');
      const b1 = await client(bob, { at: 0 });
      const b2 = await client(bob, { at: 1 });
      const ann = await client(uniq('ann'), { at: 0 });
      for (const c of [b1, b2, ann]) await c.ok({ type: 'join', room });
      const own = await b1.ok<{ message: Message }>({ type: 'send', room, text: 'before the mute' });
      await b1.ok({ type: 'react', room, messageId: own.message.id, emoji: ':wave:' });
      const moderator = await mod(1);
      await moderator.ok({ type: 'mute', room, user: bob });
      const messageId = own.message.id;
      for (const c of [b1, b2]) {
        expect(await errorCode(c, { type: 'send', room, text: 'x' })).toBe('FORBIDDEN');
        expect(await errorCode(c, { type: 'typing', room })).toBe('FORBIDDEN');
        expect(await errorCode(c, { type: 'edit', room, messageId, text: 'changed' })).toBe('FORBIDDEN');
        expect(await errorCode(c, { type: 'react', room, messageId, emoji: ':+1:' })).toBe('FORBIDDEN');
        expect(await errorCode(c, { type: 'history', room })).toBe('ok');
      }
      // Not in the contract's list: taking a reaction back and deleting one's own message stay allowed.
      expect(await errorCode(b2, { type: 'unreact', room, messageId, emoji: ':wave:' })).toBe('ok');
      expect(await errorCode(b2, { type: 'delete', room, messageId })).toBe('ok');
      const { message } = await ann.ok<{ message: Message }>({ type: 'send', room, text: 'you can read this' });
      for (const c of [b1, b2])
        await c.waitFor((f) => f.type === 'message' && (f.message as Message).id === message.id);
      expect(b1.events.some((f) => f.type === 'removed')).toBe(false);
      // Not muted elsewhere; unmute restores.
      const elsewhere = uniq('free');
      await b1.ok({ type: 'join', room: elsewhere });
      await b1.ok({ type: 'send', room: elsewhere, text: 'fine here' });
      await moderator.ok({ type: 'unmute', room, user: bob });
      await b2.ok({ type: 'send', room, text: 'unmuted' });
      await b1.ok({ type: 'typing', room });
    });

    it('slow mode: one message per period per user across devices, moderators exempt, retries pass', async () => {
      const room = uniq('slow');
      const node = cluster.nodes[0]!;
      expect((await api(node, 'PUT', `/api/rooms/${room}/settings`, { slowModeSeconds: 1 })).body).toEqual({
        slowModeSeconds: 1,
        topic: null,
      });
      const bob = uniq('bob');
      const b1 = await client(bob, { at: 0 });
      const b2 = await client(bob, { at: 1 });
      const moderator = await mod();
      for (const c of [b1, b2, moderator]) await c.ok({ type: 'join', room });
      // Wait until a send passes (the period of an earlier test run cannot interfere: fresh room).
      const first = await b1.ok<{ message: Message }>({ type: 'send', room, text: 'one', clientMsgId: 'c1' });
      expect(await errorCode(b1, { type: 'send', room, text: 'two' })).toBe('RATE_LIMITED');
      expect(await errorCode(b2, { type: 'send', room, text: 'two' })).toBe('RATE_LIMITED');
      // The same send again (same clientMsgId) returns the stored message.
      const again = await b2.ok<{ message: Message }>({ type: 'send', room, text: 'one', clientMsgId: 'c1' });
      expect(again.message.id).toBe(first.message.id);
      for (let i = 0; i < 3; i++) await moderator.ok({ type: 'send', room, text: `mod ${i}` });
      await waitFor(async () => (await errorCode(b2, { type: 'send', room, text: 'later' })) === 'ok', 8000, 'slot');
      // Off again: no limit but the per-connection rate.
      await api(node, 'PUT', `/api/rooms/${room}/settings`, { slowModeSeconds: 0 });
      await b1.ok({ type: 'send', room, text: 'a' });
      await b1.ok({ type: 'send', room, text: 'b' });
    });

    it('topic: in the join reply and rooms entries; fields left out keep their value; "" clears; at most 300 characters', async () => {
      const room = uniq('topic');
      const node = cluster.nodes[cluster.nodes.length - 1]!;
      const a = await client(uniq('ann'));
      expect((await a.ok<{ topic?: string }>({ type: 'join', room })).topic).toBeUndefined();
      expect((await api(node, 'PUT', `/api/rooms/${room}/settings`, { topic: 'Release ☕ day' })).status).toBe(200);
      const b = await client(uniq('bob'));
      expect((await b.ok<{ topic?: string }>({ type: 'join', room })).topic).toBe('Release ☕ day');
      expect((await a.ok<{ topic?: string }>({ type: 'join', room })).topic).toBe('Release ☕ day'); // rejoin
      expect((await api(node, 'PUT', `/api/rooms/${room}/settings`, { slowModeSeconds: 0 })).body).toEqual({
        slowModeSeconds: 0,
        topic: 'Release ☕ day',
      });
      const long = await api(node, 'PUT', `/api/rooms/${room}/settings`, { topic: 'x'.repeat(301) });
      expect(long.status).toBe(413);
      expect((await api(node, 'PUT', `/api/rooms/${room}/settings`, { topic: '☕'.repeat(300) })).status).toBe(200);
      expect((await api(node, 'PUT', `/api/rooms/${room}/settings`, { topic: 5 })).status).toBe(400);
      expect((await api(node, 'PUT', `/api/rooms/${room}/settings`, { slowModeSeconds: -1 })).status).toBe(400);
      // `rooms` entries carry the topic too.
      const entries = async (x: TestClient): Promise<Array<{ room: string; topic?: string }>> =>
        (await x.ok<{ rooms: Array<{ room: string; topic?: string }> }>({ type: 'rooms' })).rooms;
      const plain = uniq('plain');
      await b.ok({ type: 'join', room: plain });
      expect((await entries(b)).find((e) => e.room === room)?.topic).toBe('☕'.repeat(300));
      expect((await entries(b)).find((e) => e.room === plain)).not.toHaveProperty('topic');
      await api(node, 'PUT', `/api/rooms/${room}/settings`, { topic: '' });
      const c = await client(uniq('cat'));
      expect((await c.ok<{ topic?: string }>({ type: 'join', room })).topic).toBeUndefined();
      expect((await entries(b)).find((e) => e.room === room)).not.toHaveProperty('topic');
    });
  });
}
