/**
 * Graceful shutdown of a real server process: SIGTERM (or SIGINT) with
 * clients connected and sending. Every client gets 1001, the process exits
 * 0 within PARLEY_SHUTDOWN_TIMEOUT_MS, every acknowledged message is in the
 * history read through a second node on the same Redis, every stored
 * message was acknowledged (commands in flight at SIGTERM finish and reply
 * before the close; later ones are not run), and the other node's members hear the
 * `leave` events at once (not after the 15 s dead-node timeout).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Message } from '../../src/protocol/frames.js';
import { connect, type Frame, type TestClient } from '../support/client.js';
import { freePort, waitFor } from '../support/ports.js';
import { startRedis, type RedisProcess } from '../support/redis.js';
import { clientUrl, startNode, type RunningNode } from '../support/server.js';
import { MAIN, requireBuild, run, waitExit, waitHealthy, type Run } from './proc.js';

const KEY = 'shutdown-key';

interface Tally {
  user: string;
  /** Ids of messages the server acknowledged. */
  acked: Map<string, string>;
  /** clientMsgIds answered UNAVAILABLE (must not be stored). */
  refused: string[];
  /** clientMsgIds of sends that got no reply because the connection closed first (the client would retry them). */
  unanswered: string[];
  other: string[];
}

/** Sends one message after another until the connection closes. */
async function sendUntilClosed(c: TestClient, room: string, t: Tally): Promise<void> {
  let open = true;
  void c.closed.then(() => (open = false));
  for (let i = 0; open; i++) {
    const cmid = `${t.user}-${i}`;
    const reply = await Promise.race([
      c.request<{ message: Message }>({ type: 'send', room, text: cmid, clientMsgId: cmid }, 8000),
      c.closed.then(() => null),
    ]).catch(() => null);
    if (reply === null) {
      t.unanswered.push(cmid);
      break;
    }
    if (reply.ok) t.acked.set(reply.data.message.id, cmid);
    else if (reply.error.code === 'UNAVAILABLE') t.refused.push(cmid);
    else t.other.push(reply.error.code);
  }
}

function startServer(port: number, env: Record<string, string>): Run {
  return run([MAIN], { PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'info', PARLEY_API_KEY: KEY, ...env });
}

async function allMessages(node: RunningNode, room: string): Promise<Message[]> {
  const out: Message[] = [];
  let before: string | undefined;
  for (;;) {
    const q = new URLSearchParams({ limit: '200' });
    if (before) q.set('before', before);
    const res = await fetch(`${node.url}/api/rooms/${room}/messages?${q.toString()}`, {
      headers: { Authorization: `Bearer ${KEY}` },
    });
    expect(res.status).toBe(200);
    const page = (await res.json()) as { messages: Message[]; hasMore: boolean };
    out.unshift(...page.messages);
    if (!page.hasMore || page.messages.length === 0) return out;
    before = page.messages[0]!.id;
  }
}

beforeAll(() => requireBuild());

