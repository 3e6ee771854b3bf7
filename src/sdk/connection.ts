/**
 * The transport of the SDK: one WebSocket at a time, the connection state
 * machine (idle → connecting → connected ⇄ reconnecting → closed), reconnect
 * with full-jitter backoff, which close codes end the client for good, and
 * the ping keepalive that notices a dead socket. Knows nothing of rooms or
 * requests: it reports to the client through {@link ConnectionHooks}.
 */
import { CloseCodes } from '../protocol/codes.js';
import { Backoff } from './backoff.js';
import { ParleyClientError } from './errors.js';
import type { ClientOptions, ConnectionState, StateChange, WebSocketConstructor, WebSocketLike } from './types.js';
import { socketUrl } from './util.js';

/** What the connection tells the client. */
export interface ConnectionHooks {
  /** A socket is open (first connect or a reconnect). */
  opened(): void;
  /** A text frame arrived on the current socket. */
  frame(raw: unknown): void;
  /** The current socket is gone; a reconnect or `ended` follows. */
  dropped(): void;
  /** The client is closed for good (by the app, a fatal close code, or a failed first connect). */
  ended(err: ParleyClientError): void;
  /** The connection state changed. */
  state(change: StateChange): void;
  /** Sends a ping on the current socket; rejects with TIMEOUT when no reply came in `timeoutMs`. */
  ping(timeoutMs: number): Promise<unknown>;
}

interface FirstConnect {
  promise: Promise<void>;
  resolve: () => void;
  reject: (e: ParleyClientError) => void;
}

/** One WebSocket at a time, reconnected until closed. */
export class Connection {
  /** Increases with every socket (and when one is abandoned): frames of older sockets are ignored. */
  serial = 0;
  /** True while the current socket is open. */
  isOpen = false;
  private socket: WebSocketLike | null = null;
  private current: ConnectionState = 'idle';
  private readonly backoff: Backoff;
  private userClosed = false;
  private everOpened = false;
  private firstConnect: FirstConnect | null = null;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  private lastFrameAt = 0;
  private pingOutstanding = false;
  private lastSocketError: string | undefined;
  private readonly onOnline = (): void => this.reconnectNow();

  constructor(
    private readonly opts: ClientOptions,
    private readonly hooks: ConnectionHooks,
  ) {
    this.backoff = new Backoff(opts.backoff);
  }

  get state(): ConnectionState {
    return this.current;
  }

  /** True once connect() was called and close() was not (requests may queue). */
  get active(): boolean {
    return this.current !== 'idle' && this.current !== 'closed';
  }

  /** Opens the first socket; resolves once it is open, rejects with CONNECT_FAILED if it fails. */
  connect(): Promise<void> {
    if (this.current === 'connected' || this.current === 'reconnecting') return Promise.resolve();
    if (this.firstConnect) return this.firstConnect.promise;
    this.userClosed = false;
    this.everOpened = false;
    let resolve!: () => void;
    let reject!: (e: ParleyClientError) => void;
    const promise = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    this.firstConnect = { promise, resolve, reject };
    const win = globalThis as { addEventListener?: (type: string, fn: () => void) => void };
    win.addEventListener?.('online', this.onOnline);
    this.setState({ state: 'connecting' });
    void this.openSocket();
    return promise;
  }

  /** Closes for good (no reconnect). */
  close(): void {
    this.userClosed = true;
    this.shutdown(new ParleyClientError('CLOSED', 'the client was closed'), undefined, 'closed by the client');
  }

  /** Skips the backoff wait while reconnecting. */
  reconnectNow(): void {
    if (this.current !== 'reconnecting' || this.socket) return;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    void this.openSocket();
  }

  /** Writes a frame on the open socket; a failed write is followed by the close event. */
  send(text: string): void {
    try {
      this.socket?.send(text);
    } catch {
      // the close event follows
    }
  }

  private setState(change: Omit<StateChange, 'previous'>): void {
    const previous = this.current;
    this.current = change.state;
    this.hooks.state({ ...change, previous });
  }

  /** The socket URL and, for a token sent as a header, the headers of the upgrade request. */
  private async target(Ctor: WebSocketConstructor): Promise<{ url: string; headers?: Record<string, string> }> {
    const token = typeof this.opts.token === 'function' ? await this.opts.token() : this.opts.token;
    if (token) {
      const browserWs = (globalThis as { WebSocket?: unknown }).WebSocket;
      const transport = this.opts.tokenTransport ?? (this.opts.WebSocket && Ctor !== browserWs ? 'header' : 'query');
      if (transport === 'header') {
        return { url: socketUrl(this.opts.url, {}), headers: { Authorization: `Bearer ${token}` } };
      }
      return { url: socketUrl(this.opts.url, { token }) };
    }
    return { url: socketUrl(this.opts.url, { ...this.opts.query, user: this.opts.user, name: this.opts.name }) };
  }

  private async openSocket(): Promise<void> {
    const serial = ++this.serial;
    this.lastSocketError = undefined;
    try {
      const Ctor = this.opts.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
      if (!Ctor) {
        throw new Error('no WebSocket implementation: pass { WebSocket } from the "ws" package on Node 20');
      }
      const { url, headers } = await this.target(Ctor);
      if (serial !== this.serial || this.userClosed) return;
      const ws = headers ? new Ctor(url, undefined, { headers }) : new Ctor(url);
      this.socket = ws;
      ws.onopen = () => {
        if (serial === this.serial) this.onOpen();
      };
      ws.onmessage = (ev: { data: unknown }) => {
        if (serial !== this.serial) return;
        this.lastFrameAt = Date.now();
        this.hooks.frame(ev.data);
      };
      ws.onerror = (ev: { message?: unknown; error?: unknown }) => {
        if (serial !== this.serial) return;
        const msg = ev?.message ?? (ev?.error instanceof Error ? ev.error.message : undefined);
        if (typeof msg === 'string') this.lastSocketError = msg;
      };
      ws.onclose = (ev: { code?: number; reason?: string }) => {
        if (serial === this.serial) this.onClosed(ev?.code ?? 1006, ev?.reason ?? '');
      };
    } catch (err) {
      if (serial !== this.serial) return;
      this.lastSocketError = err instanceof Error ? err.message : String(err);
      this.onClosed(1006, '');
    }
  }

