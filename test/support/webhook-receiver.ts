/**
 * A real local HTTP receiver for webhook tests: records every request (raw
 * body, headers) and answers as told: 200, 500, or never (hang).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type ReceiverMode = 'ok' | 'fail' | 'hang';

export interface Received {
  body: string;
  event: { id: string; type: string; ts: number; room?: string; user?: string; message?: { id: string; text: string } };
  headers: IncomingMessage['headers'];
  /** True when X-Parley-Signature matches the body under the secret. */
  signed: boolean;
  /** How the receiver answered it. */
  answered: ReceiverMode;
}

export class WebhookReceiver {
  readonly requests: Received[] = [];
  mode: ReceiverMode = 'ok';
  private readonly server: Server;
  private readonly hanging = new Set<ServerResponse>();
  url = '';

  constructor(private readonly secret: string) {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString();
        const expected = `sha256=${createHmac('sha256', this.secret).update(body).digest('hex')}`;
        const got = String(req.headers['x-parley-signature'] ?? '');
        const signed = got.length === expected.length && timingSafeEqual(Buffer.from(got), Buffer.from(expected));
        const mode = this.mode;
        this.requests.push({
          body,
          event: JSON.parse(body) as Received['event'],
          headers: req.headers,
          signed,
          answered: mode,
        });
        if (mode === 'hang') {
          this.hanging.add(res);
          res.on('close', () => this.hanging.delete(res));
          return;
        }
        res.writeHead(mode === 'ok' ? 200 : 500, { 'Content-Type': 'text/plain' });
        res.end(mode === 'ok' ? 'ok' : 'fail');
      });
    });
    this.server.keepAliveTimeout = 60_000;
  }

  async start(): Promise<string> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
    return this.url;
  }

  /** Events answered 200, in arrival order. */
  delivered(): Received[] {
    return this.requests.filter((r) => r.answered === 'ok');
  }

  async stop(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
