/**
 * The SDK's v2 surface against a real node over real sockets: replies,
 * edits, deletes, reactions (events, the client-side store, errors), the
 * store staying equal to a fresh history across a reconnect that missed
 * edits, deletes and reactions (`changed`), and moderation.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ParleyClientError, type Message, type ParleyClient } from '../../src/sdk/index.js';
import { startNode, type RunningNode } from '../support/server.js';
import { waitFor } from '../support/ports.js';
import { Recorder, SilentProxy, sdkClient } from './helpers.js';

let node: RunningNode;
const clients: ParleyClient[] = [];

function client(user: string, extra: Parameters<typeof sdkClient>[1] = {}): ParleyClient {
  const c = sdkClient(node.url, { user, name: user.toUpperCase(), ...extra });
  clients.push(c);
  return c;
}

const code = async (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => 'ok',
    (e: unknown) => (e instanceof ParleyClientError ? e.code : String(e)),
  );

/** The view a client holds, reduced to what a fresh history would show. */
const shape = (ms: Message[]): unknown[] =>
  ms.map((m) => ({
    id: m.id,
    text: m.text,
    deleted: m.deleted ?? false,
    editedAt: m.editedAt ?? null,
    replyTo: m.replyTo ?? null,
    reactions: m.reactions ?? {},
  }));

beforeAll(async () => {
  node = await startNode();
});
afterAll(async () => {
  await node.stop();
});
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});

