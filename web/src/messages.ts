/**
 * The open room's conversation: the message list with infinite scroll back
 * through history, the live events of its messages, the composer with its
 * pending (unconfirmed) messages, and the typing line. What the list shows
 * is built by message-list.ts.
 */
import { compareMessageIds, type Message } from '../../src/sdk/index.js';
import { Composer } from './composer.js';
import { h, icon } from './dom.js';
import { typingText } from './format.js';
import { MessageActions } from './message-actions.js';
import { listRows, renderEdge } from './message-list.js';
import { params, type ChatState, type RoomView } from './state.js';

const PAGE_SIZE = Math.min(200, Math.max(5, Number(params.get('page') ?? 50)));
const TYPING_SHOW_MS = 4000;

const LONG_PRESS_MS = 500;

export interface MessagesDeps {
  /** A room's unread count went up. */
  unread(): void;
  /** The newest message of the open room is on screen and the tab is visible. */
  markRead(room: string): void;
  toast(text: string): void;
}

export class Messages {
  private readonly box: HTMLElement;
  private readonly list = h('div', { id: 'msg-list', className: 'msg-list' });
  private readonly edge = h('div', { className: 'history-edge', id: 'history-edge' });
  private readonly newPill: HTMLButtonElement;
  private readonly typingLine = h('div', { id: 'typing', className: 'typing', 'aria-live': 'polite' });
  private typingTimer: ReturnType<typeof setTimeout> | undefined;
  private pressTimer: ReturnType<typeof setTimeout> | undefined;
  readonly actions: MessageActions;
  readonly composer: Composer;

  constructor(
    private readonly state: ChatState,
    private readonly deps: MessagesDeps,
  ) {
    this.box = h(
      'div',
      { id: 'messages', className: 'messages', role: 'log', 'aria-live': 'polite' },
      h('div', { className: 'messages-inner' }, this.edge, this.list),
    );
    this.box.addEventListener('scroll', () => this.onScroll(), { passive: true });
    this.composer = new Composer(state, {
      render: (mode) => this.render(mode),
      merge: (view, messages) => void this.merge(view, messages),
    });
    this.actions = new MessageActions(state, {
      rerender: () => this.render('keep'),
      setReply: (m) => this.composer.setReply(m),
      scrollTo: (id) => void this.scrollToMessage(id),
      toast: (text) => deps.toast(text),
    });
    this.list.addEventListener('click', (ev) => this.onListClick(ev));
    this.list.addEventListener(
      'touchstart',
      (ev) => {
        const row = (ev.target as HTMLElement).closest<HTMLElement>('.msg[data-id]');
        clearTimeout(this.pressTimer);
        if (!row || (ev.target as HTMLElement).closest('button, a, textarea')) return;
        this.pressTimer = setTimeout(() => {
          this.actions.actionsOpen = row.dataset.id ?? null;
          for (const open of this.list.querySelectorAll('.msg.actions-open')) open.classList.remove('actions-open');
          row.classList.add('actions-open');
        }, LONG_PRESS_MS);
      },
      { passive: true },
    );
    for (const type of ['touchend', 'touchmove', 'touchcancel']) {
      this.list.addEventListener(type, () => clearTimeout(this.pressTimer), { passive: true });
    }
    this.newPill = h(
      'button',
      { className: 'new-pill', type: 'button', hidden: true },
      icon('down', 16),
      'New messages',
    );
    this.newPill.addEventListener('click', () => this.scrollToBottom());
  }

  /** The chat column below `head`. */
  parts(): HTMLElement[] {
    return [
      h('div', { className: 'messages-wrap' }, this.box, this.newPill),
      this.typingLine,
      ...this.composer.parts(),
    ];
  }

  /** Shows the room that just became the open one. */
  show(name: string): void {
    this.actions.editing = null;
    this.composer.show(name);
    this.render('bottom');
    this.renderTyping();
  }

