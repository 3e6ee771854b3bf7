/** The connection banner: reconnecting (with a retry), back online, or disconnected for good. */
import type { StateChange } from '../../src/sdk/index.js';
import { h, replace } from './dom.js';

export class Banner {
  readonly el = h('div', { id: 'banner', className: 'banner', role: 'status', hidden: true });
  /** "Back online" shows only after an outage, not on the first connect. */
  private wasReconnecting = false;

  constructor(private readonly reconnectNow: () => void) {}

  show(s: StateChange): void {
    const banner = this.el;
    banner.className = 'banner';
    if (s.state === 'reconnecting') {
      this.wasReconnecting = true;
      const retry = h('button', { className: 'link', type: 'button' }, 'Retry now');
      retry.addEventListener('click', () => this.reconnectNow());
      const secs = Math.ceil((s.delayMs ?? 0) / 1000);
      replace(
        banner,
        h('span', { className: 'spinner', 'aria-hidden': 'true' }),
        h(
          'span',
          {},
          s.attempt && s.attempt > 1
            ? `Reconnecting… (attempt ${s.attempt}${secs > 1 ? `, next in ${secs}s` : ''})`
            : 'Connection lost. Reconnecting…',
        ),
        retry,
      );
      banner.classList.add('warn');
      banner.dataset.state = 'reconnecting';
      banner.hidden = false;
    } else if (s.state === 'connected') {
      if (this.wasReconnecting) {
        this.wasReconnecting = false;
        replace(banner, h('span', {}, 'Back online'));
        banner.classList.add('ok');
        banner.dataset.state = 'connected';
        banner.hidden = false;
        setTimeout(() => {
          if (banner.dataset.state === 'connected') banner.hidden = true;
        }, 2000);
      } else banner.hidden = true;
    } else if (s.state === 'closed' && s.error) {
      const again = h('button', { className: 'link', type: 'button' }, 'Sign in again');
      again.addEventListener('click', () => location.reload());
      replace(banner, h('span', {}, `Disconnected: ${s.error.message}`), again);
      banner.classList.add('error');
      banner.dataset.state = 'closed';
      banner.hidden = false;
    }
  }
}
