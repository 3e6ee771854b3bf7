import type { ErrorCode } from '../protocol/codes.js';

/** Error codes the SDK raises by itself, next to the protocol's codes. */
export type ClientErrorCode =
  /** No reply within the request timeout. */
  | 'TIMEOUT'
  /** The client was closed (by `close()`, or by the server with a close code that forbids reconnecting). */
  | 'CLOSED'
  /** The first connection attempt failed (server down, bad credentials, refused origin). */
  | 'CONNECT_FAILED'
  /** Too many requests are waiting for the connection. */
  | 'QUEUE_FULL';

/**
 * Every error the SDK rejects a promise with. `code` is either a protocol
 * error code from the server (`NOT_JOINED`, `FORBIDDEN`, `RATE_LIMITED`, ...)
 * or one of the SDK's own codes (`TIMEOUT`, `CLOSED`, `CONNECT_FAILED`,
 * `QUEUE_FULL`).
 *
 * @example
 * try {
 *   await client.send('general', text);
 * } catch (err) {
 *   if (err instanceof ParleyClientError && err.code === 'RATE_LIMITED') slowDown();
 * }
 */
export class ParleyClientError extends Error {
  /** Protocol error code (from the server) or SDK error code. */
  readonly code: ErrorCode | ClientErrorCode;
  /** The command that failed, when the error answers a request. */
  readonly command: string | undefined;
  /** The WebSocket close code, for `CLOSED` and `CONNECT_FAILED`. */
  readonly closeCode: number | undefined;
  /**
   * True when the server sent this error (a reply or an `error` frame), false
   * when the SDK raised it (timeout, closed, a frame refused before sending).
   *
   * @example
   * if (err.fromServer) console.warn('server said', err.code);
   */
  readonly fromServer: boolean;

  constructor(
    code: ErrorCode | ClientErrorCode,
    message: string,
    details: { command?: string; closeCode?: number; fromServer?: boolean; cause?: unknown } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'ParleyClientError';
    this.code = code;
    this.command = details.command;
    this.closeCode = details.closeCode;
    this.fromServer = details.fromServer ?? false;
  }

  /**
   * True when retrying the same request later may succeed (storage was
   * unreachable, rate limited, timed out, internal error).
   *
   * @example
   * if (err.retryable) setTimeout(() => client.send(room, text, { clientMsgId }), 1000);
   */
  get retryable(): boolean {
    return ['UNAVAILABLE', 'RATE_LIMITED', 'TIMEOUT', 'INTERNAL'].includes(this.code);
  }
}
