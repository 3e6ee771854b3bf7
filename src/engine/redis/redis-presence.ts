/**
 * Redis presence store. PLACEHOLDER: implemented in the presence work (issue 4).
 */
import type { Redis } from 'ioredis';
import type { ChosenStatus } from '../../protocol/frames.js';
import type { EngineOptions } from '../engine.js';
import type {
  ConnectionInfo,
  DepartureTransition,
  PresenceStore,
  UserState,
} from '../presence-store.js';

const todo = (): never => {
  throw new Error('redis presence store not implemented yet');
};

export class RedisPresenceStore implements PresenceStore {
  constructor(
    readonly redis: Redis,
    readonly options: EngineOptions,
  ) {}
  async connect(_conn: ConnectionInfo): Promise<{ wentOnline: boolean; state: UserState }> {
    return todo();
  }
  async disconnect(_connId: string): Promise<DepartureTransition | null> {
    return todo();
  }
  async joinRoom(_connId: string, _user: string, _room: string): Promise<{ first: boolean }> {
    return todo();
  }
  async leaveRoom(_connId: string, _user: string, _room: string): Promise<{ last: boolean }> {
    return todo();
  }
  async setStatus(
    _user: string,
    _status: ChosenStatus,
    _text: string | undefined,
  ): Promise<{ before: UserState; after: UserState; rooms: string[] }> {
    return todo();
  }
  async users(_ids: string[]): Promise<UserState[]> {
    return todo();
  }
  async roomMembers(_room: string, _limit: number): Promise<{ members: UserState[]; count: number }> {
    return todo();
  }
  async listByStatus(_status: ChosenStatus, _limit: number): Promise<{ users: UserState[]; count: number }> {
    return todo();
  }
  async sweep(): Promise<DepartureTransition[]> {
    return todo();
  }
  async removeAllLocal(): Promise<DepartureTransition[]> {
    return todo();
  }
}
