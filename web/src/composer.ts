/**
 * The composer of the open room: the message box (Enter sends, Shift+Enter a
 * new line, Esc drops the reply), the quoted preview of the message being
 * answered, my messages until the server confirms them (sent again with the
 * same clientMsgId when the connection is back), and the notice that
 * replaces it when a moderator took me out of the room.
 */
import { ParleyClientError, type Message } from '../../src/sdk/index.js';
import { h, icon, replace } from './dom.js';
import { snippet } from './markup.js';
import type { ChatState, Pending, RoomView } from './state.js';

const MAX_TEXT = 4000;

export interface ComposerDeps {
  /** Redraws the open room. */
  render(mode: 'bottom' | 'keep'): void;
  /** Adds stored messages to a room's view. */
  merge(view: RoomView, messages: Message[]): void;
}

export class Composer {
  readonly input = h('textarea', {
    id: 'composer-input',
    rows: 1,
    maxlength: MAX_TEXT,
    placeholder: 'Message',
    'aria-label': 'Message',
    enterkeyhint: 'send',
  });
  private readonly form: HTMLFormElement;
  private readonly replyBar = h('div', { className: 'reply-bar', id: 'reply-bar', hidden: true });
  private readonly removedNote = h('div', {
    className: 'removed-note',
    id: 'removed-note',
    role: 'alert',
    hidden: true,
  });
  /** The message the composer answers. */
  private replying: Message | null = null;

  constructor(
    private readonly state: ChatState,
    private readonly deps: ComposerDeps,
  ) {
    this.input.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape' && this.replying) {
        ev.preventDefault();
        this.setReply(null);
      } else if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
        ev.preventDefault();
        void this.send();
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
    this.form = h('form', { className: 'composer', id: 'composer' }, this.input, send);
    this.form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      void this.send();
    });
  }

  /** The reply preview, the removed notice and the form, top to bottom. */
  parts(): HTMLElement[] {
    return [this.replyBar, this.removedNote, this.form];
  }

  /** Prepares for the room that just became the open one. */
  show(name: string): void {
    const peer = this.state.dmPeer(name);
    this.input.placeholder = peer ? `Message ${this.state.roomLabel(name)}` : `Message #${name}`;
    this.setReply(null);
    this.renderRemoved();
  }

  /** The notice that replaces the composer when the server took me out of the open room. */
  renderRemoved(): void {
    const view = this.state.view;
    const removed = view?.removed ?? '';
    this.form.hidden = removed !== '';
    this.removedNote.hidden = removed === '';
    if (removed && view) {
      const label = this.state.roomLabel(view.name);
      this.removedNote.textContent =
        removed === 'banned'
          ? `You were banned from #${label} by a moderator. You can read what was said before, but not take part.`
          : `You were removed from #${label} (${removed}).`;
    }
  }

  /** The message being answered, if any. */
  get replyingTo(): Message | null {
    return this.replying;
  }

  /** Sets the message the composer answers (the quoted preview above it), or clears it. */
  setReply(m: Message | null): void {
    this.replying = m;
    const bar = this.replyBar;
    if (!m) {
      bar.hidden = true;
      bar.replaceChildren();
      return;
    }
    const cancel = h(
      'button',
      { type: 'button', className: 'icon-btn', 'aria-label': 'Cancel reply', id: 'reply-cancel' },
      icon('close', 16),
    );
    cancel.addEventListener('click', () => this.setReply(null));
    replace(
      bar,
      h(
        'div',
        { className: 'reply-preview' },
        h('span', { className: 'muted small' }, 'Replying to '),
        h('strong', { className: 'small' }, m.name ?? this.state.nameOf(m.from)),
        h('div', { className: 'quote-text' }, m.deleted ? 'This message was deleted' : snippet(m.text, 120)),
      ),
      cancel,
    );
    bar.hidden = false;
    this.input.focus();
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

  private async send(): Promise<void> {
    const text = this.input.value.trim();
    if (!text) return;
    const view = this.state.view;
    if (!view) return;
    this.input.value = '';
    this.autosize();
    const pending: Pending = { clientMsgId: randomKey(), text, ts: Date.now() };
    if (this.replying && this.replying.room === view.name) pending.replyTo = this.replying.id;
    this.setReply(null);
    view.pending.set(pending.clientMsgId, pending);
    this.deps.render('bottom');
    await this.deliver(view, pending);
  }

  /** Sends one of my pending messages (again); a refusal marks it failed with the reason. */
  async deliver(view: RoomView, pending: Pending): Promise<void> {
    try {
      const options: { clientMsgId: string; replyTo?: string } = { clientMsgId: pending.clientMsgId };
      if (pending.replyTo) options.replyTo = pending.replyTo;
      const message = await this.state.client.send(view.name, pending.text, options);
      view.pending.delete(pending.clientMsgId);
      this.deps.merge(view, [message]);
    } catch (err) {
      if (!view.pending.has(pending.clientMsgId)) return;
      const code = err instanceof ParleyClientError ? err.code : '';
      pending.failed =
        code === 'RATE_LIMITED'
          ? 'Slow down a little'
          : code === 'TOO_LARGE'
            ? 'Too long'
            : code === 'FORBIDDEN'
              ? 'You may not send here (muted?)'
              : (err as Error).message || 'Not sent';
    }
    if (view.name === this.state.active) this.deps.render('keep');
  }

  private autosize(): void {
    const input = this.input;
    input.style.height = 'auto';
    input.style.height = `${Math.min(160, input.scrollHeight)}px`;
  }
}

/** A client message id, so a resend after a reconnect is not stored twice. */
function randomKey(): string {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
