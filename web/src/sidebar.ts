/**
 * The rooms pane: rooms and direct messages in two lists with their unread
 * badges, "Browse rooms", the join-by-name form with its error line, and the
 * pane's foot (my status card, sign out).
 */
import { isValidId } from '../../src/sdk/index.js';
import { avatar } from './avatar.js';
import { showDirectory } from './browse.js';
import { h, icon, replace } from './dom.js';
import type { Shell } from './shell.js';
import type { ChatState } from './state.js';

export interface SidebarDeps {
  shell: Shell;
  /** The foot of the pane. */
  footer: HTMLElement;
  /** A room of a list was clicked. */
  select(room: string): void;
  /** Opens (and joins) a room named in the form (`explicit`) or picked in the directory. */
  open(room: string, explicit: boolean): Promise<void>;
}

export class Sidebar {
  readonly pane: HTMLElement;
  private readonly list = h('nav', { id: 'room-list', className: 'room-list', 'aria-label': 'Rooms' });
  private readonly dmList = h('nav', { id: 'dm-list', className: 'room-list', 'aria-label': 'Direct messages' });
  private readonly dmLabel = h('div', { className: 'section-label', id: 'dm-label' }, 'Direct messages');
  private readonly joinInput = h('input', {
    id: 'join-input',
    placeholder: 'Join or create a room',
    maxlength: 128,
    autocomplete: 'off',
    'aria-label': 'Room name',
  });
  private readonly joinError = h('p', { className: 'join-error', role: 'alert' });

  constructor(
    private readonly state: ChatState,
    private readonly deps: SidebarDeps,
  ) {
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
    const browse = h('button', { type: 'button', className: 'browse-btn', id: 'browse-rooms' }, 'Browse rooms');
    browse.addEventListener('click', () => showDirectory(this.state, (room) => void deps.open(room, false)));
    const close = h(
      'button',
      { className: 'icon-btn only-mobile', type: 'button', 'aria-label': 'Close' },
      icon('close'),
    );
    close.addEventListener('click', () => deps.shell.drawer(null));
    this.pane = h(
      'aside',
      { className: 'rooms-pane', id: 'rooms-pane' },
      h(
        'header',
        { className: 'pane-head' },
        h('div', { className: 'brand small' }, h('div', { className: 'logo' }, 'P'), h('span', {}, 'Parley')),
        close,
      ),
      h(
        'div',
        { className: 'rooms-scroll' },
        h('div', { className: 'section-label' }, 'Rooms'),
        this.list,
        browse,
        this.dmLabel,
        this.dmList,
      ),
      joinForm,
      this.joinError,
      deps.footer,
    );
  }

  /** Shows why a room named in the form could not be joined. */
  showJoinError(text: string): void {
    this.joinError.textContent = text;
  }

  private async joinFromForm(): Promise<void> {
    const input = this.joinInput;
    const name = input.value.trim().replace(/^#/, '');
    const errBox = this.joinError;
    errBox.textContent = '';
    if (!name) return;
    if (!isValidId(name) || name.startsWith('dm:')) {
      errBox.textContent = 'Use letters, digits and _ . : @ - only.';
      return;
    }
    input.value = '';
    await this.deps.open(name, true);
  }

  /** The room and DM lists. */
  render(): void {
    const s = this.state;
    const active = s.active;
    const item = (name: string): HTMLElement => {
      const v = s.rooms.get(name)!;
      const peer = s.dmPeer(name);
      const btn = h(
        'button',
        {
          type: 'button',
          className: `room${name === active ? ' active' : ''}${v.unread ? ' has-unread' : ''}${v.removed ? ' removed' : ''}`,
          'data-room': name,
          'aria-current': name === active ? 'page' : null,
        },
        peer ? avatar(peer, s.roomLabel(name)) : icon('hash', 16),
        h('span', { className: 'room-name' }, s.roomLabel(name)),
        v.unread
          ? h('span', { className: 'badge', 'data-unread': v.unread }, v.unread > 99 ? '99+' : String(v.unread))
          : null,
      );
      btn.addEventListener('click', () => this.deps.select(name));
      return btn;
    };
    const names = [...s.rooms.keys()];
    const dms = names.filter((n) => s.dmPeer(n) !== null);
    replace(this.list, ...names.filter((n) => !n.startsWith('dm:')).map(item));
    replace(this.dmList, ...dms.map(item));
    this.dmLabel.hidden = dms.length === 0;
    this.dmList.hidden = dms.length === 0;
  }
}