describe('SIGTERM on a Redis cluster node with clients sending', () => {
  let redis: RedisProcess;
  let b: RunningNode;
  beforeAll(async () => {
    redis = await startRedis();
    b = await startNode({ redisUrl: redis.url, env: { PARLEY_API_KEY: KEY } });
  });
  afterAll(async () => {
    await b?.stop();
    await redis?.stop();
  });

  it('closes every client with 1001, exits 0, loses no acknowledged message, announces leaves at once', async () => {
    const port = await freePort();
    const a = startServer(port, {
      REDIS_URL: redis.url,
      PARLEY_SEND_RATE: '10000',
      PARLEY_SEND_BURST: '10000',
      PARLEY_COMMAND_RATE: '10000',
      PARLEY_COMMAND_BURST: '10000',
    });
    await waitHealthy(a, port);
    const room = `shut-${process.pid}`;
    const watcher = await b.client('watcher');
    await watcher.ok({ type: 'join', room });

    const users = ['s1', 's2', 's3', 's4', 's5'];
    const clients = await Promise.all(users.map((u) => connect(clientUrl(port, u))));
    for (const c of clients) await c.ok({ type: 'join', room });
    for (const u of users) {
      await watcher.waitFor(
        (f) => f.type === 'presence' && f.event === 'join' && (f.member as { user: string }).user === u,
      );
    }
    const tallies: Tally[] = users.map((user) => ({ user, acked: new Map(), refused: [], unanswered: [], other: [] }));
    const senders = clients.map((c, i) => sendUntilClosed(c, room, tallies[i]!));
    // Let traffic flow, then stop the node in the middle of it.
    await waitFor(() => tallies.reduce((n, t) => n + t.acked.size, 0) > 10, 10_000, 'traffic to flow');
    a.child.kill('SIGTERM');
    const closes = await Promise.all(clients.map((c) => c.closed));
    // Exit 0 means it finished before its own hard limit (that path exits 1); 15 s only bounds a hang.
    const code = await waitExit(a, 15_000);
    await Promise.all(senders);

    expect(closes.map((x) => x.code)).toEqual(users.map(() => 1001));
    expect(closes[0]!.reason).toMatch(/shutting down/);
    expect(code, a.stdout() + a.stderr()).toBe(0);
    expect(tallies.flatMap((t) => t.other)).toEqual([]);

    // Other nodes' members hear that the users left right away.
    // "Right away": the dead-node path needs the node timeout (15 s) to pass; these must come well before.
    for (const u of users) {
      await watcher.waitFor(
        (f: Frame) => f.type === 'presence' && f.event === 'leave' && (f.member as { user: string }).user === u,
        10_000,
        `leave of ${u}`,
      );
    }
    const online = await fetch(`${b.url}/api/presence?status=online`, { headers: { Authorization: `Bearer ${KEY}` } });
    const listed = ((await online.json()) as { users: Array<{ user: string }> }).users.map((u) => u.user);
    for (const u of users) expect(listed).not.toContain(u);

    // Nothing acknowledged is lost; nothing refused was stored.
    const stored = await allMessages(b, room);
    const storedIds = new Set(stored.map((m) => m.id));
    const storedTexts = new Set(stored.map((m) => m.text));
    for (const t of tallies) {
      for (const [id, cmid] of t.acked) {
        expect(storedIds.has(id), `acked ${cmid} (${id}) missing`).toBe(true);
      }
      for (const cmid of t.refused) expect(storedTexts.has(cmid), `refused ${cmid} was stored`).toBe(false);
    }
    const acked = tallies.reduce((n, t) => n + t.acked.size, 0);
    // Nothing stored went unacknowledged: in-flight sends replied before the close, later ones never ran.
    const ackedIds = new Set(tallies.flatMap((t) => [...t.acked.keys()]));
    expect(stored.filter((m) => !ackedIds.has(m.id)).map((m) => m.text)).toEqual([]);
    expect(stored).toHaveLength(acked);
    expect(a.stdout()).toMatch(/"msg":"shutting down"/);
    expect(a.stdout()).toMatch(/"msg":"stopped"/);
    watcher.close();
  });
});

