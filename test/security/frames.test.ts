/**
 * Hostile frames over real sockets (dev mode, memory engine): every case
 * asserts the exact error code or close code, that the offending connection
 * survives when the protocol says it should, and that other users still work.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Message } from '../../src/protocol/frames.js';
import type { Frame, TestClient } from '../support/client.js';
import { sleep } from '../support/ports.js';
import { startNode, type RunningNode } from '../support/server.js';
import { breaches, closedWithin, devClient, expectHealthy, http, uniq } from './helpers.js';

describe('hostile frames', () => {
  let node: RunningNode;
  const clients: TestClient[] = [];
  let open: (user: string, name?: string) => Promise<TestClient>;

  beforeAll(async () => {
    node = await startNode({ env: { PARLEY_API_KEY: 'frames-api-key-0123456789' } });
    open = devClient(node, clients);
  });
  afterAll(async () => {
    for (const c of clients) c.ws.terminate();
    await node.stop();
  });

  /** The next `error` frame (a bad frame without a usable id). */
  const nextError = async (c: TestClient, after: number): Promise<Frame> =>
    c.waitFor((f) => f.type === 'error' && c.events.indexOf(f) >= after, 3000, 'error frame');

  it('malformed JSON and non-object frames get BAD_REQUEST error frames and the socket stays open', async () => {
    const c = await open(uniq('mal'));
    for (const raw of ['{', 'not json', '', '[]', '"x"', 'null', '42', 'true', '{"type":"ping"', '\u0000']) {
      const before = c.events.length;
      c.sendRaw(raw);
      const f = await nextError(c, before);
      expect(f.error).toMatchObject({ code: 'BAD_REQUEST' });
    }
    expect(await c.ok({ type: 'ping' })).toEqual({});
    await expectHealthy(node, open);
  });

  it('unknown commands get UNKNOWN_COMMAND, with the id when one was given', async () => {
    const c = await open(uniq('unk'));
    for (const type of [
      'admin',
      'PING',
      '__proto__',
      'constructor',
      'toString',
      'hasOwnProperty',
      'x'.repeat(10_000),
    ]) {
      const r = await c.request({ type });
      expect(r.ok, type.slice(0, 20)).toBe(false);
      if (!r.ok) expect(r.error.code).toBe('UNKNOWN_COMMAND');
    }
    const before = c.events.length;
    c.sendRaw('{"type":"shutdown"}');
    expect((await nextError(c, before)).error).toMatchObject({ code: 'UNKNOWN_COMMAND' });
    expect(await c.ok({ type: 'ping' })).toEqual({});
    await expectHealthy(node, open);
  });

  it('wrong types and missing fields get BAD_REQUEST replies', async () => {
    const c = await open(uniq('types'));
    const room = uniq('r');
    await c.ok({ type: 'join', room });
    const bad: Array<Record<string, unknown>> = [
      { type: 42 },
      { type: null },
      { type: ['ping'] },
      { type: 'join' },
      { type: 'join', room: 5 },
      { type: 'join', room: ['a'] },
      { type: 'join', room: { $gt: '' } },
      { type: 'join', room, since: 'not-an-id' },
      { type: 'join', room, since: 12 },
      { type: 'send', room },
      { type: 'send', room, text: 42 },
      { type: 'send', room, text: null },
      { type: 'send', room, text: { toString: 'x' } },
      { type: 'send', room, text: 'x', clientMsgId: '' },
      { type: 'send', room, text: 'x', clientMsgId: 'x'.repeat(129) },
      { type: 'history', room, limit: '10' },
      { type: 'history', room, limit: 0 },
      { type: 'history', room, limit: 1.5 },
      { type: 'history', room, before: '../../etc' },
      { type: 'status', status: 'god' },
      { type: 'status', status: 'online', text: 7 },
      { type: 'presence', users: 'ann' },
      { type: 'presence', users: [1, 2] },
      { type: 'presence' },
      { type: 'typing' },
      { type: 'leave', room: true },
    ];
    for (const frame of bad) {
      const r = await c.request(frame);
      expect(r.ok, JSON.stringify(frame)).toBe(false);
      if (!r.ok) expect(r.error.code, JSON.stringify(frame)).toBe('BAD_REQUEST');
    }
    // A request id that is not a positive integer cannot be replied to: error frame.
    for (const id of ['"1"', '0', '-1', '1.5', '1e300', 'null', '{}', '9007199254740993']) {
      const before = c.events.length;
      c.sendRaw(`{"type":"ping","id":${id}}`);
      expect((await nextError(c, before)).error, id).toMatchObject({ code: 'BAD_REQUEST' });
    }
    expect(await c.ok({ type: 'ping' })).toEqual({});
    await expectHealthy(node, open);
  });

  it('bad room and user ids are refused with BAD_REQUEST and never reach storage', async () => {
    const c = await open(uniq('ids'));
    const badIds = [
      '',
      ' ',
      'a b',
      'a/b',
      '../x',
      'x'.repeat(129),
      'héllo',
      'a\u0000b',
      'a\nb',
      '<script>',
      'dm:*',
      '*',
    ];
    for (const room of badIds) {
      for (const type of ['join', 'history', 'typing', 'leave']) {
        const r = await c.request({ type, room });
        expect(r.ok, `${type} ${JSON.stringify(room)}`).toBe(false);
        if (!r.ok) expect(r.error.code).toBe('BAD_REQUEST');
      }
      const s = await c.request({ type: 'send', room, text: 'x' });
      expect(s.ok).toBe(false);
      if (!s.ok) expect(s.error.code).toBe('BAD_REQUEST');
    }
    const p = await c.request({ type: 'presence', users: ['ann', 'b c'] });
    expect(p.ok).toBe(false);
    if (!p.ok) expect(p.error.code).toBe('BAD_REQUEST');
    // A 128-character id is fine.
    expect(await c.ok({ type: 'join', room: 'r'.repeat(128) })).toMatchObject({ room: 'r'.repeat(128) });
    // Dev-mode user ids are checked before the upgrade.
    const res = await http(node, 'GET', '/ws?user=a%20b', {
      headers: {
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
      },
    });
    expect(res.status).toBe(401);
    await expectHealthy(node, open);
  });

  it('unknown fields are ignored and prototype-pollution keys are harmless', async () => {
    const c = await open(uniq('proto'));
    const room = uniq('r');
    expect(await c.ok({ type: 'ping', foo: 'bar', nested: { a: [1, 2, 3] } })).toEqual({});
    // Raw text so that "__proto__" is an own key on the wire.
    const frames = [
      `{"type":"join","id":901,"room":"${room}","__proto__":{"polluted":true,"rooms":["*"]}}`,
      `{"type":"send","id":902,"room":"${room}","text":"hi","constructor":{"prototype":{"polluted":true}}}`,
      `{"type":"ping","id":903,"__proto__":{"type":"send"},"prototype":{"polluted":true}}`,
    ];
    const replies: Frame[] = [];
    for (const [i, f] of frames.entries()) {
      c.sendRaw(f);
      replies.push(await c.waitFor((e) => e.type === 'reply' && e.id === 901 + i, 3000, 'reply'));
    }
    // Unmatched ids (sendRaw) land in events.
    expect(replies.map((r) => r.ok)).toEqual([true, true, true]);
    const before = c.events.length;
    c.sendRaw('{"__proto__":{"type":"ping"},"id":904}');
    const r = await c.waitFor((e) => c.events.indexOf(e) >= before && e.type === 'reply', 3000, 'reply');
    expect(r).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
    // The server runs in this process: nothing leaked into Object.prototype.
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).rooms).toBeUndefined();
    expect(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted')).toBe(false);
    // Over HTTP too.
    const api = await http(node, 'POST', `/api/rooms/${room}/messages`, {
      headers: { Authorization: 'Bearer frames-api-key-0123456789', 'Content-Type': 'application/json' },
      body: '{"text":"via api","from":"apiuser","__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}',
    });
    expect(api.status).toBe(201);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    await expectHealthy(node, open);
  });

  it('a deeply nested unknown field does not crash the parser', async () => {
    const c = await open(uniq('deep'));
    const depth = 20_000; // about 40 KB, under the frame limit
    c.sendRaw(`{"type":"ping","id":77,"x":${'['.repeat(depth)}${']'.repeat(depth)}}`);
    const r = await c.waitFor((f) => f.type === 'reply' && f.id === 77, 3000, 'reply to nested ping');
    expect(r.ok).toBe(true);
    await expectHealthy(node, open);
  });

  it('XSS payloads are stored and returned verbatim, as data', async () => {
    const room = uniq('xss');
    const name = '<img src=x onerror=alert(1)>';
    const a = await open(uniq('xa'), name);
    const b = await open(uniq('xb'));
    await a.ok({ type: 'join', room });
    await b.ok({ type: 'join', room });
    const payloads = [
      '<script>alert(document.cookie)</script>',
      '"><svg/onload=alert(1)>',
      "javascript:alert('x')",
      '{{constructor.constructor("alert(1)")()}}',
      '&lt;already-escaped&gt; &amp; &#x3C;',
      '\u202e\u0000\u2028 nul and bidi',
      '</script><script>alert(1)</script>',
    ];
    for (const text of payloads) {
      const { message } = await a.ok<{ message: Message }>({ type: 'send', room, text });
      expect(message.text).toBe(text);
      expect(message.name).toBe(name);
      const ev = await b.waitFor((f) => f.type === 'message' && (f.message as Message).id === message.id);
      expect((ev.message as Message).text).toBe(text);
    }
    const h = await b.ok<{ messages: Message[] }>({ type: 'history', room });
    expect(h.messages.map((m) => m.text)).toEqual(payloads);
    const api = await http(node, 'GET', `/api/rooms/${room}/messages`, {
      headers: { Authorization: 'Bearer frames-api-key-0123456789' },
    });
    expect(api.status).toBe(200);
    expect(String(api.headers['content-type'])).toMatch(/^application\/json/);
    expect((api.body as { messages: Message[] }).messages.map((m) => m.text)).toEqual(payloads);
    await expectHealthy(node, open);
  });

  it('an oversize frame closes that socket with 1009; others are unaffected', async () => {
    const room = uniq('big');
    const other = await open(uniq('other'));
    await other.ok({ type: 'join', room });
    const c = await open(uniq('big'));
    await c.ok({ type: 'join', room });
    const before = await breaches(node, 'frame_size');
    c.sendRaw(JSON.stringify({ type: 'send', room, text: 'x'.repeat(70 * 1024) }));
    expect((await closedWithin(c, 3000)).code).toBe(1009);
    expect(await breaches(node, 'frame_size')).toBe(before + 1);
    expect(await other.ok({ type: 'ping' })).toEqual({});
    await sleep(50);
    expect(other.messages(room)).toHaveLength(0);
    await expectHealthy(node, open);
  });

  it('message text over the limit gets TOO_LARGE and nothing is stored', async () => {
    const room = uniq('long');
    const c = await open(uniq('long'));
    await c.ok({ type: 'join', room });
    const before = await breaches(node, 'text_length');
    const r = await c.request({ type: 'send', room, text: 'é'.repeat(4001) });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.code).toBe('TOO_LARGE');
    expect(await breaches(node, 'text_length')).toBe(before + 1);
    // 4000 astral characters (8000 UTF-16 units) are within the limit.
    expect(
      (await c.ok<{ message: Message }>({ type: 'send', room, text: '😀'.repeat(4000) })).message.text,
    ).toHaveLength(8000);
    const h = await c.ok<{ messages: Message[] }>({ type: 'history', room });
    expect(h.messages).toHaveLength(1);
    const empty = await c.request({ type: 'send', room, text: '' });
    expect(empty.ok).toBe(false);
    if (!empty.ok) expect(empty.error.code).toBe('BAD_REQUEST');
  });

  it('status text and presence lists over their limits get TOO_LARGE', async () => {
    const c = await open(uniq('lim'));
    const s = await c.request({ type: 'status', status: 'away', text: 'x'.repeat(141) });
    expect(s.ok).toBe(false);
    if (!s.ok) expect(s.error.code).toBe('TOO_LARGE');
    expect(await c.ok({ type: 'status', status: 'away', text: 'x'.repeat(140) })).toMatchObject({
      presence: { status: 'away' },
    });
    const before = await breaches(node, 'presence_users');
    const users = Array.from({ length: 501 }, (_, i) => `u${i}`);
    const p = await c.request({ type: 'presence', users });
    expect(p.ok).toBe(false);
    if (!p.ok) expect(p.error.code).toBe('TOO_LARGE');
    expect(await breaches(node, 'presence_users')).toBe(before + 1);
    expect((await c.ok<{ count: number }>({ type: 'presence', users: users.slice(0, 500) })).count).toBe(500);
  });

  it('a binary frame closes with 1003 and a frame sent right behind it is not acted on', async () => {
    const room = uniq('bin');
    const other = await open(uniq('other'));
    await other.ok({ type: 'join', room });
    const c = await open(uniq('bin'));
    await c.ok({ type: 'join', room });
    const before = await breaches(node, 'binary_frame');
    c.sendRaw(Buffer.from([1, 2, 3]), true);
    c.sendRaw(JSON.stringify({ type: 'send', room, text: 'after the binary frame' }));
    expect((await closedWithin(c, 3000)).code).toBe(1003);
    expect(await breaches(node, 'binary_frame')).toBe(before + 1);
    await sleep(200);
    expect(other.messages(room)).toHaveLength(0);
    expect((await other.ok<{ messages: Message[] }>({ type: 'history', room })).messages).toHaveLength(0);
    await expectHealthy(node, open);
  });

  it('frames a client sends right before closing normally are still acted on', async () => {
    const room = uniq('bye');
    const other = await open(uniq('other'));
    await other.ok({ type: 'join', room });
    const c = await open(uniq('bye'));
    await c.ok({ type: 'join', room });
    for (let i = 0; i < 5; i++) c.sendRaw(JSON.stringify({ type: 'send', room, text: `bye ${i}` }));
    c.close();
    await other.waitFor(() => other.messages(room).length === 5, 3000, '5 messages');
    expect(other.messages(room).map((m) => m.text)).toEqual([0, 1, 2, 3, 4].map((i) => `bye ${i}`));
  });

  it('NOT_JOINED: sending or typing in a room not joined', async () => {
    const c = await open(uniq('nj'));
    const room = uniq('r');
    for (const frame of [
      { type: 'send', room, text: 'x' },
      { type: 'typing', room },
      { type: 'leave', room },
    ]) {
      const r = await c.request(frame);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error.code).toBe('NOT_JOINED');
    }
  });
});

