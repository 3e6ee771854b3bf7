/**
 * Replies, edits, deletes and reactions over real sockets and the HTTP API,
 * on one memory node and on two Redis nodes (clients alternate between
 * them): permissions, every error code, event fan-out, concurrent reactions,
 * recovery with `changed` after a client was away.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Message } from '../../src/protocol/frames.js';
import { compareMessageIds } from '../../src/protocol/ids.js';
import { connect, type Frame, type TestClient } from '../support/client.js';
import { sleep, waitFor } from '../support/ports.js';
import type { RunningNode } from '../support/server.js';

export const MESSAGES_KEY = 'messages-test-key';

export interface MessagesCluster {
  nodes: RunningNode[];
  stop(): Promise<void>;
}

let n = 0;
const uniq = (p: string): string => `${p}-${++n}-${Math.random().toString(36).slice(2, 7)}`;

type Json = Record<string, unknown>;

async function api(node: RunningNode, method: string, path: string, body?: unknown, key: string | null = MESSAGES_KEY) {
  const headers: Record<string, string> = {};
  if (key !== null) headers.Authorization = `Bearer ${key}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(`${node.url}${path}`, {
    method,
    headers,
    body: body === undefined ? null : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text === '' ? {} : JSON.parse(text)) as Json };
}

/** Applies `messages` and `changed` of a join reply to a client-side view (id -> message). */
function apply(view: Map<string, Message>, batch: Message[] | undefined): void {
  for (const m of batch ?? []) view.set(m.id, m);
}

