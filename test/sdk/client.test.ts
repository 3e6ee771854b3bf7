/**
 * The SDK against a real single node (memory engine) over real sockets.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ParleyClient, ParleyClientError } from '../../src/sdk/index.js';
import { startNode, type RunningNode } from '../support/server.js';
import { freePort, sleep, waitFor } from '../support/ports.js';
import { Recorder, SilentProxy, sdkClient } from './helpers.js';

const API_KEY = 'sdk-test-api-key-0123456789abcdef';
let node: RunningNode;
const clients: ParleyClient[] = [];

function client(user: string, name?: string, extra: Parameters<typeof sdkClient>[1] = {}): ParleyClient {
  const c = sdkClient(node.url, { user, name, ...extra });
  clients.push(c);
  return c;
}

beforeAll(async () => {
  node = await startNode({ env: { PARLEY_API_KEY: API_KEY } });
});
afterAll(async () => {
  await node.stop();
});
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});

describe('SDK basics', () => {
  it('connects, joins, sends and receives; the sender sees its own message once', async () => {
    const ann = client('ann', 'Ann');
    const bob = client('bob', 'Bob');
    const annEvents = new Recorder(ann);
    const bobEvents = new Recorder(bob);
    await ann.connect();
    await bob.connect();
    expect(ann.state).toBe('connected');
    expect(ann.userId).toBe('ann');
    await ann.join('basics');
    const joined = await bob.join('basics');
    expect(joined.room).toBe('basics');
    expect(joined.members.map((m) => m.user).sort()).toEqual(['ann', 'bob']);

    const sent = await ann.send('basics', 'hello bob', { clientMsgId: 'c-1' });
    expect(sent).toMatchObject({ room: 'basics', from: 'ann', text: 'hello bob', clientMsgId: 'c-1' });
    await waitFor(() => bobEvents.texts('basics').includes('hello bob'), 3000, 'bob gets the message');
    await waitFor(() => annEvents.texts('basics').includes('hello bob'), 3000, 'ann gets her own message');
    await sleep(100);
    expect(annEvents.texts('basics')).toEqual(['hello bob']);
    expect(bobEvents.messages[0]).toMatchObject({ id: sent.id, name: 'Ann' });
    expect(ann.lastMessageId('basics')).toBe(sent.id);
  });

  it('pages history back to the start, oldest first', async () => {
    const ann = client('ann');
    await ann.connect();
    await ann.join('paged');
    for (let i = 0; i < 25; i++) await ann.send('paged', `m${i}`);
    const latest = await ann.history('paged', { limit: 10 });
    expect(latest.messages.map((m) => m.text)).toEqual(Array.from({ length: 10 }, (_, i) => `m${15 + i}`));
    expect(latest.hasMore).toBe(true);
    const all = [...latest.messages];
    let page = latest;
    while (page.hasMore) {
      page = await ann.history('paged', { before: all[0]!.id, limit: 10 });
      all.unshift(...page.messages);
    }
    expect(all.map((m) => m.text)).toEqual(Array.from({ length: 25 }, (_, i) => `m${i}`));
  });

  it('typed errors: protocol codes from the server, local checks, timeouts', async () => {
    const ann = client('ann');
    await ann.connect();
    await ann.join('errs');
    const tooLong = await ann.setStatus('online', 'x'.repeat(141)).catch((e: unknown) => e);
    expect(tooLong).toBeInstanceOf(ParleyClientError);
    expect((tooLong as ParleyClientError).code).toBe('TOO_LARGE');
    expect((tooLong as ParleyClientError).fromServer).toBe(true);
    expect((tooLong as ParleyClientError).command).toBe('status');

    const big = await ann.send('errs', 'y'.repeat(4001)).catch((e: unknown) => e);
    expect((big as ParleyClientError).code).toBe('TOO_LARGE');

    const notJoined = await ann.send('elsewhere', 'hi').catch((e: unknown) => e);
    expect((notJoined as ParleyClientError).code).toBe('NOT_JOINED');

    const badRoom = await ann.join('bad room!').catch((e: unknown) => e);
    expect((badRoom as ParleyClientError).code).toBe('BAD_REQUEST');

    const dm = await ann.join('dm:bob:carol').catch((e: unknown) => e);
    expect((dm as ParleyClientError).code).toBe('FORBIDDEN');
    expect(ann.joinedRooms()).toEqual(['errs']);

    const huge = await ann.send('errs', 'z'.repeat(70_000)).catch((e: unknown) => e);
    expect((huge as ParleyClientError).code).toBe('TOO_LARGE');
    expect((huge as ParleyClientError).fromServer).toBe(false);
    expect(ann.state).toBe('connected');
  });

  it('presence: join, status update with text, invisible shows offline to others, leave on close', async () => {
    const ann = client('ann', 'Ann');
    const bob = client('bob', 'Bob');
    const seen = new Recorder(ann);
    await ann.connect();
    await ann.join('lobby');
    await bob.connect();
    await bob.join('lobby');
    await waitFor(() => seen.presence.find((p) => p.room === 'lobby' && p.event === 'join' && p.member.user === 'bob'));

    const own = await bob.setStatus('busy', 'in a meeting');
    expect(own).toMatchObject({ user: 'bob', status: 'busy', text: 'in a meeting' });
    await waitFor(() => seen.presence.find((p) => p.member.user === 'bob' && p.member.status === 'busy'));
    expect(seen.presence.find((p) => p.member.status === 'busy')?.member.text).toBe('in a meeting');

    const mine = await bob.setStatus('invisible');
    expect(mine.user).toBe('bob');
    const { members } = await ann.presence('lobby');
    // The contract lists an invisible member as offline: listed, not dropped.
    const bobSeen = members?.find((m) => m.user === 'bob');
    expect(bobSeen).toMatchObject({ user: 'bob', status: 'offline' });
    const { users } = await ann.presence(['bob', 'ann']);
    expect(users?.find((u) => u.user === 'bob')?.status).toBe('offline');
    expect(users?.find((u) => u.user === 'ann')?.status).toBe('online');

    await bob.setStatus('online');
    await waitFor(async () => (await ann.presence(['bob'])).users?.[0]?.status === 'online');
    seen.presence.length = 0;
    bob.close();
    const leave = await waitFor(() => seen.presence.find((p) => p.event === 'leave' && p.member.user === 'bob'), 5000);
    expect(leave.room).toBe('lobby');
    expect(leave.member.status).toBe('offline');
  });

  it('typing reaches the others, throttled per room', async () => {
    const ann = client('ann');
    const bob = client('bob', undefined, { typingThrottleMs: 60_000 });
    const seen = new Recorder(ann);
    await ann.connect();
    await bob.connect();
    await ann.join('typing');
    await bob.join('typing');
    await bob.typing('typing');
    await bob.typing('typing');
    await bob.typing('typing');
    // A later frame on bob's socket is the marker: once ann has it, every typing event bob caused has arrived.
    await bob.send('typing', 'marker');
    await waitFor(() => seen.messages.find((m) => m.room === 'typing' && m.text === 'marker'));
    expect(seen.typing).toEqual([{ room: 'typing', user: 'bob' }]);
  });

  it('connect() rejects with CONNECT_FAILED when nothing listens, and does not retry', async () => {
    const port = await freePort();
    const c = sdkClient(`http://127.0.0.1:${port}`, { user: 'ann' });
    const states = new Recorder(c).states;
    const err = await c.connect().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ParleyClientError);
    expect((err as ParleyClientError).code).toBe('CONNECT_FAILED');
    expect(c.state).toBe('closed');
    await sleep(300);
    expect(states.map((s) => s.state)).toEqual(['connecting', 'closed']);
  });

  it('kicked (4003): closed for good, no reconnect, pending work rejected', async () => {
    const ann = client('ann');
    const rec = new Recorder(ann);
    await ann.connect();
    await ann.join('kick');
    const res = await fetch(`${node.url}/api/users/ann/disconnect`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${API_KEY}` },
    });
    expect(res.status).toBeLessThan(300);
    await waitFor(() => ann.state === 'closed', 3000, 'client closed');
    const closed = rec.states.find((s) => s.state === 'closed')!;
    expect(closed.closeCode).toBe(4003);
    expect(closed.error?.code).toBe('CLOSED');
    await sleep(500);
    expect(rec.states.some((s) => s.state === 'reconnecting')).toBe(false);
    // CLOSED, not NOT_JOINED: the client is closed, the room was not left.
    const after = (await ann.send('kick', 'x').catch((e: unknown) => e)) as ParleyClientError;
    expect(after.code).toBe('CLOSED');
    const edit = (await ann.edit('kick', '1-0', 'x').catch((e: unknown) => e)) as ParleyClientError;
    expect(edit.code).toBe('CLOSED');
  });

  it('a dead socket is noticed by the ping keepalive; an unanswered send is retransmitted and stored once', async () => {
    const proxy = await SilentProxy.start(node.port);
    try {
      const ann = client('ann', 'Ann', { pingIntervalMs: 300, pongTimeoutMs: 400 });
      ann.close();
      const annViaProxy = sdkClient(proxy.url, { user: 'ann', name: 'Ann', pingIntervalMs: 300, pongTimeoutMs: 400 });
      clients.push(annViaProxy);
      const bob = client('bob');
      const annRec = new Recorder(annViaProxy);
      const bobRec = new Recorder(bob);
      await annViaProxy.connect();
      await bob.connect();
      await annViaProxy.join('dead');
      await bob.join('dead');
      await bob.send('dead', 'before');
      await waitFor(() => annRec.texts('dead').includes('before'));

      proxy.silence(); // the server still hears ann, ann hears nothing: no close, no error
      const sending = annViaProxy.send('dead', 'through the outage', { clientMsgId: 'outage-1' });
      await bob.send('dead', 'while ann is deaf');
      await waitFor(() => annRec.states.some((s) => s.state === 'reconnecting'), 5000, 'dead socket detected');
      const stored = await sending;
      await waitFor(() => annRec.texts('dead').includes('while ann is deaf'), 5000, 'missed message recovered');
      await waitFor(() => annRec.texts('dead').includes('through the outage'), 5000);
      await sleep(300);

      // Stored once, delivered once to everyone.
      const history = await bob.history('dead');
      expect(history.messages.filter((m) => m.text === 'through the outage')).toHaveLength(1);
      expect(history.messages.find((m) => m.text === 'through the outage')?.id).toBe(stored.id);
      expect(bobRec.texts('dead').filter((t) => t === 'through the outage')).toHaveLength(1);
      expect(annRec.texts('dead').sort()).toEqual(['before', 'through the outage', 'while ann is deaf'].sort());
      expect(new Set(annRec.messages.map((m) => m.id)).size).toBe(annRec.messages.length);
    } finally {
      await proxy.stop();
    }
  });
});

describe('SDK across a restart of a memory node', () => {
  it('recovered:false after the history is gone surfaces as a reset event', async () => {
    const own = await startNode();
    const port = own.port;
    const ann = sdkClient(own.url, { user: 'ann' });
    clients.push(ann);
    const rec = new Recorder(ann);
    await ann.connect();
    await ann.join('ephemeral');
    await ann.send('ephemeral', 'gone after restart');
    await waitFor(() => rec.messages.length === 1);
    await own.stop();
    await waitFor(
      () => rec.states.some((s) => s.state === 'reconnecting' && s.closeCode === 1001),
      3000,
      '1001 reconnect',
    );
    const again = await startNode({ env: { PORT: String(port) } });
    try {
      await waitFor(() => rec.resets.includes('ephemeral'), 8000, 'reset event');
      // The rejoin says it could not recover (as centrifuge-js's `recovered`), and says it before anything
      // of the room is delivered after it: the app drops its view first.
      const rejoin = rec.joined.find((j) => j.rejoin)!;
      expect(rejoin.recovered).toBe(false);
      expect(rec.joined.find((j) => !j.rejoin)?.recovered).toBe(true);
      const at = rec.order.indexOf('joined:ephemeral', 1);
      expect(rec.order.slice(at, at + 2)).toEqual(['joined:ephemeral', 'reset:ephemeral']);
      expect(ann.state).toBe('connected');
      expect(ann.joinedRooms()).toEqual(['ephemeral']);
      await ann.send('ephemeral', 'after restart');
      await waitFor(() => rec.texts().includes('after restart'));
    } finally {
      ann.close();
      await again.stop();
    }
  });
});