describe('floods', () => {
  let node: RunningNode;
  const clients: TestClient[] = [];
  let open: (user: string, name?: string) => Promise<TestClient>;

  beforeAll(async () => {
    node = await startNode({
      env: { PARLEY_MAX_ROOMS_PER_CONNECTION: '5', PARLEY_COMMAND_RATE: '50', PARLEY_COMMAND_BURST: '200' },
    });
    open = devClient(node, clients);
  });
  afterAll(async () => {
    for (const c of clients) c.ws.terminate();
    await node.stop();
  });

  it('a flood of sends gets RATE_LIMITED beyond the burst; nothing accepted is lost and others are not limited', async () => {
    const room = uniq('flood');
    const flooder = await open(uniq('flooder'));
    const reader = await open(uniq('reader'));
    const bystander = await open(uniq('bystander'));
    for (const c of [flooder, reader, bystander]) await c.ok({ type: 'join', room });
    const before = await breaches(node, 'send_rate');
    const replies = await Promise.all(
      Array.from({ length: 100 }, (_, i) => flooder.request({ type: 'send', room, text: `f${i}` })),
    );
    const ok = replies.filter((r) => r.ok);
    const limited = replies.filter((r) => !r.ok);
    expect(ok.length).toBeGreaterThanOrEqual(20);
    expect(ok.length).toBeLessThan(30);
    for (const r of limited) if (!r.ok) expect(r.error.code).toBe('RATE_LIMITED');
    expect(await breaches(node, 'send_rate')).toBe(before + limited.length);
    // The bystander's own bucket is untouched.
    for (let i = 0; i < 10; i++) await bystander.ok({ type: 'send', room, text: `b${i}` });
    // The reader gets exactly the accepted messages, once each, in order.
    const total = ok.length + 10;
    await reader.waitFor(() => reader.messages(room).length >= total, 5000, `${total} messages`);
    await sleep(100);
    const got = reader.messages(room).map((m) => m.text);
    expect(got.filter((t) => t.startsWith('f'))).toEqual(
      ok.map((r) => (r.ok ? (r.data as { message: Message }).message.text : '')),
    );
    expect(got).toHaveLength(total);
    // The flooder can send again once the bucket refills.
    await sleep(250);
    expect(await flooder.ok({ type: 'send', room, text: 'later' })).toBeTruthy();
    await expectHealthy(node, open);
  });

  it('typing is rate limited separately (RATE_LIMITED) and others only see the accepted events', async () => {
    const room = uniq('typing');
    const typer = await open(uniq('typer'));
    const watcher = await open(uniq('watcher'));
    await typer.ok({ type: 'join', room });
    await watcher.ok({ type: 'join', room });
    const replies = await Promise.all(Array.from({ length: 10 }, () => typer.request({ type: 'typing', room })));
    const ok = replies.filter((r) => r.ok).length;
    expect(ok).toBeGreaterThanOrEqual(1);
    expect(ok).toBeLessThanOrEqual(3);
    for (const r of replies) if (!r.ok) expect(r.error.code).toBe('RATE_LIMITED');
    await sleep(200);
    expect(watcher.events.filter((f) => f.type === 'typing' && f.room === room)).toHaveLength(ok);
    // Sending is not affected by the typing limit.
    await typer.ok({ type: 'send', room, text: 'typed' });
  });

  it('a flood of any command gets RATE_LIMITED beyond the command burst', async () => {
    const c = await open(uniq('cmdflood'));
    const before = await breaches(node, 'command_rate');
    const replies = await Promise.all(Array.from({ length: 400 }, () => c.request({ type: 'ping' }, 10_000)));
    const limited = replies.filter((r) => !r.ok);
    expect(limited.length).toBeGreaterThan(150);
    for (const r of limited) if (!r.ok) expect(r.error.code).toBe('RATE_LIMITED');
    expect(await breaches(node, 'command_rate')).toBe(before + limited.length);
    await expectHealthy(node, open);
  });

  it('joining more rooms than allowed gets LIMIT', async () => {
    const c = await open(uniq('rooms'));
    for (let i = 0; i < 5; i++) await c.ok({ type: 'join', room: uniq(`r${i}`) });
    const r = await c.request({ type: 'join', room: uniq('r6') });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.code).toBe('LIMIT');
    await expectHealthy(node, open);
  });

  it('history limits above 200 are capped, not refused', async () => {
    const c = await open(uniq('hist'));
    const room = uniq('r');
    await c.ok({ type: 'join', room });
    const h = await c.ok<{ messages: Message[] }>({ type: 'history', room, limit: 1_000_000_000 });
    expect(h.messages).toEqual([]);
  });
});
