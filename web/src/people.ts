/** Who is in the open room: the people pane with presence dots, status text and last seen. */
import type { OwnPresenceEntry, PresenceChange, PresenceEntry } from '../../src/sdk/index.js';
import { avatar } from './avatar.js';
import { h, icon, replace } from './dom.js';
import { ago } from './format.js';
import type { ChatState, RoomView } from './state.js';
import { STATUS_LABEL } from './status.js';

const STATUS_ORDER: Record<string, number> = { online: 0, busy: 1, away: 2, offline: 3 };

export interface PeopleDeps {
  drawer(which: null): void;
  toggleDrawer(which: 'people'): void;
  /** My own status changed on another device. */
  myStatusChanged(): void;
  /** Presence in the open room changed: its header and typing line depend on it. */
  roomChanged(): void;
  /** Opens the direct conversation with `user`. */
  openDm(user: string): void;
  /** Moderators: mute or ban `user` in the open room. */
  moderate(what: 'mute' | 'ban', user: string): void;
}

export class People {
  /** Opens the pane (a drawer on phones); lives in the chat header. */
  readonly button = h(
    'button',
    { className: 'icon-btn people-btn', type: 'button', 'aria-label': 'People', id: 'open-people' },
    icon('people'),
  );
  readonly pane: HTMLElement;
  private readonly box = h('div', { id: 'people', className: 'people' });

  constructor(
    private readonly state: ChatState,
    private readonly deps: PeopleDeps,
  ) {
    this.button.addEventListener('click', () => deps.toggleDrawer('people'));
    this.box.addEventListener('click', (ev) => {
      const el = (ev.target as HTMLElement).closest<HTMLElement>('[data-person-action]');
      const user = el?.closest<HTMLElement>('.person')?.dataset.user;
      if (!el || !user) return;
      const action = el.dataset.personAction;
      if (action === 'dm') {
        deps.drawer(null);
        deps.openDm(user);
      } else if (action === 'mute' || action === 'ban') deps.moderate(action, user);
    });
    const close = h('button', { className: 'icon-btn', type: 'button', 'aria-label': 'Close' }, icon('close'));
    close.addEventListener('click', () => deps.drawer(null));
    this.pane = h(
      'aside',
      { className: 'people-pane', id: 'people-pane' },
      h('header', { className: 'pane-head' }, h('span', { className: 'pane-title' }, 'People'), close),
      this.box,
    );
  }

  /** Takes the member list a (re)join reports. */
  setMembers(view: RoomView, members: Array<PresenceEntry | OwnPresenceEntry>): void {
    const fresh = new Map<string, PresenceEntry | OwnPresenceEntry>();
    for (const m of members) {
      fresh.set(m.user, m);
      if (m.name) this.state.names.set(m.user, m.name);
    }
    // People who were listed and are gone now stay listed as offline.
    for (const [user, old] of view.members) {
      if (!fresh.has(user)) fresh.set(user, { ...old, status: 'offline', lastSeen: old.lastSeen ?? Date.now() });
    }
    view.members = fresh;
  }

  onPresence(p: PresenceChange): void {
    const s = this.state;
    const entry = { ...p.member };
    if (entry.name) s.names.set(entry.user, entry.name);
    if (p.event === 'leave') {
      entry.status = 'offline';
      entry.lastSeen ??= Date.now();
    }
    const targets = p.room ? [s.rooms.get(p.room)] : [...s.rooms.values()];
    for (const view of targets) {
      if (!view) continue;
      if (!p.room && !view.members.has(entry.user)) continue;
      const prev = view.members.get(entry.user);
      view.members.set(entry.user, prev ? { ...prev, ...entry } : entry);
      if (entry.status === 'offline') view.typing.delete(entry.user);
    }
    if (entry.user === s.me && !p.room && p.event === 'update') {
      // Own status changed from another device.
      s.myStatus = entry.status === 'offline' ? 'invisible' : entry.status;
      s.myText = entry.text ?? '';
      this.deps.myStatusChanged();
    }
    if (!p.room || p.room === s.active) {
      this.render();
      this.deps.roomChanged();
    }
  }

  /** Online, busy, away, then offline, by name within each; I am always listed, as my own status says. */
  render(): void {
    const s = this.state;
    const view = s.view;
    if (!view) return;
    const entries = [...view.members.values()];
    if (!view.members.has(s.me)) entries.push({ user: s.me, name: s.myName, status: 'online' });
    const mine = (e: PresenceEntry | OwnPresenceEntry): PresenceEntry | OwnPresenceEntry =>
      e.user === s.me
        ? {
            ...e,
            name: s.myName,
            status: s.myStatus === 'invisible' ? 'offline' : s.myStatus,
            text: s.myText || undefined,
          }
        : e;
    const list = entries
      .map(mine)
      .sort(
        (a, b) =>
          (STATUS_ORDER[a.status] ?? 9) - (STATUS_ORDER[b.status] ?? 9) ||
          s.nameOf(a.user).localeCompare(s.nameOf(b.user)),
      );
    const online = list.filter((e) => e.status !== 'offline');
    const offline = list.filter((e) => e.status === 'offline');
    const row = (e: PresenceEntry | OwnPresenceEntry): HTMLElement => {
      const name = e.name ?? s.nameOf(e.user);
      const detail =
        e.status === 'offline'
          ? e.user === s.me && s.myStatus === 'invisible'
            ? 'Invisible'
            : e.lastSeen
              ? `Last seen ${ago(e.lastSeen)}`
              : 'Offline'
          : (e.text ?? (e.status === 'online' ? '' : STATUS_LABEL[e.status]));
      const me = e.user === s.me;
      const text = h(
        'span',
        { className: 'person-text' },
        h('span', { className: 'person-name' }, name, me ? h('span', { className: 'muted' }, ' (you)') : null),
        detail ? h('span', { className: 'person-status muted' }, detail) : null,
      );
      const modTools =
        !me && s.isModerator && !s.dmPeer(view.name)
          ? h(
              'span',
              { className: 'person-mod' },
              h(
                'button',
                { type: 'button', className: 'mini', 'data-person-action': 'mute', title: `Mute ${name}` },
                'Mute',
              ),
              h(
                'button',
                { type: 'button', className: 'mini danger', 'data-person-action': 'ban', title: `Ban ${name}` },
                'Ban',
              ),
            )
          : null;
      return h(
        'li',
        {
          className: `person${e.status === 'offline' ? ' is-offline' : ''}`,
          'data-user': e.user,
          'data-name': name,
          'data-status': e.status,
        },
        me
          ? h('span', { className: 'person-main' }, avatar(e.user, name, e.status), text)
          : h(
              'button',
              { type: 'button', className: 'person-main', 'data-person-action': 'dm', title: `Message ${name}` },
              avatar(e.user, name, e.status),
              text,
            ),
        modTools,
      );
    };
    replace(
      this.box,
      h('div', { className: 'section-label' }, `Online — ${online.length}`),
      h('ul', { className: 'people-list' }, ...online.map(row)),
      offline.length ? h('div', { className: 'section-label' }, `Offline — ${offline.length}`) : null,
      offline.length ? h('ul', { className: 'people-list' }, ...offline.map(row)) : null,
    );
  }
}
