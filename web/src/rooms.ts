/**
 * The rooms: the list from the server's `rooms` (the same on every device,
 * with unread counts), opening, joining and leaving rooms and DMs, switching,
 * the room events (joined, unread, read, removed) and the read marker of the
 * open room. The rooms pane is drawn by sidebar.ts, the chat column's header
 * and the page title by room-header.ts.
 */
import {
  ParleyClientError,
  compareMessageIds,
  type JoinedInfo,
  type RoomEntry,
  type UnreadInfo,
} from '../../src/sdk/index.js';
import { confirmDialog } from './dialog.js';
import type { Messages } from './messages.js';
import type { People } from './people.js';
import { RoomHeader } from './room-header.js';
import type { Shell } from './shell.js';
import { Sidebar } from './sidebar.js';
import { DEFAULT_ROOM, newRoomView, params, type ChatState } from './state.js';

/** How often the sidebar asks the server for new memberships (DMs others started). `?poll=` seconds. */
const POLL_MS = Math.max(1, Number(params.get('poll') ?? 20)) * 1000;
/** At most this many rooms are joined at once (the server allows 100 per connection). */
const MAX_JOINED = 90;

export interface RoomsDeps {
  shell: Shell;
  messages: Messages;
  people: People;
  /** The foot of the rooms pane (my status card, sign out). */
  footer: HTMLElement;
}

export class Rooms {
  readonly pane: HTMLElement;
  /** The chat column's header: the open room's name and how many are online. */
  readonly head: HTMLElement;
  private readonly sidebar: Sidebar;
  private readonly header: RoomHeader;
  /** Read requests in flight, so a scroll does not send the same one twice. */
  private readonly reading = new Map<string, string>();

  constructor(
    private readonly state: ChatState,
    private readonly deps: RoomsDeps,
  ) {
    this.sidebar = new Sidebar(state, {
      shell: deps.shell,
      footer: deps.footer,
      select: (room) => this.switchTo(room),
      open: (room, explicit) => this.open(room, explicit),
    });
    this.header = new RoomHeader(state, {
      shell: deps.shell,
      peopleButton: deps.people.button,
      leave: () => void this.leave(state.active),
    });
    this.pane = this.sidebar.pane;
    this.head = this.header.el;
  }

  // ---- the list from the server --------------------------------------------------

  /**
   * Takes the server's memberships: new rooms (a DM someone started, a room
   * joined on another device) appear and are joined; unread counts and
   * topics come from the entries. Falls back to the saved list on a server
   * without memberships.
   */
  async sync(first: boolean): Promise<void> {
    const s = this.state;
    let entries: RoomEntry[];
    try {
      entries = await s.client.rooms();
    } catch (err) {
      if (first) for (const room of s.rooms.keys()) void this.join(room, false);
      if (err instanceof ParleyClientError && err.code === 'UNKNOWN_COMMAND') return;
      return;
    }
    if (first) {
      // The server's list is the truth; the open room stays even when it is not a membership yet.
      const keep = new Set(entries.map((e) => e.room));
      for (const name of [...s.rooms.keys()]) if (!keep.has(name) && name !== s.active) s.rooms.delete(name);
      if (!entries.length && !s.rooms.size) s.rooms.set(DEFAULT_ROOM, newRoomView(DEFAULT_ROOM));
    }
    for (const e of entries) {
      let view = s.rooms.get(e.room);
      if (!view) {
        view = newRoomView(e.room);
        s.rooms.set(e.room, view);
      }
      view.unread = e.unread;
      view.lastReadId = e.lastReadId;
      if (e.topic !== undefined) view.topic = e.topic;
      const last = e.lastMessage;
      if (last?.name) s.names.set(last.from, last.name);
    }
    if (!s.rooms.has(s.active)) s.active = s.rooms.keys().next().value ?? DEFAULT_ROOM;
    await this.learnNames();
    s.saveRooms();
    let joined = s.client.joinedRooms().length;
    for (const view of s.rooms.values()) {
      if (view.joined || view.removed || s.client.joinedRooms().includes(view.name)) continue;
      if (joined++ >= MAX_JOINED) break;
      void this.join(view.name, false);
    }
    if (first) this.switchTo(s.active);
    else {
      this.renderRooms();
      this.renderHeader();
    }
  }

