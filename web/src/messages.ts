/**
 * The open room's conversation: the message list with infinite scroll back
 * through history, the composer with its pending (unconfirmed) messages, and
 * the typing line.
 */
import { ParleyClientError, compareMessageIds, type Message } from '../../src/sdk/index.js';
import { avatar } from './avatar.js';
import { h, icon, replace } from './dom.js';
import { dayOf, sameDay, shortTimeOf, timeOf, typingText } from './format.js';
import { params, type ChatState, type Pending, type RoomView } from './state.js';

const PAGE_SIZE = Math.min(200, Math.max(5, Number(params.get('page') ?? 50)));
/** Messages of one sender closer together than this share one header. */
const GROUP_GAP_MS = 5 * 60_000;
const TYPING_SHOW_MS = 4000;
const MAX_TEXT = 4000;

export interface MessagesDeps {
  /** A room's unread count went up. */
  unread(): void;
}

export class Messages {
  private readonly box: HTMLElement;
  private readonly list = h('div', { id: 'msg-list', className: 'msg-list' });
  private readonly edge = h('div', { className: 'history-edge', id: 'history-edge' });
  private readonly newPill: HTMLButtonElement;
  private readonly typingLine = h('div', { id: 'typing', className: 'typing', 'aria-live': 'polite' });
  private readonly input = h('textarea', {
    id: 'composer-input',
    rows: 1,
    maxlength: MAX_TEXT,
    placeholder: 'Message',
    'aria-label': 'Message',
    enterkeyhint: 'send',
  });
  private readonly composer: HTMLFormElement;
  private typingTimer: ReturnType<typeof setTimeout> | undefined;

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
    this.newPill = h(
      'button',
      { className: 'new-pill', type: 'button', hidden: true },
      icon('down', 16),
      'New messages',
    );
    this.newPill.addEventListener('click', () => this.scrollToBottom());
    this.input.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
        ev.preventDefault();
        void this.sendFromComposer();
      }
    });
    this.input.addEventListener('input', () => {
      this.autosize();
      if (this.input.value.trim()) void state.client.typing(state.active);
    });
    const send = h(
      'button',
      { id: 'composer-send', className: 'send-btn', type: 'submit', 'aria-label': 'Send', title: 'Send (Enter)' },
      icon('send', 18),
    );
    this.composer = h('form', { className: 'composer', id: 'composer' }, this.input, send);
    this.composer.addEventListener('submit', (ev) => {
      ev.preventDefault();
      void this.sendFromComposer();
    });
  }

  /** The chat column below `head`. */
  parts(): HTMLElement[] {
    return [h('div', { className: 'messages-wrap' }, this.box, this.newPill), this.typingLine, this.composer];
  }

  /** Shows the room that just became the open one. */
  show(name: string): void {
    this.input.placeholder = `Message #${name}`;
    this.render('bottom');
    this.renderTyping();
  }

  /** Focuses the composer, on wide screens only (on phones it would pop the keyboard over the room). */
  focus(): void {
    if (matchMedia('(min-width: 721px)').matches) this.input.focus();
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
    if (this.atBottom()) this.newPill.hidden = true;
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
    if (!mine && !visible) {
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

  /**
   * Back online: sends again what failed (same clientMsgId, so the server
   * stores each message once). Messages still pending are in the SDK's queue
   * and go out by themselves.
   */
  onConnected(): void {
    for (const view of this.state.rooms.values()) {
      for (const p of view.pending.values()) {
        if (!p.failed) continue;
        delete p.failed;
        void this.deliver(view, p);
      }
    }
  }

  // ---- sending ----------------------------------------------------------------

  private async sendFromComposer(): Promise<void> {
    const text = this.input.value.trim();
    if (!text) return;
    const view = this.state.view;
    if (!view) return;
    this.input.value = '';
    this.autosize();
    const pending: Pending = { clientMsgId: randomKey(), text, ts: Date.now() };
    view.pending.set(pending.clientMsgId, pending);
    this.render('bottom');
    await this.deliver(view, pending);
  }

  private async deliver(view: RoomView, pending: Pending): Promise<void> {
    try {
      const message = await this.state.client.send(view.name, pending.text, { clientMsgId: pending.clientMsgId });
      view.pending.delete(pending.clientMsgId);
      this.merge(view, [message]);
    } catch (err) {
      if (!view.pending.has(pending.clientMsgId)) return;
      const code = err instanceof ParleyClientError ? err.code : '';
      pending.failed =
        code === 'RATE_LIMITED'
          ? 'Slow down a little'
          : code === 'TOO_LARGE'
            ? 'Too long'
            : (err as Error).message || 'Not sent';
    }
    if (view.name === this.state.active) this.render('keep');
  }

  private autosize(): void {
    const input = this.input;
    input.style.height = 'auto';
    input.style.height = `${Math.min(160, input.scrollHeight)}px`;
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
    const view = this.state.view;
    const edge = this.edge;
    if (!view) return;
    if (view.loadError) {
      const retry = h('button', { type: 'button', className: 'link' }, 'Try again');
      retry.addEventListener('click', () => void (view.loaded ? this.loadOlder(view) : this.loadLatest(view)));
      replace(edge, h('span', {}, view.loadError, ' '), retry);
    } else if (view.loading)
      replace(edge, h('span', { className: 'spinner', 'aria-hidden': 'true' }), 'Loading messages…');
    else if (view.loaded && !view.hasMore)
      replace(
        edge,
        h(
          'div',
          { className: 'room-start' },
          h('div', { className: 'room-start-icon' }, icon('hash', 28)),
          h('strong', {}, `This is the start of #${view.name}`),
          h('span', { className: 'muted' }, view.messages.length ? 'Everything said here is below.' : 'Say hello!'),
        ),
      );
    else edge.replaceChildren();
    edge.dataset.state = view.loadError
      ? 'error'
      : view.loading
        ? 'loading'
        : view.loaded && !view.hasMore
          ? 'start'
          : 'more';
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
    const frag = document.createDocumentFragment();
    let prev: { from: string; ts: number } | null = null;
    for (const m of view.messages) {
      if (!prev || !sameDay(prev.ts, m.ts)) {
        frag.appendChild(h('div', { className: 'day' }, h('span', {}, dayOf(m.ts))));
        prev = null;
      }
      const grouped = prev !== null && prev.from === m.from && m.ts - prev.ts < GROUP_GAP_MS;
      frag.appendChild(this.row(m.id, m.from, m.name ?? s.nameOf(m.from), m.text, m.ts, grouped, null));
      prev = { from: m.from, ts: m.ts };
    }
    for (const p of view.pending.values()) {
      const grouped = prev !== null && prev.from === s.me && p.ts - prev.ts < GROUP_GAP_MS;
      frag.appendChild(this.row(null, s.me, s.myName, p.text, p.ts, grouped, p));
      prev = { from: s.me, ts: p.ts };
    }
    if (!view.messages.length && !view.pending.size && view.loaded) {
      frag.appendChild(h('div', { className: 'empty muted' }, 'No messages yet.'));
    }
    this.list.replaceChildren(frag);
    this.renderEdge();
    if (mode === 'bottom') this.scrollToBottom();
    else box.scrollTop = box.scrollHeight - fromBottom;
  }

  private row(
    id: string | null,
    from: string,
    name: string,
    text: string,
    ts: number,
    grouped: boolean,
    pending: Pending | null,
  ): HTMLElement {
    const body = h('div', { className: 'msg-body' });
    if (!grouped) {
      body.appendChild(
        h(
          'div',
          { className: 'msg-head' },
          h('span', { className: 'msg-name' }, name),
          h('time', { className: 'msg-time muted', datetime: new Date(ts).toISOString() }, timeOf(ts)),
        ),
      );
    }
    body.appendChild(h('div', { className: 'msg-text' }, text));
    if (pending) {
      if (pending.failed) {
        const retry = h('button', { type: 'button', className: 'link' }, 'Retry');
        const view = this.state.view!;
        retry.addEventListener('click', () => {
          delete pending.failed;
          this.render('keep');
          void this.deliver(view, pending);
        });
        const discard = h('button', { type: 'button', className: 'link' }, 'Discard');
        discard.addEventListener('click', () => {
          view.pending.delete(pending.clientMsgId);
          this.render('keep');
        });
        body.appendChild(
          h('div', { className: 'msg-note error-text' }, `Not sent: ${pending.failed} · `, retry, ' · ', discard),
        );
      } else body.appendChild(h('div', { className: 'msg-note muted' }, 'Sending…'));
    }
    const gutter = grouped
      ? h(
          'div',
          { className: 'msg-gutter' },
          h('time', { className: 'msg-time-hover muted', title: timeOf(ts) }, shortTimeOf(ts)),
        )
      : h('div', { className: 'msg-gutter' }, avatar(from, name));
    return h(
      'div',
      {
        className: `msg${grouped ? ' grouped' : ''}${from === this.state.me ? ' mine' : ''}${pending ? ' pending' : ''}${pending?.failed ? ' failed' : ''}`,
        'data-id': id,
        'data-from': from,
        'data-client-msg-id': pending?.clientMsgId,
      },
      gutter,
      body,
    );
  }
}

/** A client message id, so a resend after a reconnect is not stored twice. */
function randomKey(): string {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
