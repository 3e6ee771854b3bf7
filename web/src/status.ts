/**
 * My own status: the card at the foot of the rooms pane, the picker it opens,
 * and auto-away after a while without input.
 */
import type { ChosenStatus } from '../../src/sdk/index.js';
import { avatar } from './avatar.js';
import { h, replace } from './dom.js';
import { params, type ChatState } from './state.js';

/** Idle time before the status turns to away (`?idle=` seconds overrides, for tests). */
const IDLE_MS = Math.max(1, Number(params.get('idle') ?? 300)) * 1000;

export const STATUS_LABEL: Record<string, string> = {
  online: 'Online',
  away: 'Away',
  busy: 'Busy',
  invisible: 'Invisible',
  offline: 'Offline',
};
const STATUS_HINT: Record<ChosenStatus, string> = {
  online: 'Available',
  away: 'Stepped away',
  busy: 'Do not disturb',
  invisible: 'Appear offline to others',
};

export interface StatusDeps {
  /** The page frame, marked while the picker is open. */
  app: HTMLElement;
  toast(text: string): void;
  /** My status changed: the people list shows me too. */
  changed(): void;
}

export class Status {
  readonly card = h('button', { id: 'me', className: 'me', type: 'button', title: 'Set your status' });
  readonly picker = h('div', {
    className: 'status-picker',
    id: 'status-picker',
    hidden: true,
    role: 'dialog',
    'aria-label': 'Set your status',
  });
  private lastActivity = Date.now();

  constructor(
    private readonly state: ChatState,
    private readonly deps: StatusDeps,
  ) {
    this.card.addEventListener('click', () => this.togglePicker());
  }

  /**
   * Shows the status the server holds for me (set on another device or
   * before a reload), instead of assuming "Online".
   */
  async loadStored(): Promise<void> {
    const s = this.state;
    try {
      const { users } = await s.client.presence([s.me]);
      const entry = users?.[0];
      if (!entry) return;
      // My own entry shows my true status; `offline` while I am connected means invisible.
      const status = entry.status as string;
      s.myStatus = status === 'invisible' || status === 'offline' ? 'invisible' : (entry.status as typeof s.myStatus);
      s.myText = entry.text ?? '';
      this.render();
      this.deps.changed();
    } catch {
      // keep what is shown
    }
  }

  /** Turns away after IDLE_MS without input and back on the next input; returns the check's timer. */
  watchIdle(): ReturnType<typeof setInterval> {
    const activity = (): void => this.onActivity();
    for (const type of ['pointermove', 'pointerdown', 'keydown', 'wheel', 'touchstart', 'focus']) {
      window.addEventListener(type, activity, { passive: true });
    }
    return setInterval(() => this.checkIdle(), Math.min(5000, Math.max(250, IDLE_MS / 4)));
  }

  private onActivity(): void {
    const s = this.state;
    this.lastActivity = Date.now();
    if (s.autoAway) {
      s.autoAway = false;
      s.myStatus = 'online';
      this.render();
      void s.client.setStatus('online', s.myText || undefined).catch(() => undefined);
    }
  }

  private checkIdle(): void {
    const s = this.state;
    if (s.autoAway || s.myStatus !== 'online') return;
    if (Date.now() - this.lastActivity < IDLE_MS) return;
    s.autoAway = true;
    s.myStatus = 'away';
    this.render();
    void s.client.setStatus('away', s.myText || undefined).catch(() => undefined);
  }

  /** Shows the choice at once and takes it back if the server refuses. */
  private async apply(status: ChosenStatus, text: string): Promise<void> {
    const s = this.state;
    s.autoAway = false;
    const prev = { status: s.myStatus, text: s.myText };
    s.myStatus = status;
    s.myText = text;
    this.render();
    try {
      const entry = await s.client.setStatus(status, text);
      s.myText = entry.text ?? text;
    } catch (err) {
      s.myStatus = prev.status;
      s.myText = prev.text;
      this.deps.toast(`Could not set status: ${(err as Error).message}`);
    }
    this.render();
    this.deps.changed();
  }

  private togglePicker(): void {
    if (!this.picker.hidden) this.closePicker();
    else this.openPicker();
  }

  closePicker(): void {
    this.picker.hidden = true;
    delete this.deps.app.dataset.picker;
  }

  private openPicker(): void {
    const picker = this.picker;
    let chosen: ChosenStatus = this.state.myStatus;
    const options = (['online', 'away', 'busy', 'invisible'] as const).map((s) => {
      const btn = h(
        'button',
        {
          type: 'button',
          className: 'status-option',
          'data-status': s,
          role: 'radio',
          'aria-checked': String(s === chosen),
        },
        h('span', { className: 'dot', 'data-status': s === 'invisible' ? 'offline' : s }),
        h('span', { className: 'status-name' }, STATUS_LABEL[s] ?? s),
        h('span', { className: 'muted small' }, STATUS_HINT[s]),
      );
      btn.addEventListener('click', () => {
        chosen = s;
        for (const o of options) o.setAttribute('aria-checked', String(o.dataset.status === s));
      });
      return btn;
    });
    const text = h('input', {
      id: 'status-text',
      maxlength: 140,
      placeholder: "What's your status?",
      value: this.state.myText,
    });
    const clear = h('button', { type: 'button', className: 'ghost', id: 'status-clear' }, 'Clear text');
    clear.addEventListener('click', () => {
      text.value = '';
      text.focus();
    });
    const form = h(
      'form',
      {},
      h('div', { className: 'picker-title' }, 'Set your status'),
      h('div', { className: 'status-options', role: 'radiogroup' }, ...options),
      text,
      h(
        'div',
        { className: 'picker-actions' },
        clear,
        h('button', { type: 'submit', className: 'primary', id: 'status-save' }, 'Save'),
      ),
    );
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.closePicker();
      void this.apply(chosen, text.value.trim());
    });
    replace(picker, form);
    picker.hidden = false;
    this.deps.app.dataset.picker = 'open';
    text.focus();
  }

  /** The card: my avatar, name and status (offline while the connection is down). */
  render(): void {
    const s = this.state;
    const shown = s.myStatus === 'invisible' ? 'offline' : s.myStatus;
    const conn = s.client.state;
    const label =
      conn === 'reconnecting' ? 'Reconnecting…' : `${STATUS_LABEL[s.myStatus]}${s.autoAway ? ' (idle)' : ''}`;
    replace(
      this.card,
      avatar(s.me, s.myName, conn === 'connected' ? shown : 'offline'),
      h(
        'span',
        { className: 'me-text' },
        h('span', { className: 'me-name' }, s.myName),
        h(
          'span',
          { className: 'me-status muted', id: 'my-status', 'data-status': s.myStatus },
          s.myText ? `${label} · ${s.myText}` : label,
        ),
      ),
    );
  }
}