export function messagesSuite(name: string, makeCluster: () => Promise<MessagesCluster>): void {
  describe(`messages: replies, edits, deletes, reactions: ${name}`, () => {
    let cluster: MessagesCluster;
    const clients: TestClient[] = [];
    let next = 0;
    const client = async (user: string, opts: { roles?: string; at?: number } = {}): Promise<TestClient> => {
      const nodes = cluster.nodes;
      const node = nodes[(opts.at ?? next++) % nodes.length]!;
      const q = new URLSearchParams({ user });
      if (opts.roles) q.set('roles', opts.roles);
      const c = await connect(`${node.wsUrl}?${q.toString()}`);
      clients.push(c);
      return c;
    };
    const code = async (c: TestClient, frame: Json): Promise<string> => {
      const r = await c.request(frame);
      return r.ok ? 'ok' : r.error.code;
    };
    const send = async (c: TestClient, room: string, text: string, extra: Json = {}): Promise<Message> =>
      (await c.ok<{ message: Message }>({ type: 'send', room, text, ...extra })).message;
    const events = (c: TestClient, room: string, type?: string): Frame[] =>
      c.events.filter((f) => f.room === room && (type === undefined ? f.type !== 'presence' : f.type === type));

    beforeAll(async () => {
      cluster = await makeCluster();
    });
    afterAll(async () => {
      for (const c of clients) c.close();
      await cluster.stop();
    });

    it('replies: replyTo is stored and delivered; NOT_FOUND for unknown, deleted or other-room ids', async () => {
      const room = uniq('reply');
      const ann = await client(uniq('ann'));
      const bob = await client(uniq('bob'));
      await ann.ok({ type: 'join', room });
      await bob.ok({ type: 'join', room });
      const q = await send(ann, room, 'question?');
      const a = await send(bob, room, 'answer', { replyTo: q.id });
      expect(a.replyTo).toBe(q.id);
      const live = await ann.waitFor((f) => f.type === 'message' && (f.message as Message).id === a.id);
      expect((live.message as Message).replyTo).toBe(q.id);
      expect(await code(bob, { type: 'send', room, text: 'x', replyTo: '1-0' })).toBe('NOT_FOUND');
      expect(await code(bob, { type: 'send', room, text: 'x', replyTo: 'nope' })).toBe('BAD_REQUEST');
      const other = uniq('other');
      await bob.ok({ type: 'join', room: other });
      expect(await code(bob, { type: 'send', room: other, text: 'x', replyTo: q.id })).toBe('NOT_FOUND');
      await ann.ok({ type: 'delete', room, messageId: q.id });
      expect(await code(bob, { type: 'send', room, text: 'x', replyTo: q.id })).toBe('NOT_FOUND');
      const page = await bob.ok<{ messages: Message[] }>({ type: 'history', room });
      expect(page.messages.map((m) => m.text)).toEqual(['', 'answer']);
      expect(page.messages[1]!.replyTo).toBe(q.id);
    });

    it('answers every error code of the lifecycle commands and keeps the connection', async () => {
      const room = uniq('errors');
      const ann = await client(uniq('ann'));
      const bob = await client(uniq('bob'));
      const outsider = await client(uniq('out'));
      await ann.ok({ type: 'join', room });
      await bob.ok({ type: 'join', room });
      const m = await send(ann, room, 'mine');
      const id = m.id;
      // NOT_JOINED for all four
      for (const f of [
        { type: 'edit', room, messageId: id, text: 'x' },
        { type: 'delete', room, messageId: id },
        { type: 'react', room, messageId: id, emoji: '👍' },
        { type: 'unreact', room, messageId: id, emoji: '👍' },
      ]) {
        expect(await code(outsider, f), f.type).toBe('NOT_JOINED');
      }
      // BAD_REQUEST: malformed ids, missing fields, bad emoji, empty text
      expect(await code(ann, { type: 'edit', room, messageId: 'abc', text: 'x' })).toBe('BAD_REQUEST');
      expect(await code(ann, { type: 'edit', room, messageId: id })).toBe('BAD_REQUEST');
      expect(await code(ann, { type: 'edit', room, messageId: id, text: '' })).toBe('BAD_REQUEST');
      expect(await code(ann, { type: 'delete', room })).toBe('BAD_REQUEST');
      for (const emoji of ['', 'thumbs up', ' ', '👍\n', 'a'.repeat(33), '\u0000x', 7]) {
        expect(await code(bob, { type: 'react', room, messageId: id, emoji }), JSON.stringify(emoji)).toBe(
          'BAD_REQUEST',
        );
      }
      expect(await code(bob, { type: 'react', room, messageId: id, emoji: 'a'.repeat(32) })).toBe('ok');
      expect(await code(bob, { type: 'react', room, messageId: id, emoji: '👨‍👩‍👧‍👦' })).toBe('ok');
      expect(await code(bob, { type: 'react', room, messageId: id, emoji: ':party_parrot:' })).toBe('ok');
      // TOO_LARGE: edit text limits as send
      expect(await code(ann, { type: 'edit', room, messageId: id, text: 'x'.repeat(4001) })).toBe('TOO_LARGE');
      // FORBIDDEN: others' messages
      expect(await code(bob, { type: 'edit', room, messageId: id, text: 'hijack' })).toBe('FORBIDDEN');
      expect(await code(bob, { type: 'delete', room, messageId: id })).toBe('FORBIDDEN');
      // NOT_FOUND: unknown ids
      expect(await code(ann, { type: 'edit', room, messageId: '1-0', text: 'x' })).toBe('NOT_FOUND');
      expect(await code(ann, { type: 'react', room, messageId: '1-0', emoji: '👍' })).toBe('NOT_FOUND');
      // LIMIT: a 21st distinct emoji (3 are on it already)
      for (let i = 0; i < 17; i++)
        expect(await code(ann, { type: 'react', room, messageId: id, emoji: `:e${i}:` })).toBe('ok');
      expect(await code(ann, { type: 'react', room, messageId: id, emoji: ':e99:' })).toBe('LIMIT');
      expect(await code(ann, { type: 'react', room, messageId: id, emoji: ':e1:' })).toBe('ok'); // already there: fine
      // NOT_FOUND once deleted, for everything
      await ann.ok({ type: 'delete', room, messageId: id });
      for (const f of [
        { type: 'edit', room, messageId: id, text: 'x' },
        { type: 'delete', room, messageId: id },
        { type: 'react', room, messageId: id, emoji: '👍' },
        { type: 'unreact', room, messageId: id, emoji: ':e1:' },
      ]) {
        expect(await code(ann, f), f.type).toBe('NOT_FOUND');
      }
      // still connected
      expect(await code(ann, { type: 'ping' })).toBe('ok');
    });

    it('lets the author edit, the author or a moderator delete, and fans the events out to every member', async () => {
      const room = uniq('fanout');
      const ann = await client(uniq('ann'));
      const bob = await client(uniq('bob'));
      const mod = await client(uniq('mod'), { roles: 'moderator' });
      const admin = await client(uniq('admin'), { roles: 'admin' });
      const all = [ann, bob, mod, admin];
      for (const c of all) await c.ok({ type: 'join', room });
      const m1 = await send(ann, room, 'helo');
      const m2 = await send(bob, room, 'two');
      const m3 = await send(bob, room, 'three');
      const edited = (await ann.ok<{ message: Message }>({ type: 'edit', room, messageId: m1.id, text: 'hello' }))
        .message;
      expect(edited).toMatchObject({ id: m1.id, from: m1.from, text: 'hello', ts: m1.ts });
      expect(edited.editedAt).toBeGreaterThanOrEqual(m1.ts);
      // moderators may delete others' messages but not edit them
      expect(await code(mod, { type: 'edit', room, messageId: m2.id, text: 'x' })).toBe('FORBIDDEN');
      const tomb = (await mod.ok<{ message: Message }>({ type: 'delete', room, messageId: m2.id })).message;
      expect(tomb).toEqual({ id: m2.id, room, from: m2.from, ts: m2.ts, text: '', deleted: true });
      await admin.ok({ type: 'delete', room, messageId: m3.id });
      const r = (await bob.ok<{ message: Message }>({ type: 'react', room, messageId: m1.id, emoji: '🎉' })).message;
      expect(r.reactions).toEqual({ '🎉': { count: 1, users: [m2.from] } });
      // no-ops change nothing and send nothing
      await bob.ok({ type: 'react', room, messageId: m1.id, emoji: '🎉' });
      await bob.ok({ type: 'unreact', room, messageId: m1.id, emoji: '🚀' });
      await ann.ok({ type: 'edit', room, messageId: m1.id, text: 'hello' });
      await bob.ok({ type: 'unreact', room, messageId: m1.id, emoji: '🎉' });
      for (const c of all) {
        await waitFor(() => events(c, room).filter((f) => f.type !== 'message').length >= 5, 5000, 'change events');
      }
      await sleep(150);
      const expected = [
        { type: 'edited', room, message: edited },
        { type: 'deleted', room, messageId: m2.id },
        { type: 'deleted', room, messageId: m3.id },
        { type: 'reaction', room, messageId: m1.id, emoji: '🎉', user: m2.from, op: 'add', count: 1 },
        { type: 'reaction', room, messageId: m1.id, emoji: '🎉', user: m2.from, op: 'remove', count: 0 },
      ];
      for (const c of all) expect(events(c, room).filter((f) => f.type !== 'message')).toEqual(expected);
      const page = await ann.ok<{ messages: Message[] }>({ type: 'history', room });
      expect(page.messages).toEqual([edited, tomb, { ...tomb, id: m3.id, ts: m3.ts }]);
    });

    it('ends concurrent reactions from many users on every node in the same state, seen in one order', async () => {
      const room = uniq('hot');
      const author = await client(uniq('author'));
      await author.ok({ type: 'join', room });
      const m = await send(author, room, 'react to me');
      const users: TestClient[] = [];
      for (let i = 0; i < 24; i++) users.push(await client(uniq(`u${i}`)));
      await Promise.all(users.map((u) => u.ok({ type: 'join', room })));
      await Promise.all(
        users.flatMap((u, i) => [
          u.ok({ type: 'react', room, messageId: m.id, emoji: '🔥' }),
          u.ok({ type: 'react', room, messageId: m.id, emoji: '👀' }),
          ...(i % 3 === 0 ? [u.ok({ type: 'unreact', room, messageId: m.id, emoji: '👀' })] : []),
        ]),
      );
      const total = 24 * 2 + 8;
      const watchers = [author, users[0]!, users[1]!];
      for (const w of watchers)
        await waitFor(() => events(w, room, 'reaction').length === total, 8000, 'all reactions');
      const orders = watchers.map((w) => JSON.stringify(events(w, room, 'reaction')));
      expect(orders[1]).toBe(orders[0]);
      expect(orders[2]).toBe(orders[0]);
      const fire = events(author, room, 'reaction').filter((f) => f.emoji === '🔥');
      expect(fire.map((f) => f.count)).toEqual(Array.from({ length: 24 }, (_, i) => i + 1));
      const states = await Promise.all(
        cluster.nodes.map(async (node) => {
          const r = await api(node, 'GET', `/api/rooms/${room}/messages`);
          return (r.body.messages as Message[])[0]!;
        }),
      );
      for (const s of states) {
        expect(s.reactions!['🔥']).toMatchObject({ count: 24 });
        expect(s.reactions!['🔥']!.users).toHaveLength(20);
        expect(s.reactions!['👀']!.count).toBe(16);
        expect(s).toEqual(states[0]);
      }
      const lastEyes = events(author, room, 'reaction')
        .filter((f) => f.emoji === '👀')
        .at(-1)!;
      expect(lastEyes.count).toBe(16);
    });

    it('recovers with join since: missed messages and `changed` give the same view as a fresh history', async () => {
      const room = uniq('recover');
      const ann = await client(uniq('ann'));
      const bobUser = uniq('bob');
      const bob = await client(bobUser);
      const mod = await client(uniq('mod'), { roles: 'moderator' });
      for (const c of [ann, bob, mod]) await c.ok({ type: 'join', room });
      const old: Message[] = [];
      for (let i = 0; i < 6; i++) old.push(await send(i % 2 ? bob : ann, room, `old ${i}`));
      // bob's view before going away
      const view = new Map<string, Message>();
      apply(view, (await bob.ok<{ messages: Message[] }>({ type: 'history', room })).messages);
      const since = old.at(-1)!.id;
      bob.close();
      // while bob is away: edits, deletes, reactions to old messages; new messages, changed too
      await ann.ok({ type: 'edit', room, messageId: old[0]!.id, text: 'old 0, edited' });
      await mod.ok({ type: 'delete', room, messageId: old[1]!.id });
      await ann.ok({ type: 'react', room, messageId: old[3]!.id, emoji: '👍' });
      await mod.ok({ type: 'react', room, messageId: old[3]!.id, emoji: '👍' });
      await ann.ok({ type: 'react', room, messageId: old[5]!.id, emoji: '✅' });
      const fresh1 = await send(ann, room, 'new 1');
      const fresh2 = await send(mod, room, 'new 2');
      await ann.ok({ type: 'react', room, messageId: fresh1.id, emoji: '🎉' });
      await mod.ok({ type: 'edit', room, messageId: fresh2.id, text: 'new 2, edited' });
      const back = await client(bobUser);
      const r = await back.ok<{ messages: Message[]; changed: Message[]; recovered: boolean }>({
        type: 'join',
        room,
        since,
      });
      expect(r.recovered).toBe(true);
      expect(r.messages.map((m) => m.text)).toEqual(['new 1', 'new 2, edited']);
      expect(r.messages[0]!.reactions).toEqual({ '🎉': { count: 1, users: [fresh1.from] } });
      expect(r.changed.map((m) => m.id)).toEqual([old[0]!.id, old[1]!.id, old[3]!.id, old[5]!.id]);
      apply(view, r.messages);
      apply(view, r.changed);
      const history = (await back.ok<{ messages: Message[] }>({ type: 'history', room })).messages;
      expect([...view.values()].sort((a, b) => compareMessageIds(a.id, b.id))).toEqual(history);
      // nothing covered by the reply arrives again as a live event
      await send(ann, room, 'after');
      await ann.ok({ type: 'react', room, messageId: old[2]!.id, emoji: '🙂' });
      await back.waitFor((f) => f.type === 'reaction' && f.emoji === '🙂', 5000, 'the new reaction');
      await sleep(100);
      expect(events(back, room).map((f) => (f.type === 'message' ? (f.message as Message).text : f.type))).toEqual([
        'after',
        'reaction',
      ]);
    });

    it('says recovered:false with more changes than the recovery limit', async () => {
      const room = uniq('toomany');
      const ann = await client(uniq('ann'));
      await ann.ok({ type: 'join', room });
      const m = await send(ann, room, 'popular');
      const since = await send(ann, room, 'since');
      const reactors: TestClient[] = [];
      for (let i = 0; i < 9; i++) reactors.push(await client(uniq(`r${i}`)));
      for (const c of reactors) {
        await c.ok({ type: 'join', room });
        await c.ok({ type: 'react', room, messageId: m.id, emoji: '👍' });
      }
      const late = await client(uniq('late'));
      const r = await late.ok<{ recovered: boolean; changed: Message[] }>({ type: 'join', room, since: since.id });
      // the suite's nodes run with PARLEY_RECOVERY_MAX=8: 9 changes are too many
      expect(r.recovered).toBe(false);
    });

    it('HTTP: PATCH edits as the server (from kept), DELETE deletes; validated; events reach the room', async () => {
      const node = cluster.nodes[0]!;
      const room = uniq('http');
      const ann = await client(uniq('ann'));
      await ann.ok({ type: 'join', room });
      const m = await send(ann, room, 'typo');
      const path = `/api/rooms/${room}/messages/${m.id}`;
      expect((await api(node, 'PATCH', path, { text: 'fixed' }, null)).status).toBe(401);
      expect((await api(node, 'DELETE', path, undefined, 'wrong')).status).toBe(401);
      const bad = await api(node, 'PATCH', path, { text: '' });
      expect(bad.status).toBe(400);
      expect((bad.body.error as Json).code).toBe('BAD_REQUEST');
      expect((await api(node, 'PATCH', path, {})).status).toBe(400);
      expect((await api(node, 'PATCH', path, { text: 'x'.repeat(4001) })).status).toBe(413);
      expect((await api(node, 'PATCH', `/api/rooms/${room}/messages/not-an-id`, { text: 'x' })).status).toBe(400);
      const missing = await api(node, 'PATCH', `/api/rooms/${room}/messages/1-0`, { text: 'x' });
      expect(missing.status).toBe(404);
      expect((missing.body.error as Json).code).toBe('NOT_FOUND');
      const ok = await api(node, 'PATCH', path, { text: 'fixed' });
      expect(ok.status).toBe(200);
      const edited = (ok.body as { message: Message }).message;
      expect(edited).toMatchObject({ id: m.id, from: m.from, text: 'fixed' });
      await ann.waitFor((f) => f.type === 'edited' && (f.message as Message).text === 'fixed');
      const history = await api(cluster.nodes.at(-1)!, 'GET', `/api/rooms/${room}/messages`);
      expect((history.body.messages as Message[])[0]).toEqual(edited);
      const del = await api(node, 'DELETE', path);
      expect(del.status).toBe(200);
      expect((del.body as { message: Message }).message).toEqual({
        id: m.id,
        room,
        from: m.from,
        ts: m.ts,
        text: '',
        deleted: true,
      });
      await ann.waitFor((f) => f.type === 'deleted' && f.messageId === m.id);
      expect((await api(node, 'DELETE', path)).status).toBe(404);
      expect((await api(node, 'PATCH', path, { text: 'again' })).status).toBe(404);
      // replies over HTTP too
      const q = await send(ann, room, 'q');
      const reply = await api(node, 'POST', `/api/rooms/${room}/messages`, { text: 'a', from: 'bot', replyTo: q.id });
      expect(reply.status).toBe(201);
      expect((reply.body as { message: Message }).message.replyTo).toBe(q.id);
      const noTarget = await api(node, 'POST', `/api/rooms/${room}/messages`, {
        text: 'a',
        from: 'bot',
        replyTo: m.id,
      });
      expect(noTarget.status).toBe(404);
    });
  });
}
