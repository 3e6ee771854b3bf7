/**
 * The state the parts of the chat page share: the saved session, the rooms
 * with their messages and members, and who "me" is. No DOM here.
 */
import {
  isValidId,
  type ChosenStatus,
  type Message,
  type ParleyClient,
  type OwnPresenceEntry,
  type PresenceEntry,
} from '../../src/sdk/index.js';

/** Query-string settings (`?idle=`, `?page=`, `?token=`); tests use them to shorten waits. */
export const params = new URLSearchParams(location.search);
export const DEFAULT_ROOM = 'general';
const STORAGE_KEY = 'parley.session.v1';

export interface Session {
  mode: 'dev' | 'token';
  /** Dev mode: sign in with `?roles=moderator` (the dev server trusts it, as it trusts the name). */
  moderator?: boolean;
  user?: string;
  name?: string;
  token?: string;
  rooms: string[];
  active: string;
}

export function loadSession(): Session | null {
  try {
    const raw = localStorage.getItem(STORAGE_KEY);
    if (!raw) return null;
    const s = JSON.parse(raw) as Session;
    if (!Array.isArray(s.rooms)) return null;
    s.rooms = s.rooms.filter((r) => typeof r === 'string' && isValidId(r));
    if (!s.rooms.length) s.rooms = [DEFAULT_ROOM];
    if (!s.rooms.includes(s.active)) s.active = s.rooms[0] ?? DEFAULT_ROOM;
    return s;
  } catch {
    return null;
  }
}

const DEVICE_KEY = 'parley.device.v1';

/**
 * Dev mode's user id: generated once per browser and kept, so a reload is the
 * same person and two people who type the same name are two users. Shown
 * nowhere (names are what people see).
 */
export function deviceUserId(): string {
  try {
    const saved = localStorage.getItem(DEVICE_KEY);
    if (saved && isValidId(saved)) return saved;
  } catch {
    // private mode: a fresh id per visit
  }
  const bytes = new Uint8Array(8);
  crypto.getRandomValues(bytes);
  const id = `u-${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
  try {
    localStorage.setItem(DEVICE_KEY, id);
  } catch {
    // not kept
  }
  return id;
}

export function saveSession(s: Session | null): void {
  try {
    if (s) localStorage.setItem(STORAGE_KEY, JSON.stringify(s));
    else localStorage.removeItem(STORAGE_KEY);
  } catch {
    // private mode: nothing to remember
  }
}

/** A message of mine the server has not confirmed yet. */
export interface Pending {
  clientMsgId: string;
  text: string;
  ts: number;
  /** The message it answers. */
  replyTo?: string;
  failed?: string;
}

export interface RoomView {
  name: string;
  messages: Message[];
  ids: Set<string>;
  pending: Map<string, Pending>;
  hasMore: boolean;
  loaded: boolean;
  loading: boolean;
  loadError: string;
  unread: number;
  /** Your own entry carries your true status (`invisible` included). */
  members: Map<string, PresenceEntry | OwnPresenceEntry>;
  /** user → time until which their typing shows */
  typing: Map<string, number>;
  joined: boolean;
  /** The room's topic, when set. */
  topic: string;
  /** Why the server took us out of the room (e.g. `banned`); the composer is replaced by a notice. */
  removed: string;
  /** My read marker, as the server last said. */
  lastReadId: string | null;
  /** Others' read markers heard in this session (user → message id), for "Seen by". */
  readBy: Map<string, string>;
}

export function newRoomView(name: string): RoomView {
  return {
    name,
    messages: [],
    ids: new Set(),
    pending: new Map(),
    hasMore: true,
    loaded: false,
    loading: false,
    loadError: '',
    unread: 0,
    members: new Map(),
    typing: new Map(),
    joined: false,
    topic: '',
    removed: '',
    lastReadId: null,
    readBy: new Map(),
  };
}

export class ChatState {
  readonly me: string;
  readonly myName: string;
  readonly rooms = new Map<string, RoomView>();
  active: string;
  /** Display names seen so far, by user id. */
  readonly names = new Map<string, string>();
  myStatus: ChosenStatus = 'online';
  myText = '';
  /** Set when the status turned away by itself, so activity turns it back. */
  autoAway = false;

  constructor(
    readonly session: Session,
    readonly client: ParleyClient,
  ) {
    this.me = client.userId ?? session.user ?? 'me';
    this.myName = session.name ?? client.userName ?? this.me;
    this.names.set(this.me, this.myName);
    this.active = session.active;
    for (const r of session.rooms) this.rooms.set(r, newRoomView(r));
    if (!this.rooms.has(this.active)) this.rooms.set(this.active, newRoomView(this.active));
  }

  /** The open room. */
  get view(): RoomView | undefined {
    return this.rooms.get(this.active);
  }

  nameOf(user: string): string {
    return this.names.get(user) ?? user;
  }

  /** The other user of a `dm:<a>:<b>` room I am in, else null. */
  dmPeer(room: string): string | null {
    if (!room.startsWith('dm:')) return null;
    const [a, b] = room.slice(3).split(':');
    if (a === undefined || b === undefined) return null;
    return a === this.me ? b : b === this.me ? a : null;
  }

  /** What a room is called on screen: `#name`, or the other person's name for a DM (never the raw id). */
  roomLabel(room: string): string {
    const peer = this.dmPeer(room);
    if (peer === null) return room;
    return this.names.get(peer) ?? 'Direct message';
  }

  /** True when this session may moderate (shows the tools; the server decides). */
  get isModerator(): boolean {
    return this.client.roles.some((r) => r === 'moderator' || r === 'admin');
  }

  /** Remembers the room list and the open room for the next visit. */
  saveRooms(): void {
    this.session.rooms = [...this.rooms.keys()];
    this.session.active = this.active;
    saveSession(this.session);
  }
}
