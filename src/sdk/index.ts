/**
 * Parley client SDK: browsers and Node 20.
 *
 * @example
 * import { ParleyClient } from 'parley/client';
 * const client = new ParleyClient({ url: 'http://localhost:3000', user: 'ann', name: 'Ann' });
 * await client.connect();
 */
export { ParleyClient } from './client.js';
export type {
  ClientOptions,
  ClientEvents,
  ConnectionState,
  StateChange,
  JoinedInfo,
  JoinOptions,
  LeaveOptions,
  ModerationOptions,
  PresenceChange,
  TypingChange,
  ResetInfo,
  UnreadInfo,
  EditedChange,
  DeletedChange,
  ReactionChange,
  ReadChange,
  RemovedChange,
  SendOptions,
  HistoryOptions,
  RequestOptions,
  TokenTransport,
  WebSocketLike,
  WebSocketConstructor,
} from './types.js';
export { MessageStore, tombstone, withReaction } from './store.js';
export { ParleyClientError, type ClientErrorCode } from './errors.js';
export { Backoff, fullJitterDelay, type BackoffOptions } from './backoff.js';
export { ErrorCodes, CloseCodes, type ErrorCode, type CloseCode } from '../protocol/codes.js';
export { dmRoom, isValidId, compareMessageIds } from '../protocol/ids.js';
export type {
  Message,
  OwnPresenceEntry,
  PresenceEntry,
  PresenceStatus,
  ChosenStatus,
  HistoryResult,
  PresenceResult,
  Reaction,
  RoomEntry,
  DirectoryEntry,
} from '../protocol/frames.js';
export { UNREAD_CAP } from './unread.js';
