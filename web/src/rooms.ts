/**
 * The rooms: the list with unread badges, joining by name, switching, and the
 * open room's header. The page title counts unread messages in every room.
 */
import { ParleyClientError, isValidId, type JoinedInfo } from '../../src/sdk/index.js';
import { h, icon, replace } from './dom.js';
import type { Messages } from './messages.js';
import type { People } from './people.js';
import type { Shell } from './shell.js';
import { DEFAULT_ROOM, newRoomView, type ChatState } from './state.js';

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
  private readonly list = h('nav', { id: 'room-list', className: 'room-list', 'aria-label': 'Rooms' });
  private readonly joinInput = h('input', {
    id: 'join-input',
    placeholder: 'Join or create a room',
    maxlength: 128,
    autocomplete: 'off',
    'aria-label': 'Room name',
  });
  private readonly joinError = h('p', { className: 'join-error', role: 'alert' });
  /** A dot on the phone menu button while any room has unread messages. */
  private readonly menuBadge = h('span', { className: 'badge dot-badge', hidden: true });
  private readonly title = h('h2', { id: 'room-title' });
  private readonly sub = h('span', { id: 'room-sub', className: 'muted' });

  constructor(
    private readonly state: ChatState,
    private readonly deps: RoomsDeps,
  ) {
    const { shell } = deps;
    const joinForm = h(
      'form',
      { className: 'join-form', id: 'join-form' },
      this.joinInput,
      h(
        'button',
        { type: 'submit', className: 'icon-btn', title: 'Join room', 'aria-label': 'Join room' },
        icon('plus', 18),
      ),
    );
    joinForm.addEventListener('submit', (ev) => {
      ev.preventDefault();
      void this.joinFromForm();
    });
    const close = h(
      'button',
      { className: 'icon-btn only-mobile', type: 'button', 'aria-label': 'Close' },
      icon('close'),
    );
    close.addEventListener('click', () => shell.drawer(null));
    this.pane = h(
      'aside',
      { className: 'rooms-pane', id: 'rooms-pane' },
      h(
        'header',
        { className: 'pane-head' },
        h('div', { className: 'brand small' }, h('div', { className: 'logo' }, 'P'), h('span', {}, 'Parley')),
        close,
      ),
      h('div', { className: 'section-label' }, 'Rooms'),
      this.list,
      joinForm,
      this.joinError,
      deps.footer,
    );

    const menu = h(
      'button',
      { className: 'icon-btn only-mobile', type: 'button', 'aria-label': 'Rooms', id: 'open-rooms' },
      icon('menu'),
      this.menuBadge,
    );
    menu.addEventListener('click', () => shell.drawer('rooms'));
    this.head = h(
      'header',
      { className: 'chat-head' },
      menu,
      h('div', { className: 'title' }, this.title, this.sub),
      deps.people.button,
    );
  }

  private async joinFromForm(): Promise<void> {
    const input = this.joinInput;
    const name = input.value.trim().replace(/^#/, '');
    const errBox = this.joinError;
    errBox.textContent = '';
    if (!name) return;
    if (!isValidId(name)) {
      errBox.textContent = 'Use letters, digits and _ . : @ - only.';
      return;
    }
    input.value = '';
    const s = this.state;
    if (!s.rooms.has(name)) {
      s.rooms.set(name, newRoomView(name));
      s.saveRooms();
    }
    this.switchTo(name);
    this.deps.shell.drawer(null);
    await this.join(name, true);
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
      const msg =
        code === 'FORBIDDEN' ? `You may not join #${name}.` : `Could not join #${name}: ${(err as Error).message}`;
      if (explicit) this.joinError.textContent = msg;
      else this.deps.shell.toast(msg);
    }
  }

  /** A (re)join went through: fresh members, and the first page of messages if the room is open. */
  onJoined(info: JoinedInfo): void {
    const view = this.state.rooms.get(info.room);
    if (!view) return;
    view.joined = true;
    this.deps.people.setMembers(view, info.members);
    if (info.room === this.state.active) {
      this.deps.people.render();
      this.renderHeader();
      if (!view.loaded && !view.loading) void this.deps.messages.loadLatest(view);
    }
  }

  switchTo(name: string): void {
    const s = this.state;
    const { messages, people, shell } = this.deps;
    if (!s.rooms.has(name)) s.rooms.set(name, newRoomView(name));
    s.active = name;
    s.saveRooms();
    const view = s.rooms.get(name)!;
    this.markRead(name);
    this.renderRooms();
    this.renderHeader();
    messages.show(name);
    people.render();
    shell.drawer(null);
    if (view.joined && !view.loaded && !view.loading) void messages.loadLatest(view);
    messages.focus();
  }

  /** Clears a room's unread count, unless the page is hidden (then nobody read it). */
  markRead(room: string): void {
    const view = this.state.rooms.get(room);
    if (!view || document.visibilityState === 'hidden') return;
    if (view.unread) {
      view.unread = 0;
      this.renderRooms();
    }
    this.renderTitle();
  }

  private renderTitle(): void {
    let total = 0;
    for (const v of this.state.rooms.values()) total += v.unread;
    document.title = `${total ? `(${total}) ` : ''}#${this.state.active} · Parley`;
    this.menuBadge.hidden = total === 0;
  }

  /** The room list and the unread counts in the title. */
  renderRooms(): void {
    const active = this.state.active;
    const items = [...this.state.rooms.values()].map((v) => {
      const btn = h(
        'button',
        {
          type: 'button',
          className: `room${v.name === active ? ' active' : ''}${v.unread ? ' has-unread' : ''}`,
          'data-room': v.name,
          'aria-current': v.name === active ? 'page' : null,
        },
        icon('hash', 16),
        h('span', { className: 'room-name' }, v.name),
        v.unread
          ? h('span', { className: 'badge', 'data-unread': v.unread }, v.unread > 99 ? '99+' : String(v.unread))
          : null,
      );
      btn.addEventListener('click', () => this.switchTo(v.name));
      return btn;
    });
    replace(this.list, ...items);
    this.renderTitle();
  }

  renderHeader(): void {
    const s = this.state;
    const view = s.view;
    replace(this.title, h('span', { className: 'hash' }, '#'), s.active);
    if (!view) return;
    let online = 0;
    for (const m of view.members.values()) if (m.status !== 'offline') online++;
    const conn = s.client.state;
    this.sub.textContent =
      conn === 'reconnecting' ? 'offline, reconnecting…' : view.joined ? `${online} online` : 'joining…';
  }
}
