/**
 * Socket.IO packets spliced from frame JSON are what socket.io's own encoder
 * makes; a fan-out builds one packet (and one WebSocket frame) per event and
 * hands that same frame to every Socket.IO member's websocket transport.
 */
import { transports } from 'engine.io';
import { Encoder, PacketType } from 'socket.io-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Message } from '../../src/protocol/frames.js';
import { encodeSioPacket, sioEventText } from '../../src/transport/socketio-packet.js';
import { prepareFrame, wsTextFrame } from '../../src/transport/ws-frame.js';
import { startNode, type RunningNode } from '../support/server.js';
import { sioConnect, type SioClient } from '../support/sio.js';

/** What socket.io's encoder makes of `socket.emit(type, fields)` in the default namespace. */
function reference(json: string): string {
  const { type, ...fields } = JSON.parse(json) as { type: string };
  const [text] = new Encoder().encode({ type: PacketType.EVENT, nsp: '/', data: [type, fields] });
  return text as string;
}

describe('sioEventText', () => {
  const frames = [
    '{"type":"message","room":"r","message":{"id":"1-0","ts":1,"room":"r","from":"u","text":"h\\"i \\u2028 ]}"}}',
    '{"type":"typing","room":"r","user":"u"}',
    '{"type":"presence","event":"update","member":{"user":"u","status":"away"}}',
    '{"type":"reaction","room":"r","messageId":"1-0","emoji":"👍","user":"u","op":"add","count":1}',
    '{"type":"ping"}',
    // Not the layout the splice expects: parsed once, same result.
    '{ "type": "edited", "room": "r" }',
    '{"room":"r","type":"deleted","messageId":"1-0"}',
  ];
  it.each(frames)('decodes as socket.io-parser encodes %s', (json) => {
    const text = sioEventText(json);
    expect(text[0]).toBe('2');
    expect(JSON.parse(text.slice(1))).toEqual(JSON.parse(reference(json).slice(1)));
    // Byte for byte too, except where the frame keeps a JSON escape the parser would not write.
    if (!json.includes('\\u')) expect(text).toBe(reference(json));
  });

  it('is generic on the frame type (any new v2 event works without a list)', () => {
    expect(sioEventText('{"type":"some-future-event","x":1}')).toBe('2["some-future-event",{"x":1}]');
  });
});

describe('encodeSioPacket', () => {
  it('carries the complete WebSocket frame of the engine.io message `4` + packet', () => {
    const json = '{"type":"typing","room":"r","user":"u"}';
    const p = encodeSioPacket(json);
    expect(p.text).toBe('2["typing",{"room":"r","user":"u"}]');
    expect(Buffer.concat(p.options.wsPreEncodedFrame)).toEqual(Buffer.concat(wsTextFrame(Buffer.from(`4${p.text}`))));
  });

  it('is built once per prepared frame', () => {
    const frame = prepareFrame('{"type":"typing","room":"r","user":"u"}');
    const first = frame.encoded(encodeSioPacket);
    expect(frame.encoded(encodeSioPacket)).toBe(first);
    const other = (json: string): number => json.length;
    expect(frame.encoded(other)).toBe(frame.json.length);
    expect(frame.encoded(encodeSioPacket)).toBe(first);
  });
});

describe('fan-out to Socket.IO members', () => {
  let node: RunningNode;
  const clients: SioClient[] = [];
  /** Pre-encoded WebSocket frames handed to engine.io's websocket transport, in order. */
  const written: unknown[] = [];
  const send = transports.websocket.prototype.send;

  beforeAll(async () => {
    transports.websocket.prototype.send = function (this: unknown, packets: Parameters<typeof send>[0]) {
      for (const p of packets) {
        const f = (p.options as { wsPreEncodedFrame?: unknown } | undefined)?.wsPreEncodedFrame;
        if (f) written.push(f);
      }
      return send.call(this, packets);
    } as typeof send;
    node = await startNode();
  });
  afterAll(async () => {
    transports.websocket.prototype.send = send;
    for (const c of clients) c.close();
    await node.stop();
  });

  it('writes one frame object, encoded once, to every member', async () => {
    const room = 'fan-sio';
    for (let i = 0; i < 5; i++) {
      const c = await sioConnect(node.url, 'websocket', { user: `fan${i}` });
      clients.push(c);
      await c.ok('join', { room });
    }
    // Presence joins of the later members went out meanwhile; count from here.
    await new Promise((r) => setTimeout(r, 100));
    written.length = 0;
    const { message } = await clients[0]!.ok<{ message: Message }>('send', { room, text: 'once' });
    for (const c of clients) await c.waitFor((f) => f.type === 'message' && (f.message as Message).id === message.id);
    expect(written).toHaveLength(5);
    expect(new Set(written).size).toBe(1);
  });
});
