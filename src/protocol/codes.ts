/**
 * Stable error and close codes of the Parley wire protocol (docs/protocol.md).
 * Outside clients depend on these strings and numbers: add, never rename.
 */

/** Error codes carried in `reply.error.code`, `error.error.code` and HTTP error bodies. */
export const ErrorCodes = [
  'BAD_REQUEST',
  'UNKNOWN_COMMAND',
  'NOT_JOINED',
  'FORBIDDEN',
  'TOO_LARGE',
  'RATE_LIMITED',
  'LIMIT',
  'NOT_FOUND',
  'UNAVAILABLE',
  'INTERNAL',
  'UNAUTHORIZED',
] as const;

export type ErrorCode = (typeof ErrorCodes)[number];

/** WebSocket close codes used by the server. */
export const CloseCodes = {
  /** Server shutting down: reconnect (possibly to another node). */
  GOING_AWAY: 1001,
  /** A binary frame was received. */
  UNSUPPORTED_DATA: 1003,
  /** Policy violation (e.g. handshake rules, too many connections). */
  POLICY: 1008,
  /** Frame larger than the configured maximum. */
  TOO_LARGE: 1009,
  /** The server could not serve the connection any longer (a delivery to it failed); reconnect. */
  INTERNAL_ERROR: 1011,
  /** The JWT expired during the session. */
  TOKEN_EXPIRED: 4001,
  /** Kicked or banned through the HTTP API. */
  KICKED: 4003,
  /** The client did not read fast enough (outbound queue over the limit). */
  SLOW_CONSUMER: 4008,
} as const;

export type CloseCode = (typeof CloseCodes)[keyof typeof CloseCodes];