  private onOpen(): void {
    this.isOpen = true;
    this.everOpened = true;
    this.lastFrameAt = Date.now();
    this.pingOutstanding = false;
    this.backoff.reset();
    this.startKeepalive();
    const first = this.firstConnect;
    this.firstConnect = null;
    this.setState({ state: 'connected' });
    first?.resolve();
    this.hooks.opened();
  }

  private onClosed(code: number, reason: string): void {
    const wasOpen = this.isOpen;
    this.isOpen = false;
    this.socket = null;
    this.stopKeepalive();
    this.hooks.dropped();
    if (this.userClosed) return;

    const detail = reason || this.lastSocketError || '';
    if (!this.everOpened) {
      const err = new ParleyClientError(
        'CONNECT_FAILED',
        `could not connect to the Parley server${detail ? `: ${detail}` : ''} (close code ${code})`,
        { closeCode: code },
      );
      this.shutdown(err, code, detail);
      return;
    }
    const tokenRefresh = typeof this.opts.token === 'function';
    const fatal =
      code === CloseCodes.KICKED ||
      code === CloseCodes.POLICY ||
      (code === CloseCodes.TOKEN_EXPIRED && !tokenRefresh) ||
      this.opts.reconnect === false;
    if (fatal) {
      const what =
        code === CloseCodes.KICKED
          ? 'disconnected by the server (kicked)'
          : code === CloseCodes.TOKEN_EXPIRED
            ? 'the token expired'
            : code === CloseCodes.POLICY
              ? 'closed by the server (policy)'
              : 'the connection closed';
      this.shutdown(
        new ParleyClientError('CLOSED', `${what}${detail ? `: ${detail}` : ''}`, { closeCode: code }),
        code,
        detail,
      );
      return;
    }
    const delay = code === CloseCodes.TOKEN_EXPIRED && wasOpen ? 0 : this.backoff.next();
    this.scheduleReconnect(delay, code, detail);
  }

  private scheduleReconnect(delayMs: number, closeCode: number | undefined, reason: string): void {
    clearTimeout(this.reconnectTimer);
    const change: Omit<StateChange, 'previous'> = { state: 'reconnecting', attempt: this.backoff.attempts, delayMs };
    if (closeCode !== undefined) change.closeCode = closeCode;
    if (reason) change.reason = reason;
    this.setState(change);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      void this.openSocket();
    }, delayMs);
  }

  private shutdown(err: ParleyClientError, closeCode: number | undefined, reason: string): void {
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.stopKeepalive();
    const win = globalThis as { removeEventListener?: (type: string, fn: () => void) => void };
    win.removeEventListener?.('online', this.onOnline);
    const socket = this.socket;
    this.socket = null;
    this.isOpen = false;
    this.serial++;
    if (socket) {
      try {
        socket.close(1000, 'client closed');
      } catch {
        // already closed
      }
    }
    const first = this.firstConnect;
    this.firstConnect = null;
    // The state is `closed` before the app hears of the failed requests: a retry in a catch sees CLOSED.
    const previous = this.current;
    this.current = 'closed';
    this.hooks.ended(err);
    if (previous !== 'closed') {
      const change: StateChange = { state: 'closed', previous, error: err };
      if (closeCode !== undefined) change.closeCode = closeCode;
      if (reason) change.reason = reason;
      this.hooks.state(change);
    }
    first?.reject(err);
  }

  private startKeepalive(): void {
    this.stopKeepalive();
    const interval = this.opts.pingIntervalMs ?? 20_000;
    const pongTimeout = this.opts.pongTimeoutMs ?? 10_000;
    this.pingTimer = setInterval(
      () => {
        if (!this.isOpen || this.pingOutstanding) return;
        if (Date.now() - this.lastFrameAt < interval) return;
        this.pingOutstanding = true;
        const serial = this.serial;
        const sentAt = Date.now();
        this.hooks.ping(pongTimeout).then(
          () => {
            this.pingOutstanding = false;
          },
          (err: ParleyClientError) => {
            this.pingOutstanding = false;
            if (err.code !== 'TIMEOUT' || serial !== this.serial || this.lastFrameAt > sentAt) return;
            this.killDeadSocket();
          },
        );
      },
      Math.max(50, Math.min(interval, 1000)),
    );
  }

  private stopKeepalive(): void {
    clearInterval(this.pingTimer);
    this.pingTimer = undefined;
  }

  /** No answer to a ping: the socket is dead even if it was never told. Drop it and reconnect. */
  private killDeadSocket(): void {
    const socket = this.socket;
    this.serial++; // ignore whatever the old socket still says
    if (socket) {
      const s = socket as WebSocketLike & { terminate?: () => void };
      try {
        if (typeof s.terminate === 'function') s.terminate();
        else s.close(4000, 'ping timeout');
      } catch {
        // nothing to do
      }
    }
    this.lastSocketError = 'no reply to ping';
    this.onClosed(1006, 'no reply to ping');
  }
}
