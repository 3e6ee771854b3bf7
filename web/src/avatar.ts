import { h } from './dom.js';
import { hueOf, initials } from './format.js';

/** Initials on a colour of the user's own, with a presence dot when `status` is given. */
export function avatar(user: string, name: string, status?: string): HTMLElement {
  const a = h('span', { className: 'avatar', style: `--hue:${hueOf(user)}`, 'aria-hidden': 'true' }, initials(name));
  if (status) a.appendChild(h('span', { className: 'dot', 'data-status': status }));
  return a;
}
