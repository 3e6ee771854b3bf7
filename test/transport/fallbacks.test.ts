/**
 * The internals Parley uses for speed are detected, not assumed, and each
 * fallback still delivers: ws's private socket (direct writes of prepared
 * frames), ws's Sender.frame (frame encoding), ioredis's socket (corking).
 */
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as wsModule from 'ws';
import { WebSocketServer, type WebSocket as ServerSocket } from 'ws';
import { coalesceWrites, corkableStream } from '../../src/engine/redis/connections.js';
import { encodeTextFrame, prepareFrame } from '../../src/transport/ws-frame.js';
import { rawSocketOf, WsConn } from '../../src/transport/ws.js';
import { connect } from '../support/client.js';
import { startRedis, type RedisProcess } from '../support/redis.js';

const wsSenderFrame = (
  wsModule as unknown as { Sender: { frame(d: Buffer, o: Record<string, boolean | number>): Buffer[] } }
).Sender.frame;

/** A ws server whose next connection is handed to `onConn`. */
async function server(): Promise<{ url: string; next: () => Promise<ServerSocket>; close: () => Promise<void> }> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  const port = (wss.address() as AddressInfo).port;
  return {
    url: `ws://127.0.0.1:${port}/`,
    next: () => new Promise((r) => wss.once('connection', (ws) => r(ws))),
    close: () => new Promise((r) => wss.close(() => r())),
  };
}

describe('WebSocket frame encoding', () => {
  it('the fallback encoder writes the same bytes as ws Sender.frame, for every length class', () => {
    for (const len of [0, 5, 125, 126, 127, 65535, 65536, 70_000]) {
      const data = Buffer.alloc(len, 'a');
      const ours = Buffer.concat(encodeTextFrame(data));
      const theirs = Buffer.concat(
        wsSenderFrame(data, { fin: true, opcode: 1, mask: false, readOnly: true, rsv1: false }),
      );
      expect(ours.equals(theirs), `length ${len}`).toBe(true);
    }
  });

  it('frames from the fallback encoder, written to the raw socket, reach a client intact', async () => {
    const srv = await server();
    try {
      const accepted = srv.next();
      const client = await connect(srv.url);
      const ws = await accepted;
      const socket = rawSocketOf(ws);
      expect(socket).not.toBeNull(); // ws 8 keeps it where Parley looks
      for (const text of ['short', 'x'.repeat(300), 'y'.repeat(70_000)]) {
        socket!.write(Buffer.concat(encodeTextFrame(Buffer.from(JSON.stringify({ type: 'probe', text })))));
      }
      await client.waitFor((f) => f.type === 'probe' && (f.text as string).startsWith('y'));
      expect(client.events.map((f) => (f.text as string).length)).toEqual([5, 300, 70_000]);
      client.close();
    } finally {
      await srv.close();
    }
  });
});

describe('direct socket writes', () => {
  it('rawSocketOf finds nothing on an object without a usable socket, or with compression', () => {
    expect(rawSocketOf({ extensions: '' } as unknown as ServerSocket)).toBeNull();
    expect(rawSocketOf({ extensions: '', _socket: { write: 1 } } as unknown as ServerSocket)).toBeNull();
    expect(rawSocketOf({ extensions: 'permessage-deflate', _socket: {} } as unknown as ServerSocket)).toBeNull();
  });

  it('without the socket, a connection sends prepared frames through ws.send, in order', async () => {
    const srv = await server();
    try {
      const accepted = srv.next();
      const client = await connect(srv.url);
      const conn = new WsConn(await accepted, null);
      expect(conn.bufferedAmount).toBe(0);
      conn.sendPrepared(prepareFrame('{"type":"probe","n":1}'));
      conn.send('{"type":"probe","n":2}');
      conn.sendPrepared(prepareFrame('{"type":"probe","n":3}'));
      await client.waitFor((f) => f.type === 'probe' && f.n === 3);
      expect(client.events.map((f) => f.n)).toEqual([1, 2, 3]);
      client.close();
    } finally {
      await srv.close();
    }
  });
});

describe('Redis write coalescing', () => {
  let redis: RedisProcess;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it("finds ioredis's socket when connected (else coalescing would silently stop)", async () => {
    const client = new Redis(redis.url, { lazyConnect: true });
    await client.connect();
    try {
      expect(corkableStream(client)).not.toBeNull();
    } finally {
      client.disconnect();
    }
  });

  it('with and without a corkable socket, commands of one turn are all answered, in order', async () => {
    for (const socketOf of [corkableStream, () => null]) {
      const client = new Redis(redis.url, { lazyConnect: true });
      await client.connect();
      try {
        coalesceWrites(client, socketOf);
        const key = `coalesce-${Math.random()}`;
        const replies = await Promise.all(Array.from({ length: 50 }, () => client.incr(key)));
        expect(replies).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
      } finally {
        client.disconnect();
      }
    }
  });
});