describe('SIGTERM / SIGINT on a memory-engine node', () => {
  it('SIGINT: clients get 1001, in-flight requests are answered before the close, exit 0', async () => {
    const port = await freePort();
    // Senders go as fast as replies come: limits high enough that only the shutdown ends them.
    const a = startServer(port, {
      PARLEY_SEND_RATE: '10000',
      PARLEY_SEND_BURST: '10000',
      PARLEY_COMMAND_RATE: '10000',
      PARLEY_COMMAND_BURST: '10000',
    });
    await waitHealthy(a, port);
    const users = ['m1', 'm2', 'm3'];
    const clients = await Promise.all(users.map((u) => connect(clientUrl(port, u))));
    for (const c of clients) await c.ok({ type: 'join', room: 'lobby' });
    const tallies: Tally[] = users.map((user) => ({ user, acked: new Map(), refused: [], unanswered: [], other: [] }));
    const senders = clients.map((c, i) => sendUntilClosed(c, 'lobby', tallies[i]!));
    await waitFor(() => tallies.every((t) => t.acked.size >= 3), 10_000, 'every sender to get acknowledgements');
    a.child.kill('SIGINT');
    const closes = await Promise.all(clients.map((c) => c.closed));
    expect(await waitExit(a, 15_000)).toBe(0);
    await Promise.all(senders);
    expect(closes.map((x) => x.code)).toEqual([1001, 1001, 1001]);
    expect(tallies.flatMap((t) => t.other)).toEqual([]);
    expect(a.stdout()).toMatch(/"signal":"SIGINT"/);

    // The memory engine's store dies with the process, so the members' live streams are the record of what was
    // stored: every message is fanned out to the room before its sender's reply, and the close comes after both.
    const acked = new Map(tallies.flatMap((t) => [...t.acked]));
    const unanswered = new Set(tallies.flatMap((t) => t.unanswered));
    for (const [i, c] of clients.entries()) {
      const seen = c.messages('lobby');
      const seenIds = new Set(seen.map((m) => m.id));
      // No acknowledged message is missing from any member's stream.
      for (const [id, cmid] of acked) expect(seenIds.has(id), `${users[i]} missed acked ${cmid}`).toBe(true);
      // Nothing was stored (and fanned out) that was not acknowledged; an unanswered send was not run at all.
      expect(seen.filter((m) => !acked.has(m.id)).map((m) => m.text)).toEqual([]);
      for (const m of seen) expect(unanswered.has(m.text), `unanswered ${m.text} was stored`).toBe(false);
    }
  });

  it('exits 0 within PARLEY_SHUTDOWN_TIMEOUT_MS when a client never answers the close', async () => {
    const port = await freePort();
    const a = startServer(port, { PARLEY_SHUTDOWN_TIMEOUT_MS: '2000' });
    await waitHealthy(a, port);
    const deaf = await connect(clientUrl(port, 'deaf'));
    const fine = await connect(clientUrl(port, 'fine'));
    await deaf.ok({ type: 'join', room: 'lobby' });
    await fine.ok({ type: 'join', room: 'lobby' });
    // The deaf client stops reading: it never sees the close frame, so it never answers it.
    (deaf.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    a.child.kill('SIGTERM');
    const closed = await fine.closed;
    expect(closed.code).toBe(1001);
    // Exit 0: it stopped within its limit (the node's own hard limit exits 1); 10 s only bounds a hang.
    expect(await waitExit(a, 10_000)).toBe(0);
    // It waited for the closing handshake, then dropped the socket that never answered.
    expect(a.stdout()).toMatch(/dropped clients that did not finish the closing handshake/);
    deaf.ws.terminate();
  });

  it('refuses new connections once stopping: /readyz and new sockets fail, the listener is closed', async () => {
    const port = await freePort();
    const a = startServer(port, { PARLEY_SHUTDOWN_TIMEOUT_MS: '3000' });
    await waitHealthy(a, port);
    const deaf = await connect(clientUrl(port, 'deaf2'));
    (deaf.ws as unknown as { _socket: { pause(): void } })._socket.pause(); // keeps the node in its stop sequence a while
    a.child.kill('SIGTERM');
    await waitFor(() => /"msg":"shutting down"/.test(a.stdout()), 10_000, 'the node to begin its stop');
    expect(a.child.exitCode).toBeNull();
    await expect(fetch(`http://127.0.0.1:${port}/readyz`)).rejects.toThrow();
    await expect(connect(clientUrl(port, 'late'))).rejects.toThrow();
    expect(await waitExit(a, 10_000)).toBe(0);
    deaf.ws.terminate();
  });
});
