/**
 * Parley frames as Socket.IO packets, built from the frame's JSON text by
 * splicing (no parse, no re-serialization): `{"type":"message","room":…}`
 * becomes the EVENT packet `2["message",{"room":…}]` of the default
 * namespace (engine.io prefixes its message type `4` on the wire). For a
 * fan-out the packet and its complete WebSocket frame are built once per
 * event (a `FrameEncoder` cached on the PreparedFrame) and handed to every
 * member's engine.io socket as is.
 */
import type { FrameEncoder } from '../session/session.js';
import { wsTextFrame } from './ws-frame.js';

const PREFIX = '{"type":"';
/** Frame types the splice handles: plain names, nothing to escape. */
const PLAIN_TYPE = /^[A-Za-z0-9_.:-]{1,64}$/;

/**
 * The Socket.IO EVENT packet text of a Parley frame: event name = the frame's
 * `type`, argument = the frame's other fields. Any frame type works (no list
 * of known events); a JSON layout the splice does not recognize is parsed once.
 *
 * @example
 * sioEventText('{"type":"typing","room":"r","user":"u"}'); // '2["typing",{"room":"r","user":"u"}]'
 */
export function sioEventText(json: string): string {
  if (json.startsWith(PREFIX)) {
    const end = json.indexOf('"', PREFIX.length);
    const type = json.slice(PREFIX.length, end);
    if (end > 0 && PLAIN_TYPE.test(type)) {
      const next = json.charCodeAt(end + 1);
      if (next === 0x2c /* , */) return `2["${type}",{${json.slice(end + 2)}]`;
      if (next === 0x7d /* } */ && end + 2 === json.length) return `2["${type}",{}]`;
    }
  }
  const { type, ...fields } = JSON.parse(json) as { type: unknown };
  return `2${JSON.stringify([String(type), fields])}`;
}

/** Engine.io write options with the pre-built WebSocket frame its websocket transport writes as is. */
export interface SioWriteOptions {
  compress?: boolean;
  /** The complete WebSocket frame (header + `42[…]`), as `ws`'s Sender.frame gives it. */
  wsPreEncodedFrame: Buffer[];
}

/** A Socket.IO packet encoded once for a whole fan-out. */
export interface SioPacket {
  /** The Socket.IO packet text (`2[…]`), what engine.io's `write` takes. */
  readonly text: string;
  /** Shared by every member's write: polling sends `text`, websocket the pre-built frame. */
  readonly options: SioWriteOptions;
}

/**
 * The FrameEncoder of Socket.IO packets (pass it to `PreparedFrame.encoded`).
 *
 * @example
 * const packet = frame.encoded(encodeSioPacket);
 * engineSocket.write(packet.text, packet.options);
 */
export const encodeSioPacket: FrameEncoder<SioPacket> = (json) => {
  const text = sioEventText(json);
  // "4" is the engine.io message type, as engine.io's own encoder would prefix it.
  return { text, options: { compress: true, wsPreEncodedFrame: wsTextFrame(Buffer.from(`4${text}`)) } };
};
