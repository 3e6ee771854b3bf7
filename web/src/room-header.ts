/**
 * The chat column's header: the phone menu button (with a dot while any room
 * has unread messages), the open room's name (or the other person's name in
 * a DM), its topic, who is online, the leave button and the people button.
 * Also the page title, which counts unread messages in every room.
 */
import { h, icon, replace } from './dom.js';
import type { Shell } from './shell.js';
import type { ChatState } from './state.js';

export interface RoomHeaderDeps {
  shell: Shell;
  /** The button that opens the people pane. */
  peopleButton: HTMLElement;
  /** The leave button was clicked (for the open room). */
  leave(): void;
}

export class RoomHeader {
  readonly el: HTMLElement;
  /** A dot on the phone menu button while any room has unread messages. */
  private readonly menuBadge = h('span', { className: 'badge dot-badge', hidden: true });
  private readonly title = h('h2', { id: 'room-title' });
  private readonly sub = h('span', { id: 'room-sub', className: 'muted' });
  private readonly topic = h('div', { id: 'room-topic', className: 'room-topic muted', hidden: true });
  private readonly leaveButton = h(
    'button',
    { className: 'icon-btn', type: 'button', id: 'leave-room', title: 'Leave room', 'aria-label': 'Leave room' },
    icon('logout', 18),
  );

  constructor(
    private readonly state: ChatState,
    deps: RoomHeaderDeps,
  ) {
    const menu = h(
      'button',
      { className: 'icon-btn only-mobile', type: 'button', 'aria-label': 'Rooms', id: 'open-rooms' },
      icon('menu'),
      this.menuBadge,
    );
    menu.addEventListener('click', () => deps.shell.drawer('rooms'));
    this.leaveButton.addEventListener('click', () => deps.leave());
    this.el = h(
      'header',
      { className: 'chat-head' },
      menu,
      h('div', { className: 'title-block' }, h('div', { className: 'title' }, this.title, this.sub), this.topic),
      this.leaveButton,
      deps.peopleButton,
    );
  }

  /** The page title (unread count, open room) and the menu button's dot. */
  renderTitle(): void {
    let total = 0;
    for (const v of this.state.rooms.values()) total += v.unread;
    const s = this.state;
    const label = s.dmPeer(s.active) ? s.roomLabel(s.active) : `#${s.active}`;
    document.title = `${total ? `(${total}) ` : ''}${label} · Parley`;
    this.menuBadge.hidden = total === 0;
  }

  /** The open room's name, topic and line under the name (online count, a DM partner's status, or why not joined). */
  render(): void {
    const s = this.state;
    const view = s.view;
    const peer = s.dmPeer(s.active);
    if (peer) replace(this.title, s.roomLabel(s.active));
    else replace(this.title, h('span', { className: 'hash' }, '#'), s.active);
    if (!view) return;
    this.topic.textContent = view.topic;
    this.topic.hidden = !view.topic;
    let online = 0;
    for (const m of view.members.values()) if (m.status !== 'offline') online++;
    const conn = s.client.state;
    this.sub.textContent =
      conn === 'reconnecting'
        ? 'offline, reconnecting…'
        : view.removed
          ? view.removed === 'banned'
            ? 'you were banned'
            : 'removed'
          : view.joined
            ? peer
              ? (view.members.get(peer)?.status ?? '')
              : `${online} online`
            : 'joining…';
    this.renderTitle();
  }
}