describe('SDK v2: replies, edits, deletes, reactions', () => {
  it('every change reaches both clients as typed events and the store holds the current state', async () => {
    const ann = client('ann');
    const bob = client('bob');
    const annUpdates: Message[] = [];
    const bobEdits: string[] = [];
    const bobReactions: string[] = [];
    const bobDeletes: string[] = [];
    ann.on('updated', (m) => annUpdates.push(m));
    bob.on('edited', (e) => bobEdits.push(e.message.text));
    bob.on('reaction', (r) => bobReactions.push(`${r.user}:${r.op}:${r.emoji}:${r.count}`));
    bob.on('deleted', (d) => bobDeletes.push(d.messageId));
    await ann.connect();
    await bob.connect();
    await ann.join('life');
    await bob.join('life');

    const q = await ann.send('life', 'lunch at 12?');
    const a = await bob.send('life', 'yes', { replyTo: q.id });
    expect(a.replyTo).toBe(q.id);
    await waitFor(() => ann.message('life', a.id)?.replyTo === q.id, 3000, 'reply in ann store');

    const edited = await ann.edit('life', q.id, 'lunch at 12:30?');
    expect(edited).toMatchObject({ id: q.id, text: 'lunch at 12:30?' });
    expect(typeof edited.editedAt).toBe('number');
    await waitFor(() => bobEdits.includes('lunch at 12:30?'), 3000, 'bob sees the edit');
    await waitFor(() => bob.message('life', q.id)?.text === 'lunch at 12:30?', 3000);

    await bob.react('life', q.id, '👍');
    await bob.react('life', q.id, '👍'); // twice changes nothing
    await ann.react('life', q.id, '👍');
    await waitFor(() => ann.message('life', q.id)?.reactions?.['👍']?.count === 2, 3000, 'two reactions');
    expect(ann.message('life', q.id)?.reactions).toEqual({ '👍': { count: 2, users: ['bob', 'ann'] } });
    await ann.unreact('life', q.id, '👍');
    await waitFor(() => bob.message('life', q.id)?.reactions?.['👍']?.count === 1, 3000);
    expect(bobReactions).toEqual(['bob:add:👍:1', 'ann:add:👍:2', 'ann:remove:👍:1']);

    const tomb = await bob.delete('life', a.id);
    expect(tomb).toMatchObject({ id: a.id, from: 'bob', deleted: true, text: '' });
    await waitFor(() => ann.message('life', a.id)?.deleted === true, 3000, 'ann sees the tombstone');
    expect(bobDeletes).toEqual([a.id]);
    expect(annUpdates.some((m) => m.id === a.id && m.deleted)).toBe(true);

    // Permissions and errors, from the server.
    expect(await code(bob.edit('life', q.id, 'not mine'))).toBe('FORBIDDEN');
    expect(await code(bob.delete('life', q.id))).toBe('FORBIDDEN');
    expect(await code(bob.edit('life', a.id, 'gone'))).toBe('NOT_FOUND');
    expect(await code(ann.react('life', a.id, '👍'))).toBe('NOT_FOUND');
    expect(await code(ann.react('life', q.id, 'two words'))).toBe('BAD_REQUEST');
    expect(await code(ann.send('life', 'to nothing', { replyTo: '1-0' }))).toBe('NOT_FOUND');
    expect(await code(ann.edit('elsewhere', q.id, 'x'))).toBe('NOT_JOINED');

    // The store matches a fresh history.
    const fresh = await client('cy')
      .connect()
      .then(async () => {
        const cy = clients.at(-1)!;
        await cy.join('life');
        return (await cy.history('life')).messages;
      });
    expect(shape(ann.messages('life'))).toEqual(shape(fresh));
    expect(shape(bob.messages('life'))).toEqual(shape(fresh));
  });

  it('a client that missed edits, deletes and reactions while its socket was dead ends with the same view as history', async () => {
    const proxy = await SilentProxy.start(node.port);
    try {
      const ann = client('ann');
      const bob = sdkClient(proxy.url, { user: 'bob', name: 'Bob', pingIntervalMs: 300, pongTimeoutMs: 400 });
      clients.push(bob);
      const bobRec = new Recorder(bob);
      await ann.connect();
      await bob.connect();
      await ann.join('away');
      await bob.join('away');
      const m1 = await ann.send('away', 'one');
      const m2 = await ann.send('away', 'two');
      const m3 = await ann.send('away', 'three');
      await ann.react('away', m3.id, '🎉');
      await waitFor(() => bob.message('away', m3.id)?.reactions?.['🎉']?.count === 1, 3000, 'bob has all');
      const reconnects = bobRec.states.filter((s) => s.state === 'connected').length;

      proxy.silence(true); // bob hears nothing and says nothing: a dead network
      await ann.edit('away', m1.id, 'one (fixed)');
      await ann.delete('away', m2.id);
      await ann.unreact('away', m3.id, '🎉');
      await ann.react('away', m3.id, '👀');
      await ann.send('away', 'four');

      await waitFor(() => bobRec.states.filter((s) => s.state === 'connected').length > reconnects, 8000, 'back');
      await waitFor(() => bob.messages('away').some((m) => m.text === 'four'), 5000, 'missed message');
      await waitFor(() => bob.message('away', m3.id)?.reactions?.['👀']?.count === 1, 5000, 'changed applied');
      const fresh = (await ann.history('away')).messages;
      expect(shape(bob.messages('away'))).toEqual(shape(fresh));
      expect(bob.message('away', m1.id)?.text).toBe('one (fixed)');
      expect(bob.message('away', m2.id)?.deleted).toBe(true);
      expect(bob.message('away', m3.id)?.reactions).toEqual({ '👀': { count: 1, users: ['ann'] } });
      expect(bobRec.texts('away')).toEqual(['one', 'two', 'three', 'four']);
      expect(bobRec.joined.filter((j) => j.rejoin).every((j) => j.recovered)).toBe(true);
    } finally {
      await proxy.stop();
    }
  });
});

describe('SDK v2: moderation', () => {
  it('a moderator mutes and bans; the banned client hears `removed`, drops the room and may not rejoin', async () => {
    const mod = client('mod', { query: { roles: 'moderator' } });
    const bob = client('bob');
    const removed: string[] = [];
    bob.on('removed', (r) => removed.push(`${r.room}:${r.reason}`));
    expect(mod.roles).toEqual(['moderator']);
    await mod.connect();
    await bob.connect();
    await mod.join('modroom');
    await bob.join('modroom');
    const said = await bob.send('modroom', 'spam');

    expect(await code(bob.mute('modroom', 'mod'))).toBe('FORBIDDEN');
    expect(await code(bob.ban('modroom', 'mod'))).toBe('FORBIDDEN');

    await mod.mute('modroom', 'bob');
    expect(await code(bob.send('modroom', 'muted?'))).toBe('FORBIDDEN');
    expect(await code(bob.react('modroom', said.id, '👍'))).toBe('FORBIDDEN');
    await mod.unmute('modroom', 'bob');
    await bob.send('modroom', 'back');

    await mod.delete('modroom', said.id); // moderators delete anyone's message
    await waitFor(() => bob.message('modroom', said.id)?.deleted === true, 3000, 'tombstone');

    await mod.ban('modroom', 'bob', { seconds: 600 });
    await waitFor(() => removed.length > 0, 3000, 'removed event');
    expect(removed).toEqual(['modroom:banned']);
    expect(bob.joinedRooms()).not.toContain('modroom');
    expect(await code(bob.send('modroom', 'still here?'))).toBe('NOT_JOINED');
    expect(await code(bob.join('modroom'))).toBe('FORBIDDEN');
    await mod.unban('modroom', 'bob');
    await bob.join('modroom');
    expect(bob.joinedRooms()).toContain('modroom');
  });
});

