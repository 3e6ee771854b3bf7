/**
 * What the buttons of a message do: reply, inline edit (Enter saves, Esc
 * cancels), delete with a confirm, the reaction picker and chips, and the
 * moderator's mute and ban. The list calls `handle` for every click on a
 * `data-action` button.
 */
import { ParleyClientError, type Message } from '../../src/sdk/index.js';
import { confirmDialog } from './dialog.js';
import { h } from './dom.js';
import type { ChatState } from './state.js';

/** The picker's usual emoji; the reactions already on the message come first. */
export const COMMON_EMOJI = ['👍', '❤️', '😂', '🎉', '😮', '😢', '🙏', '👀'];

export interface ActionsDeps {
  /** Redraws the open room (keeping the scroll position). */
  rerender(): void;
  /** Sets (or clears) the message the composer answers. */
  setReply(m: Message | null): void;
  /** Scrolls to a message, loading older pages if needed. */
  scrollTo(id: string): void;
  toast(text: string): void;
}

export class MessageActions {
  /** The message being edited and its editor (kept across redraws). */
  editing: { id: string; el: HTMLElement; input: HTMLTextAreaElement } | null = null;
  /** The message whose action bar is open on a phone. */
  actionsOpen: string | null = null;
  private picker: HTMLElement | null = null;

  constructor(
    private readonly state: ChatState,
    private readonly deps: ActionsDeps,
  ) {
    document.addEventListener('pointerdown', (ev) => {
      if (this.picker && !this.picker.contains(ev.target as Node)) this.closePicker();
    });
  }

  /** A click on a button with `data-action` inside the row of `m`. */
  handle(action: string, button: HTMLElement, m: Message): void {
    const room = m.room;
    switch (action) {
      case 'reply':
        this.deps.setReply(m);
        break;
      case 'goto':
        if (button.dataset.target) this.deps.scrollTo(button.dataset.target);
        break;
      case 'edit':
        this.startEdit(m);
        break;
      case 'delete':
        void this.remove(m);
        break;
      case 'react':
        this.openPicker(m, button);
        break;
      case 'toggle-reaction': {
        const emoji = button.dataset.emoji;
        if (emoji) this.toggle(m, emoji);
        break;
      }
      case 'mute':
        void this.moderate('mute', room, m.from);
        break;
      case 'ban':
        void this.moderate('ban', room, m.from);
        break;
    }
    if (action !== 'react') this.actionsOpen = null;
  }

  private fail(what: string, err: unknown): void {
    const code = err instanceof ParleyClientError ? err.code : '';
    const why =
      code === 'FORBIDDEN'
        ? 'you may not do that here'
        : code === 'NOT_FOUND'
          ? 'the message is gone'
          : code === 'LIMIT'
            ? 'too many different reactions'
            : (err as Error).message;
    this.deps.toast(`Could not ${what}: ${why}`);
  }

  // ---- edit -------------------------------------------------------------------

  private startEdit(m: Message): void {
    const input = h('textarea', { className: 'edit-input', rows: 2, maxlength: 4000, 'aria-label': 'Edit message' });
    input.value = m.text;
    const save = h('button', { type: 'button', className: 'link', 'data-edit': 'save' }, 'Save');
    const cancel = h('button', { type: 'button', className: 'link', 'data-edit': 'cancel' }, 'Cancel');
    const el = h(
      'div',
      { className: 'edit-box' },
      input,
      h('div', { className: 'edit-hint muted small' }, 'Enter to save · Esc to cancel · ', cancel, ' · ', save),
    );
    input.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape') {
        ev.preventDefault();
        this.cancelEdit();
      } else if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
        ev.preventDefault();
        void this.saveEdit(m);
      }
    });
    save.addEventListener('click', () => void this.saveEdit(m));
    cancel.addEventListener('click', () => this.cancelEdit());
    this.editing = { id: m.id, el, input };
    this.deps.rerender();
    input.focus();
    input.setSelectionRange(input.value.length, input.value.length);
  }

  cancelEdit(): void {
    this.editing = null;
    this.deps.rerender();
  }

  private async saveEdit(m: Message): Promise<void> {
    const editing = this.editing;
    if (!editing || editing.id !== m.id) return;
    const text = editing.input.value.trim();
    if (!text || text === m.text) {
      this.cancelEdit();
      return;
    }
    editing.input.disabled = true;
    try {
      await this.state.client.edit(m.room, m.id, text);
      if (this.editing === editing) this.cancelEdit();
    } catch (err) {
      editing.input.disabled = false;
      this.fail('edit the message', err);
    }
  }

  // ---- delete -----------------------------------------------------------------

  private async remove(m: Message): Promise<void> {
    const mine = m.from === this.state.me;
    const ok = await confirmDialog(
      'Delete message',
      mine
        ? 'Delete this message for everyone? This cannot be undone.'
        : `Delete this message by ${m.name ?? this.state.nameOf(m.from)} for everyone?`,
      'Delete',
    );
    if (!ok) return;
    try {
      await this.state.client.delete(m.room, m.id);
    } catch (err) {
      this.fail('delete the message', err);
    }
  }

  // ---- reactions ----------------------------------------------------------------

  private toggle(m: Message, emoji: string): void {
    const mine = m.reactions?.[emoji]?.users.includes(this.state.me) ?? false;
    const client = this.state.client;
    const op = mine ? client.unreact(m.room, m.id, emoji) : client.react(m.room, m.id, emoji);
    op.catch((err: unknown) => this.fail(mine ? 'remove the reaction' : 'react', err));
  }

  private openPicker(m: Message, anchor: HTMLElement): void {
    this.closePicker();
    const existing = Object.keys(m.reactions ?? {});
    const choices = [...existing, ...COMMON_EMOJI.filter((e) => !existing.includes(e))];
    const picker = h(
      'div',
      { className: 'reaction-picker', id: 'reaction-picker', role: 'menu', 'aria-label': 'Pick a reaction' },
      ...choices.map((emoji) => {
        const mine = m.reactions?.[emoji]?.users.includes(this.state.me) ?? false;
        const b = h(
          'button',
          {
            type: 'button',
            className: `pick${mine ? ' mine' : ''}`,
            'data-emoji': emoji,
            role: 'menuitem',
            title: emoji,
          },
          emoji,
        );
        b.addEventListener('click', () => {
          this.closePicker();
          this.toggle(m, emoji);
        });
        return b;
      }),
    );
    const row = anchor.closest('.msg');
    (row ?? document.body).appendChild(picker);
    this.picker = picker;
  }

  closePicker(): void {
    this.picker?.remove();
    this.picker = null;
  }

  // ---- moderation ---------------------------------------------------------------

  /** Mute or ban a user in a room (moderators), after a confirm. */
  async moderate(what: 'mute' | 'ban', room: string, user: string): Promise<void> {
    const name = this.state.nameOf(user);
    const label = this.state.roomLabel(room);
    const ok = await confirmDialog(
      what === 'ban' ? `Ban ${name}` : `Mute ${name}`,
      what === 'ban'
        ? `${name} is taken out of #${label} and cannot come back until unbanned.`
        : `${name} stays in #${label} and can read, but cannot send, edit or react.`,
      what === 'ban' ? 'Ban' : 'Mute',
    );
    if (!ok) return;
    try {
      if (what === 'ban') await this.state.client.ban(room, user);
      else await this.state.client.mute(room, user);
      this.deps.toast(what === 'ban' ? `${name} was banned from #${label}.` : `${name} was muted in #${label}.`);
    } catch (err) {
      this.fail(what, err);
    }
  }
}
