/**
 * Helpers of the SDK tests: SDK clients on Node 20 (with `ws`), event
 * recorders, and a TCP proxy that can go silent without closing (a dead
 * socket as a phone that lost its network sees it).
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import WebSocket from 'ws';
import {
  ParleyClient,
  type ClientOptions,
  type JoinedInfo,
  type WebSocketConstructor,
  type Message,
  type PresenceChange,
  type StateChange,
} from '../../src/sdk/index.js';
import { freePort } from '../support/ports.js';

/** An SDK client for tests: ws on Node 20, fast backoff and timeouts. */
export function sdkClient(url: string, options: Partial<ClientOptions> = {}): ParleyClient {
  return new ParleyClient({
    url,
    WebSocket,
    backoff: { baseMs: 50, maxMs: 400 },
    requestTimeoutMs: 5000,
    ...options,
  });
}

/** One JSON frame as seen on the wire. */
export type WireFrame = Record<string, unknown>;

/**
 * A `ws` WebSocket class that records every frame its sockets send and
 * receive (to assert what went on the wire: retries, the same clientMsgId,
 * headers), and the options each socket was created with.
 */
export class WireLog {
  readonly sent: WireFrame[] = [];
  readonly received: WireFrame[] = [];
  readonly opened: { url: string; headers?: Record<string, string> }[] = [];
  readonly WebSocket: WebSocketConstructor;
  constructor() {
    const { sent, received, opened } = this;
    class Logged extends WebSocket {
      constructor(url: string, protocols?: string | string[], options?: { headers?: Record<string, string> }) {
        super(url, protocols, options);
        opened.push({ url, headers: options?.headers });
        const send = this.send.bind(this);
        this.send = ((data: string) => {
          sent.push(JSON.parse(data) as WireFrame);
          send(data);
        }) as typeof this.send;
        this.addEventListener('message', (ev) => {
          try {
            received.push(JSON.parse(String(ev.data)) as WireFrame);
          } catch {
            // not JSON: not ours to record
          }
        });
      }
    }
    this.WebSocket = Logged;
  }

  /** Frames sent of one command type. */
  commands(type: string): WireFrame[] {
    return this.sent.filter((f) => f.type === type);
  }

  /** The replies to the frames sent with these ids. */
  repliesTo(frames: WireFrame[]): WireFrame[] {
    const ids = new Set(frames.map((f) => f.id));
    return this.received.filter((f) => f.type === 'reply' && ids.has(f.id));
  }
}

/** Records a client's events for assertions. */
export class Recorder {
  readonly messages: Message[] = [];
  readonly presence: PresenceChange[] = [];
  readonly typing: { room: string; user: string }[] = [];
  readonly states: StateChange[] = [];
  readonly resets: string[] = [];
  readonly joined: JoinedInfo[] = [];
  /** Event names in arrival order (message events as `message:<text>`). */
  readonly order: string[] = [];
  constructor(client: ParleyClient) {
    client.on('joined', (j) => {
      this.joined.push(j);
      this.order.push(`joined:${j.room}`);
    });
    client.on('reset', (r) => this.order.push(`reset:${r.room}`));
    client.on('message', (m) => this.order.push(`message:${m.text}`));
    client.on('message', (m) => this.messages.push(m));
    client.on('presence', (p) => this.presence.push(p));
    client.on('typing', (t) => this.typing.push(t));
    client.on('state', (s) => this.states.push(s));
    client.on('reset', (r) => this.resets.push(r.room));
  }
  texts(room?: string): string[] {
    return this.messages.filter((m) => room === undefined || m.room === room).map((m) => m.text);
  }
}

interface Pair {
  client: Socket;
  upstream: Socket;
  silent: boolean;
}

/** A TCP proxy in front of a node. `silence()` stops forwarding on the open connections without closing them. */
export class SilentProxy {
  private pairs = new Set<Pair>();
  /** Where new connections go (a load balancer pointing at another node after a restart). */
  target = 0;
  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(targetPort: number): Promise<SilentProxy> {
    const port = await freePort();
    // eslint-disable-next-line prefer-const -- assigned once the server exists
    let proxy!: SilentProxy;
    const server = createServer((client) => {
      const upstream = createConnection({ port: proxy.target, host: '127.0.0.1' });
      const pair: Pair = { client, upstream, silent: false };
      proxy.pairs.add(pair);
      client.on('data', (d) => {
        if (!pair.silent) upstream.write(d);
      });
      upstream.on('data', (d) => {
        if (!pair.silent) client.write(d);
      });
      const end = (): void => {
        proxy.pairs.delete(pair);
        client.destroy();
        upstream.destroy();
      };
      client.on('close', end);
      upstream.on('close', end);
      client.on('error', end);
      upstream.on('error', end);
    });
    proxy = new SilentProxy(server, port);
    proxy.target = targetPort;
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    return proxy;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Server → client traffic of the open connections stops (client → server still flows unless `both`). */
  silence(both = false): void {
    for (const pair of this.pairs) {
      pair.silent = true;
      if (!both) {
        // keep the upstream direction: re-enable forwarding client → server only
        pair.client.removeAllListeners('data');
        pair.client.on('data', (d) => pair.upstream.write(d));
      }
    }
  }

  get connections(): number {
    return this.pairs.size;
  }

  async stop(): Promise<void> {
    for (const pair of this.pairs) {
      pair.client.destroy();
      pair.upstream.destroy();
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
