/**
 * A lean WebSocket client for the load generator: one net.Socket, an RFC 6455
 * frame parser working on the socket's chunks directly, text frames only, no
 * extensions. With thousands of connections, the per-frame cost of a general
 * client (stream machinery, events per frame) made the load generator cost
 * as much CPU as the servers it measures, on a 2-core box.
 */
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

export interface RawWs {
  onText: ((text: string) => void) | null;
  onClose: ((code: number) => void) | null;
  send(text: string): void;
  isOpen(): boolean;
  close(): void;
}

class Conn implements RawWs {
  onText: ((text: string) => void) | null = null;
  onClose: ((code: number) => void) | null = null;
  private buf: Buffer | null = null;
  private fragments: Buffer[] = [];
  private open = true;
  private closeCode = 1006;

  constructor(private readonly sock: Socket) {
    sock.on('data', (chunk: Buffer) => this.feed(chunk));
    sock.on('close', () => {
      this.open = false;
      this.onClose?.(this.closeCode);
    });
  }

  feed(chunk: Buffer): void {
    let b = this.buf ? Buffer.concat([this.buf, chunk]) : chunk;
    let o = 0;
    const n = b.length;
    while (n - o >= 2) {
      const b0 = b[o] as number;
      const b1 = b[o + 1] as number;
      let len = b1 & 0x7f;
      let hdr = 2;
      if (len === 126) {
        if (n - o < 4) break;
        len = b.readUInt16BE(o + 2);
        hdr = 4;
      } else if (len === 127) {
        if (n - o < 10) break;
        len = b.readUInt32BE(o + 2) * 2 ** 32 + b.readUInt32BE(o + 6);
        hdr = 10;
      }
      if (b1 & 0x80) hdr += 4; // servers do not mask; tolerate it anyway
      if (n - o < hdr + len) break;
      let payload = b.subarray(o + hdr, o + hdr + len);
      if (b1 & 0x80) {
        const mask = b.subarray(o + hdr - 4, o + hdr);
        payload = Buffer.from(payload);
        for (let i = 0; i < payload.length; i++) payload[i] = (payload[i] as number) ^ (mask[i & 3] as number);
      }
      o += hdr + len;
      this.frame(b0 & 0x80, b0 & 0x0f, payload);
    }
    if (o >= n) this.buf = null;
    else {
      b = b.subarray(o);
      // Copy so that a small remainder does not pin a large chunk.
      this.buf = Buffer.from(b);
    }
  }

  private frame(fin: number, opcode: number, payload: Buffer): void {
    switch (opcode) {
      case 0x1:
      case 0x0:
        if (!fin) {
          this.fragments.push(Buffer.from(payload));
          return;
        }
        if (this.fragments.length > 0) {
          this.fragments.push(payload);
          const whole = Buffer.concat(this.fragments);
          this.fragments = [];
          this.onText?.(whole.toString('utf8'));
        } else {
          this.onText?.(payload.toString('utf8'));
        }
        return;
      case 0x8:
        this.closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
        this.writeFrame(0x8, payload.subarray(0, 2));
        this.open = false;
        this.sock.end();
        return;
      case 0x9:
        this.writeFrame(0xa, payload);
        return;
      default:
        return; // pong, binary: ignored
    }
  }

  private writeFrame(opcode: number, payload: Buffer): void {
    if (this.sock.destroyed) return;
    const len = payload.length;
    // Masked (clients must mask) with a zero key: the payload goes out unchanged.
    let header: Buffer;
    if (len < 126) {
      header = Buffer.alloc(6);
      header[1] = 0x80 | len;
    } else if (len < 65536) {
      header = Buffer.alloc(8);
      header[1] = 0x80 | 126;
      header.writeUInt16BE(len, 2);
    } else {
      header = Buffer.alloc(14);
      header[1] = 0x80 | 127;
      header.writeUInt32BE(Math.floor(len / 2 ** 32), 2);
      header.writeUInt32BE(len >>> 0, 6);
    }
    header[0] = 0x80 | opcode;
    this.sock.write(Buffer.concat([header, payload]));
  }

  send(text: string): void {
    if (this.open) this.writeFrame(0x1, Buffer.from(text, 'utf8'));
  }

  isOpen(): boolean {
    return this.open && !this.sock.destroyed;
  }

  close(): void {
    this.open = false;
    this.sock.destroy();
  }
}

/** Opens a WebSocket to 127.0.0.1:port at `path`; rejects on an HTTP status other than 101. */
export function connectRaw(
  port: number,
  path: string,
  timeoutMs: number,
  handlers: { onText: (text: string) => void; onClose: (code: number) => void },
): Promise<RawWs> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: '127.0.0.1', port });
    sock.setNoDelay(true);
    let head = Buffer.alloc(0);
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`connect to :${port} timed out`));
    }, timeoutMs);
    const fail = (e: Error): void => {
      clearTimeout(timer);
      sock.destroy();
      reject(e);
    };
    sock.once('error', fail);
    sock.on('connect', () => {
      const key = randomBytes(16).toString('base64');
      sock.write(
        `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
    const onHead = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) {
        if (head.length > 16384) fail(new Error('handshake response too large'));
        return;
      }
      sock.off('data', onHead);
      const status = head.subarray(0, head.indexOf('\r\n')).toString('latin1');
      if (!/^HTTP\/1\.1 101 /.test(status)) {
        fail(new Error(`HTTP ${status.split(' ')[1] ?? status}`));
        return;
      }
      clearTimeout(timer);
      sock.off('error', fail);
      sock.on('error', () => {});
      const conn = new Conn(sock);
      conn.onText = handlers.onText;
      conn.onClose = handlers.onClose;
      const rest = head.subarray(end + 4);
      if (rest.length > 0) conn.feed(Buffer.from(rest));
      resolve(conn);
    };
    sock.on('data', onHead);
  });
}
