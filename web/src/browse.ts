/** "Browse rooms": the directory of rooms this user may join, with a filter (a prefix asked of the server). */
import { modal } from './dialog.js';
import { h, replace } from './dom.js';
import { snippet } from './markup.js';
import type { ChatState } from './state.js';

/** Shows the directory; `open` opens (and joins) the chosen room. */
export function showDirectory(s: ChatState, open: (room: string) => void): void {
  const filter = h('input', {
    id: 'browse-filter',
    placeholder: 'Filter rooms',
    autocomplete: 'off',
    'aria-label': 'Filter rooms',
  });
  const results = h('ul', { className: 'browse-list', id: 'browse-list' });
  const m = modal('Browse rooms', h('div', { className: 'modal-body' }, filter, results));
  let timer: ReturnType<typeof setTimeout> | undefined;
  let seq = 0;
  const load = async (): Promise<void> => {
    const mine = ++seq;
    replace(results, h('li', { className: 'muted' }, 'Loading…'));
    try {
      const prefix = filter.value.trim().replace(/^#/, '');
      const rooms = await s.client.directory(prefix || undefined);
      if (mine !== seq) return;
      if (!rooms.length) {
        replace(
          results,
          h('li', { className: 'muted' }, prefix ? `No room starts with “${prefix}”.` : 'No rooms yet.'),
        );
        return;
      }
      replace(
        results,
        ...rooms.map((r) => {
          const member = s.rooms.has(r.room);
          const btn = h(
            'button',
            { type: 'button', className: member ? 'ghost' : 'primary', 'data-room': r.room },
            member ? 'Open' : 'Join',
          );
          btn.addEventListener('click', () => {
            m.close();
            open(r.room);
          });
          return h(
            'li',
            { className: 'browse-item', 'data-room': r.room },
            h(
              'div',
              { className: 'browse-text' },
              h('strong', {}, `#${r.room}`),
              h('span', { className: 'muted small' }, `${r.members} member${r.members === 1 ? '' : 's'}`),
              r.lastMessage && !r.lastMessage.deleted
                ? h(
                    'span',
                    { className: 'muted small browse-last' },
                    snippet(`${r.lastMessage.name ?? s.nameOf(r.lastMessage.from)}: ${r.lastMessage.text}`, 70),
                  )
                : null,
            ),
            btn,
          );
        }),
      );
    } catch (err) {
      if (mine === seq)
        replace(results, h('li', { className: 'error-text' }, `Could not load rooms: ${(err as Error).message}`));
    }
  };
  filter.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => void load(), 200);
  });
  void load();
  filter.focus();
}