describe('SDK v2: memberships, read markers, unread counts, DMs, directory', () => {
  it('unread is kept per room from the server and live events; read moves it (never back) on every device', async () => {
    const ann = client('ann');
    const ann2 = client('ann');
    const bob = client('bob');
    const annUnread: number[] = [];
    const ann2Reads: string[] = [];
    ann.on('unread', (u) => u.room === 'rs-a' && annUnread.push(u.unread));
    ann2.on('read', (r) => ann2Reads.push(`${r.room}:${r.user}:${r.messageId}`));
    await Promise.all([ann.connect(), ann2.connect(), bob.connect()]);
    await ann.join('rs-a');
    await ann2.join('rs-a');
    await bob.join('rs-a');
    const m1 = await bob.send('rs-a', 'one');
    const m2 = await bob.send('rs-a', 'two');
    await bob.send('rs-a', 'three');
    await waitFor(() => ann.unread('rs-a')?.unread === 3, 3000, 'live unread');
    expect(annUnread).toEqual([0, 1, 2, 3]); // the join reply first, then each live message
    const listed = (await ann.rooms()).find((r) => r.room === 'rs-a');
    expect(listed).toMatchObject({ room: 'rs-a', unread: 3, lastReadId: null });
    expect(listed?.lastMessage?.text).toBe('three');

    expect(await ann.read('rs-a', m2.id)).toBe(m2.id);
    expect(ann.unread('rs-a')).toEqual({ room: 'rs-a', lastReadId: m2.id, unread: 1 });
    expect(await ann.read('rs-a', m1.id)).toBe(m2.id); // never back
    await waitFor(() => ann2Reads.includes(`rs-a:ann:${m2.id}`), 3000, 'read event on the other device');
    await waitFor(() => ann2.unread('rs-a')?.lastReadId === m2.id, 3000);
    expect(ann2.unread('rs-a')?.unread).toBe(1);
    expect((await ann2.rooms()).find((r) => r.room === 'rs-a')?.unread).toBe(1);

    // My own message moves my marker, as the server does.
    const mine = await ann.send('rs-a', 'read them all');
    await waitFor(() => ann.unread('rs-a')?.unread === 0, 3000);
    expect((await ann.rooms()).find((r) => r.room === 'rs-a')).toMatchObject({ unread: 0, lastReadId: mine.id });
  });

  it('a DM lists for the other user before they join; directory lists joinable rooms, no DMs; leave forget ends the membership', async () => {
    const ann = client('ann3');
    const bob = client('bob3');
    await ann.connect();
    await bob.connect();
    const dm = 'dm:ann3:bob3';
    await bob.join(dm);
    await bob.send(dm, 'hi ann');
    await waitFor(async () => (await ann.rooms()).some((r) => r.room === dm && r.unread === 1), 3000, 'dm listed');
    expect(ann.unread(dm)?.unread).toBe(1);
    const joined = await ann.join(dm);
    expect(joined.unread).toBe(1);
    expect(joined.lastReadId).toBeNull();

    await ann.join('rs-dir-x');
    await ann.send('rs-dir-x', 'something to find');
    const found = await bob.directory('rs-dir');
    expect(found.map((r) => r.room)).toEqual(['rs-dir-x']);
    expect(found[0]).toMatchObject({ members: 1 });
    expect((await bob.directory()).some((r) => r.room.startsWith('dm:'))).toBe(false);

    await ann.leave('rs-dir-x', { forget: true });
    expect(ann.joinedRooms()).not.toContain('rs-dir-x');
    expect(ann.unread('rs-dir-x')).toBeUndefined();
    expect((await ann.rooms()).map((r) => r.room)).not.toContain('rs-dir-x');
  });
});