  /** Scrolls to a message of the open room (loading older pages until it is there) and flashes it. */
  private async scrollToMessage(id: string): Promise<void> {
    const view = this.state.view;
    if (!view) return;
    for (let i = 0; i < 20 && !view.ids.has(id) && view.hasMore; i++) {
      const before = view.messages.length;
      await this.loadOlder(view);
      if (view.messages.length === before) break;
    }
    const row = this.list.querySelector<HTMLElement>(`.msg[data-id="${CSS.escape(id)}"]`);
    if (!row) {
      this.deps.toast('The original message is no longer available.');
      return;
    }
    row.scrollIntoView({ block: 'center' });
    row.classList.remove('flash');
    void row.offsetWidth;
    row.classList.add('flash');
  }

  private onListClick(ev: MouseEvent): void {
    const target = ev.target as HTMLElement;
    const button = target.closest<HTMLElement>('[data-action]');
    const row = target.closest<HTMLElement>('.msg');
    const view = this.state.view;
    if (!button || !row || !view) return;
    const action = button.dataset.action!;
    if (action === 'retry' || action === 'discard') {
      const p = view.pending.get(row.dataset.clientMsgId ?? '');
      if (!p) return;
      if (action === 'discard') view.pending.delete(p.clientMsgId);
      else delete p.failed;
      this.render('keep');
      if (action === 'retry') void this.composer.deliver(view, p);
      return;
    }
    const m = view.messages.find((x) => x.id === row.dataset.id);
    if (m) this.actions.handle(action, button, m);
  }

  /** Focuses the composer, on wide screens only (on phones it would pop the keyboard over the room). */
  focus(): void {
    if (matchMedia('(min-width: 721px)').matches) this.composer.input.focus();
  }

  // ---- history --------------------------------------------------------------

  async loadLatest(view: RoomView): Promise<void> {
    if (view.loading) return;
    view.loading = true;
    view.loadError = '';
    this.renderEdge();
    try {
      const page = await this.state.client.history(view.name, { limit: PAGE_SIZE });
      this.merge(view, page.messages);
      view.hasMore = page.hasMore;
      view.loaded = true;
    } catch (err) {
      view.loadError = `Could not load messages: ${(err as Error).message}`;
    } finally {
      view.loading = false;
    }
    if (view.name === this.state.active) {
      this.render('bottom');
      this.fillViewport(view);
    }
  }

  private async loadOlder(view: RoomView): Promise<void> {
    if (view.loading || !view.loaded || !view.hasMore) return;
    const oldest = view.messages[0];
    if (!oldest) {
      view.hasMore = false;
      this.renderEdge();
      return;
    }
    view.loading = true;
    view.loadError = '';
    this.renderEdge();
    try {
      const page = await this.state.client.history(view.name, { before: oldest.id, limit: PAGE_SIZE });
      this.merge(view, page.messages);
      view.hasMore = page.hasMore;
    } catch (err) {
      view.loadError = `Could not load earlier messages: ${(err as Error).message}`;
    } finally {
      view.loading = false;
    }
    if (view.name === this.state.active) {
      this.render('keep');
      this.fillViewport(view);
    }
  }

  /** Keeps loading older pages until the list can scroll (so scrolling up can trigger more). */
  private fillViewport(view: RoomView): void {
    const box = this.box;
    if (view.hasMore && view.loaded && !view.loadError && box.scrollHeight <= box.clientHeight + 40) {
      void this.loadOlder(view);
    }
  }

  private onScroll(): void {
    const view = this.state.view;
    if (view && this.box.scrollTop < 150) void this.loadOlder(view);
    if (this.atBottom()) {
      this.newPill.hidden = true;
      this.maybeMarkRead();
    }
  }

  /** Tells the rooms the open room was read when its newest message is on screen and the tab visible. */
  maybeMarkRead(): void {
    const view = this.state.view;
    if (!view || document.visibilityState !== 'visible' || !this.atBottom()) return;
    this.deps.markRead(view.name);
  }

  /** Adds messages to a room (sorted by id, each once). Returns how many were new. */
  private merge(view: RoomView, messages: Message[]): number {
    let added = 0;
    for (const m of messages) {
      if (view.ids.has(m.id)) continue;
      view.ids.add(m.id);
      if (m.name) this.state.names.set(m.from, m.name);
      if (m.clientMsgId && m.from === this.state.me) view.pending.delete(m.clientMsgId);
      const list = view.messages;
      const last = list[list.length - 1];
      if (!last || compareMessageIds(m.id, last.id) > 0) list.push(m);
      else {
        let i = list.length - 1;
        while (i >= 0 && compareMessageIds(list[i]!.id, m.id) > 0) i--;
        list.splice(i + 1, 0, m);
      }
      added++;
    }
    return added;
  }