  /** Names of DM partners nobody has told us yet (never show their id). */
  private async learnNames(): Promise<void> {
    const s = this.state;
    const unknown = [...s.rooms.keys()].map((r) => s.dmPeer(r)).filter((u): u is string => !!u && !s.names.has(u));
    if (!unknown.length) return;
    try {
      const { users } = await s.client.presence(unknown.slice(0, 500));
      for (const u of users ?? []) if (u.name) s.names.set(u.user, u.name);
    } catch {
      // shown as "Direct message" until a message tells us
    }
  }

  /** Polls `rooms` (and on tab focus) so conversations others start appear. */
  watch(): ReturnType<typeof setInterval> {
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible') void this.sync(false);
    });
    return setInterval(() => void this.sync(false), POLL_MS);
  }

  // ---- joining, leaving ----------------------------------------------------------

  /** Opens a room (joining it when new): from the form, the directory, or a person's DM. */
  async open(name: string, explicit: boolean): Promise<void> {
    const s = this.state;
    if (!s.rooms.has(name)) {
      s.rooms.set(name, newRoomView(name));
      s.saveRooms();
    }
    this.switchTo(name);
    this.deps.shell.drawer(null);
    if (!s.rooms.get(name)?.joined) await this.join(name, explicit);
  }

  /** Opens the DM with `user` ("dm:<a>:<b>", ids sorted), titled with their name. */
  async openDm(user: string): Promise<void> {
    const s = this.state;
    if (user === s.me) return;
    const [a, b] = [s.me, user].sort();
    await this.open(`dm:${a}:${b}`, false);
  }

  /** Joins a room; on refusal the room leaves the list and the error shows by the form (`explicit`) or as a toast. */
  async join(name: string, explicit: boolean): Promise<void> {
    const s = this.state;
    try {
      await s.client.join(name);
    } catch (err) {
      const view = s.rooms.get(name);
      const code = err instanceof ParleyClientError ? err.code : 'INTERNAL';
      if (code === 'TIMEOUT' || code === 'CLOSED') return; // still trying / signing out
      if (view && !view.joined) {
        s.rooms.delete(name);
        s.saveRooms();
        if (s.active === name) this.switchTo(s.rooms.keys().next().value ?? DEFAULT_ROOM);
        else this.renderRooms();
      }
      const label = s.roomLabel(name);
      const msg =
        code === 'FORBIDDEN' ? `You may not join #${label}.` : `Could not join #${label}: ${(err as Error).message}`;
      if (explicit) this.sidebar.showJoinError(msg);
      else this.deps.shell.toast(msg);
    }
  }

  /** Leaves the room for good (the membership ends on every device), after a confirm. */
  private async leave(name: string): Promise<void> {
    const s = this.state;
    const view = s.rooms.get(name);
    if (!view) return;
    const label = s.dmPeer(name) ? s.roomLabel(name) : `#${name}`;
    const ok = await confirmDialog(
      'Leave room',
      `Leave ${label}? It disappears from your list on every device.`,
      'Leave',
    );
    if (!ok) return;
    try {
      await s.client.leave(name, { forget: true });
    } catch (err) {
      if (!view.removed) {
        this.deps.shell.toast(`Could not leave ${label}: ${(err as Error).message}`);
        return;
      }
    }
    s.rooms.delete(name);
    if (!s.rooms.size) s.rooms.set(DEFAULT_ROOM, newRoomView(DEFAULT_ROOM));
    s.saveRooms();
    this.switchTo(s.rooms.keys().next().value ?? DEFAULT_ROOM);
    const next = s.rooms.get(s.active);
    if (next && !next.joined) void this.join(next.name, false);
  }

  // ---- events ------------------------------------------------------------------

  /** A (re)join went through: fresh members, topic, read state, and the first page of messages if open. */
  onJoined(info: JoinedInfo): void {
    const view = this.state.rooms.get(info.room);
    if (!view) return;
    view.joined = true;
    view.topic = info.topic ?? '';
    view.lastReadId = info.lastReadId;
    if (this.state.client.unread(info.room)) view.unread = info.unread;
    this.deps.people.setMembers(view, info.members);
    const peer = this.state.dmPeer(info.room);
    if (peer && !this.state.names.has(peer)) void this.learnNames().then(() => this.renderRooms());
    if (info.room === this.state.active) {
      this.deps.people.render();
      this.renderHeader();
      if (!view.loaded && !view.loading) void this.deps.messages.loadLatest(view);
    }
    this.renderRooms();
  }

  /** The server's unread count for a room changed. */
  onUnread(info: UnreadInfo): void {
    const view = this.state.rooms.get(info.room);
    if (!view) return;
    view.lastReadId = info.lastReadId;
    const open = info.room === this.state.active && document.visibilityState === 'visible';
    view.unread = info.unread;
    this.renderRooms();
    if (open && info.unread > 0) this.deps.messages.maybeMarkRead();
  }

  /** Someone's read marker moved: others' feed "Seen by". */
  onRead(room: string, user: string, messageId: string): void {
    const view = this.state.rooms.get(room);
    if (!view || user === this.state.me) return;
    view.readBy.set(user, messageId);
    if (room === this.state.active) this.deps.messages.render('keep');
  }

  /** A moderator took me out of a room: say why, in place of the composer. */
  onRemoved(room: string, reason: string): void {
    const view = this.state.rooms.get(room);
    if (!view) return;
    view.removed = reason;
    view.joined = false;
    view.typing.clear();
    this.renderRooms();
    if (room === this.state.active) {
      this.renderHeader();
      this.deps.messages.composer.renderRemoved();
      this.deps.messages.render('keep');
    } else {
      this.deps.shell.toast(
        reason === 'banned'
          ? `You were banned from #${this.state.roomLabel(room)}.`
          : `You were removed from #${room}.`,
      );
    }
  }

  switchTo(name: string): void {
    const s = this.state;
    const { messages, people, shell } = this.deps;
    if (!s.rooms.has(name)) s.rooms.set(name, newRoomView(name));
    s.active = name;
    s.saveRooms();
    const view = s.rooms.get(name)!;
    this.renderRooms();
    this.renderHeader();
    messages.show(name);
    people.render();
    shell.drawer(null);
    if (view.joined && !view.loaded && !view.loading) void messages.loadLatest(view);
    messages.focus();
  }

  /**
   * The open room was read (its newest message on screen, the tab visible):
   * moves the server's marker (which clears the badge on every device), or
   * on an older server clears the local count.
   */
  markRead(room: string): void {
    const s = this.state;
    const view = s.rooms.get(room);
    if (!view || document.visibilityState === 'hidden') return;
    const newest = [...view.messages].reverse().find((m) => m.id);
    const known = s.client.unread(room);
    if (known && newest) {
      const marker = known.lastReadId;
      if ((marker === null || compareMessageIds(newest.id, marker) > 0) && known.unread > 0) {
        if (this.reading.get(room) !== newest.id) {
          this.reading.set(room, newest.id);
          s.client
            .read(room, newest.id)
            .catch(() => undefined)
            .finally(() => this.reading.delete(room));
        }
      }
    } else if (!known && view.unread) {
      view.unread = 0;
      this.renderRooms();
    }
    this.header.renderTitle();
  }

  /** The room and DM lists and the unread counts in the title. */
  renderRooms(): void {
    this.sidebar.render();
    this.header.renderTitle();
  }

  /** The chat column's header for the open room (and the page title). */
  renderHeader(): void {
    this.header.render();
  }
}
