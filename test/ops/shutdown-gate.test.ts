/**
 * The pieces of the graceful stop in isolation: the command gate (in-flight
 * commands finish and reply; later ones are not run) and
 * the socket tracker (waits for closing handshakes, then drops the rest).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it, vi } from 'vitest';
import { WebSocketServer } from 'ws';
import { CommandGate, SocketTracker, within } from '../../src/server/shutdown.js';
import type { Session } from '../../src/session/session.js';
import { connect } from '../support/client.js';

function fakeSession(): { session: Session; errors: Array<{ id: number | undefined; code: string }> } {
  const errors: Array<{ id: number | undefined; code: string }> = [];
  const session = {
    replyError: (id: number | undefined, e: { code: string }) => errors.push({ id, code: e.code }),
  } as unknown as Session;
  return { session, errors };
}

describe('CommandGate', () => {
  it('tracks in-flight commands, lets them finish, does not run later ones', async () => {
    const handled: string[] = [];
    let release!: () => void;
    const slow = new Promise<void>((r) => (release = r));
    const target = {
      async handle(_s: Session, text: string): Promise<void> {
        if (text.includes('slow')) await slow;
        handled.push(text);
      },
    };
    const gate = new CommandGate();
    gate.wrap(target);
    const { session, errors } = fakeSession();

    const inflight = target.handle(session, '{"type":"send","id":1,"text":"slow"}');
    expect(gate.size).toBe(1);
    gate.close();
    await target.handle(session, '{"type":"send","id":2}');
    await target.handle(session, '{"type":"typing"}'); // no id: nothing to answer
    await target.handle(session, 'not json');
    expect(errors).toEqual([]); // not answered: the 1001 close that follows is the answer
    expect(gate.refused).toBe(3);
    expect(await gate.drained(50)).toBe(false);
    release();
    await inflight;
    expect(await gate.drained(1000)).toBe(true);
    expect(handled).toEqual(['{"type":"send","id":1,"text":"slow"}']);
  });
});

describe('SocketTracker', () => {
  async function server(): Promise<{ http: Server; tracker: SocketTracker; port: number }> {
    const http = createServer();
    const tracker = new SocketTracker();
    tracker.watch(http);
    const wss = new WebSocketServer({ noServer: true });
    http.on('upgrade', (req, socket, head) =>
      wss.handleUpgrade(req, socket, head, (ws) => ws.on('message', () => ws.close(1001))),
    );
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    return { http, tracker, port: (http.address() as AddressInfo).port };
  }

  it('returns as soon as clients finished the closing handshake', async () => {
    const { http, tracker, port } = await server();
    const c = await connect(`ws://127.0.0.1:${port}/`);
    expect(tracker.size).toBe(1);
    c.sendRaw('bye');
    // A wait far longer than the test's own timeout: it passes only by returning once the handshake finished.
    expect(await tracker.closeAll(10 * 60_000)).toBe(0);
    expect(tracker.size).toBe(0);
    expect((await c.closed).code).toBe(1001);
    http.close();
  });

  it('drops a client that never answers, after the wait', async () => {
    const { http, tracker, port } = await server();
    const c = await connect(`ws://127.0.0.1:${port}/`);
    (c.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    // Fake clock: the wait is measured in the tracker's own time, not the box's.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    try {
      let polls = 0;
      let dropped: number | null = null;
      void tracker.closeAll(300, () => polls++).then((n) => (dropped = n));
      await vi.advanceTimersByTimeAsync(250);
      expect(dropped).toBeNull(); // still waiting for the handshake
      expect(tracker.size).toBe(1);
      expect(polls).toBe(11); // at 0, 25, ..., 250 ms
      await vi.advanceTimersByTimeAsync(50);
      expect(dropped).toBe(1);
      expect(polls).toBe(12);
    } finally {
      vi.useRealTimers();
    }
    c.ws.terminate();
    http.close();
  });
});

describe('within', () => {
  it('says whether the promise settled in time, never throws', async () => {
    expect(await within(Promise.resolve(1), 100)).toBe(true);
    expect(await within(Promise.reject(new Error('x')), 100)).toBe(true);
    expect(await within(new Promise(() => {}), 30)).toBe(false);
  });
});