  // ---- live events ------------------------------------------------------------

  onMessage(m: Message): void {
    const s = this.state;
    const view = s.rooms.get(m.room);
    if (!view) return;
    view.typing.delete(m.from);
    if (!this.merge(view, [m])) return;
    const mine = m.from === s.me;
    const visible = m.room === s.active && document.visibilityState === 'visible';
    // Servers with read state count unread messages themselves (the SDK's `unread` events).
    if (!mine && !visible && !s.client.unread(m.room)) {
      view.unread++;
      this.deps.unread();
    }
    if (m.room === s.active) {
      const stick = mine || this.atBottom();
      this.render(stick ? 'bottom' : 'keep');
      if (!stick) this.newPill.hidden = false;
      this.renderTyping();
    }
  }

  /** A held message changed (edited, deleted, reacted to; also while we were away). */
  onUpdated(m: Message): void {
    const view = this.state.rooms.get(m.room);
    if (!view || !view.ids.has(m.id)) return;
    const i = view.messages.findIndex((x) => x.id === m.id);
    if (i < 0) return;
    view.messages[i] = m;
    if (this.composer.replyingTo?.id === m.id) this.composer.setReply(m.deleted ? null : m);
    if (this.actions.editing?.id === m.id && m.deleted) this.actions.editing = null;
    if (m.room === this.state.active) this.render('keep');
  }

  onTyping(room: string, user: string): void {
    if (user === this.state.me) return;
    const view = this.state.rooms.get(room);
    if (!view) return;
    view.typing.set(user, Date.now() + TYPING_SHOW_MS);
    if (room === this.state.active) this.renderTyping();
  }

  /** The server lost the room's recent history: start over from the latest page. */
  onReset(room: string): void {
    const view = this.state.rooms.get(room);
    if (!view) return;
    view.messages = [];
    view.ids.clear();
    view.hasMore = true;
    view.loaded = false;
    if (room === this.state.active) void this.loadLatest(view);
  }

  // ---- rendering ----------------------------------------------------------------

  renderTyping(): void {
    const view = this.state.view;
    if (!view) return;
    const now = Date.now();
    const names: string[] = [];
    for (const [user, until] of view.typing) {
      if (until <= now) view.typing.delete(user);
      else names.push(this.state.nameOf(user));
    }
    const el = this.typingLine;
    el.textContent = typingText(names);
    el.classList.toggle('on', names.length > 0);
    clearTimeout(this.typingTimer);
    if (names.length) this.typingTimer = setTimeout(() => this.renderTyping(), 1000);
  }

  /** The top of the list: loading, an error with a retry, or the start of the room. */
  private renderEdge(): void {
    renderEdge(this.edge, this.state, (view) => void (view.loaded ? this.loadOlder(view) : this.loadLatest(view)));
  }

  private atBottom(): boolean {
    const box = this.box;
    return box.scrollHeight - box.scrollTop - box.clientHeight < 60;
  }

  private scrollToBottom(): void {
    this.box.scrollTop = this.box.scrollHeight;
    this.newPill.hidden = true;
  }

  /** Re-renders the open room's messages; `keep` holds the view still (prepends keep the reading position). */
  render(mode: 'bottom' | 'keep'): void {
    const s = this.state;
    const view = s.view;
    const box = this.box;
    if (!view) return;
    const fromBottom = box.scrollHeight - box.scrollTop;
    const frag = listRows(s, view, this.actions);
    const editorFocused = this.actions.editing && document.activeElement === this.actions.editing.input;
    this.list.replaceChildren(frag);
    if (editorFocused) this.actions.editing?.input.focus();
    this.renderEdge();
    if (mode === 'bottom') this.scrollToBottom();
    else box.scrollTop = box.scrollHeight - fromBottom;
    this.maybeMarkRead();
  }
}
