/**
 * In-page dialogs (never `window.confirm`: it blocks the page and the
 * browser tests treat a native dialog as an error): a confirm with two
 * buttons and a modal that holds any content.
 */
import { h } from './dom.js';

/** A modal over the page; `close()` removes it. Esc and a click on the backdrop close it too. */
export function modal(title: string, body: HTMLElement, onClose?: () => void): { close: () => void; el: HTMLElement } {
  const closeBtn = h('button', { type: 'button', className: 'icon-btn', 'aria-label': 'Close' }, '✕');
  const box = h(
    'div',
    { className: 'modal', role: 'dialog', 'aria-modal': 'true', 'aria-label': title },
    h('div', { className: 'modal-head' }, h('strong', {}, title), closeBtn),
    body,
  );
  const backdrop = h('div', { className: 'modal-backdrop' }, box);
  const close = (): void => {
    backdrop.remove();
    document.removeEventListener('keydown', onKey, true);
    onClose?.();
  };
  const onKey = (ev: KeyboardEvent): void => {
    if (ev.key === 'Escape') {
      ev.stopPropagation();
      close();
    }
  };
  closeBtn.addEventListener('click', close);
  backdrop.addEventListener('click', (ev) => {
    if (ev.target === backdrop) close();
  });
  document.addEventListener('keydown', onKey, true);
  document.body.appendChild(backdrop);
  return { close, el: box };
}

/** Asks a yes/no question in the page; resolves true when `ok` was chosen. */
export function confirmDialog(title: string, text: string, ok: string, danger = true): Promise<boolean> {
  return new Promise((resolve) => {
    let answered = false;
    const yes = h('button', { type: 'button', className: danger ? 'primary danger' : 'primary', id: 'confirm-ok' }, ok);
    const no = h('button', { type: 'button', className: 'ghost', id: 'confirm-cancel' }, 'Cancel');
    const m = modal(
      title,
      h('div', { className: 'modal-body' }, h('p', {}, text), h('div', { className: 'modal-actions' }, no, yes)),
      () => {
        if (!answered) resolve(false);
      },
    );
    yes.addEventListener('click', () => {
      answered = true;
      m.close();
      resolve(true);
    });
    no.addEventListener('click', () => m.close());
    yes.focus();
  });
}
