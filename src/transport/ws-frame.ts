/**
 * Frames written to many sockets are encoded once: the JSON text becomes
 * one complete WebSocket text frame (header + payload, unmasked as servers
 * send) that every member's socket gets as the same bytes, with one write
 * each instead of ws's per-send header build and cork/writev/uncork.
 */
import * as wsModule from 'ws';
import type { PreparedFrame } from '../session/session.js';

interface FrameOptions {
  fin: boolean;
  opcode: number;
  mask: boolean;
  readOnly: boolean;
  rsv1: boolean;
}
// ws exports its Sender (lib/sender.js) but @types/ws does not describe it.
const { Sender } = wsModule as unknown as { Sender: { frame(data: Buffer, options: FrameOptions): Buffer[] } };

/**
 * Encodes a server frame once for a fan-out.
 *
 * @example
 * const f = prepareFrame('{"type":"typing","room":"r","user":"u"}');
 * for (const s of members) s.sendPrepared(f);
 */
export function prepareFrame(json: string): PreparedFrame {
  const payload = Buffer.from(json);
  const parts = Sender.frame(payload, { fin: true, opcode: 1, mask: false, readOnly: true, rsv1: false });
  const wire = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  return { payload, wire };
}
