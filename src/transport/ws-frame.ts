/**
 * Frames written to many sockets are encoded once: the JSON text becomes
 * one complete WebSocket text frame (header + payload, unmasked as servers
 * send) that every member's socket gets as the same bytes, with one write
 * each instead of ws's per-send header build and cork/writev/uncork. Other
 * transports' encodings (Socket.IO) are built on first use and kept with the
 * frame, so they too are made once per fan-out.
 */
import * as wsModule from 'ws';
import type { FrameEncoder, PreparedFrame } from '../session/session.js';

interface FrameOptions {
  fin: boolean;
  opcode: number;
  mask: boolean;
  readOnly: boolean;
  rsv1: boolean;
}
type SenderFrame = (data: Buffer, options: FrameOptions) => Buffer[];

// ws exports its Sender (lib/sender.js) but @types/ws does not describe it: detected, not assumed.
const senderFrame: SenderFrame | null = (() => {
  const sender = (wsModule as unknown as { Sender?: { frame?: unknown } }).Sender;
  return typeof sender?.frame === 'function' ? (sender.frame.bind(sender) as SenderFrame) : null;
})();

/**
 * RFC 6455 framing of one unmasked, uncompressed, final text frame (server
 * to client): the fallback when `ws`'s Sender.frame is not there.
 *
 * @example
 * const [header, payload] = encodeTextFrame(Buffer.from('hello'));
 */
export function encodeTextFrame(data: Buffer): Buffer[] {
  const len = data.length;
  let header: Buffer;
  if (len < 126) {
    header = Buffer.from([0x81, len]);
  } else if (len < 65536) {
    header = Buffer.alloc(4);
    header[0] = 0x81;
    header[1] = 126;
    header.writeUInt16BE(len, 2);
  } else {
    header = Buffer.alloc(10);
    header[0] = 0x81;
    header[1] = 127;
    header.writeBigUInt64BE(BigInt(len), 2);
  }
  return [header, data];
}

/**
 * Frames `data` as one unmasked, uncompressed WebSocket text frame (as its
 * parts: header and payload), the form `ws`'s `Sender.sendFrame` writes.
 *
 * @example
 * const parts = wsTextFrame(Buffer.from('hello'));
 */
export function wsTextFrame(data: Buffer): Buffer[] {
  if (senderFrame === null) return encodeTextFrame(data);
  return senderFrame(data, { fin: true, opcode: 1, mask: false, readOnly: true, rsv1: false });
}

class Prepared implements PreparedFrame {
  // One slot (the usual case: one other transport), a map for any more.
  private encoder: FrameEncoder<unknown> | null = null;
  private value: unknown = undefined;
  private more: Map<FrameEncoder<unknown>, unknown> | null = null;

  constructor(
    readonly json: string,
    readonly payload: Buffer,
    readonly wire: Buffer,
  ) {}

  encoded<T>(encode: FrameEncoder<T>): T {
    if (this.encoder === encode) return this.value as T;
    if (this.encoder === null) {
      this.value = encode(this.json);
      this.encoder = encode;
      return this.value as T;
    }
    this.more ??= new Map();
    if (!this.more.has(encode)) this.more.set(encode, encode(this.json));
    return this.more.get(encode) as T;
  }
}

/** Bytes of the header of an unmasked frame with a payload of `len` bytes. */
function headerLength(len: number): number {
  return len < 126 ? 2 : len < 65536 ? 4 : 10;
}

/**
 * One complete unmasked, final WebSocket text frame of `text` in a single
 * Buffer (header and UTF-8 payload written in place: no payload copy, no
 * header Buffer, so the socket gets one write, not ws's cork/writev of two).
 *
 * @example
 * socket.write(textFrame('{"type":"reply","id":1,"ok":true,"data":{}}'));
 */
export function textFrame(text: string): Buffer {
  const len = Buffer.byteLength(text);
  const head = headerLength(len);
  const buf = Buffer.allocUnsafe(head + len);
  buf[0] = 0x81;
  if (head === 2) buf[1] = len;
  else if (head === 4) {
    buf[1] = 126;
    buf.writeUInt16BE(len, 2);
  } else {
    buf[1] = 127;
    buf.writeBigUInt64BE(BigInt(len), 2);
  }
  buf.write(text, head, 'utf8');
  return buf;
}

/**
 * Encodes a server frame once for a fan-out.
 *
 * @example
 * const f = prepareFrame('{"type":"typing","room":"r","user":"u"}');
 * for (const s of members) s.sendPrepared(f);
 */
export function prepareFrame(json: string): PreparedFrame {
  const wire = textFrame(json);
  // The payload is the frame's tail (a view, not a copy): the length byte tells the header's size.
  const head = wire[1] === 126 ? 4 : wire[1] === 127 ? 10 : 2;
  return new Prepared(json, wire.subarray(head), wire);
}
