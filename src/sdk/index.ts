/**
 * Parley client SDK: browsers and Node 20.
 *
 * @example
 * import { ParleyClient } from 'parley/client';
 * const client = new ParleyClient({ url: 'http://localhost:3000', user: 'ann', name: 'Ann' });
 * await client.connect();
 */
export {
  ParleyClient,
  type ClientOptions,
  type ClientEvents,
  type ConnectionState,
  type StateChange,
  type JoinedInfo,
  type JoinOptions,
  type PresenceChange,
  type TypingChange,
  type ResetInfo,
  type SendOptions,
  type HistoryOptions,
  type RequestOptions,
  type WebSocketLike,
  type WebSocketConstructor,
} from './client.js';
export { ParleyClientError, type ClientErrorCode } from './errors.js';
export { Backoff, fullJitterDelay, type BackoffOptions } from './backoff.js';
export { ErrorCodes, CloseCodes, type ErrorCode, type CloseCode } from '../protocol/codes.js';
export { dmRoom, isValidId, compareMessageIds } from '../protocol/ids.js';
export type {
  Message,
  PresenceEntry,
  PresenceStatus,
  ChosenStatus,
  HistoryResult,
  PresenceResult,
} from '../protocol/frames.js';
