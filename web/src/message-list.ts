/**
 * What the open room's message list shows: day separators, rows grouped by
 * sender, pending (unconfirmed) sends after the stored messages, "Seen by"
 * under my last message in a DM, and the top edge (loading, an error with a
 * retry, or the start of the room). Scrolling and history paging stay in
 * messages.ts.
 */
import { compareMessageIds, type Message } from '../../src/sdk/index.js';
import { h, icon, replace } from './dom.js';
import { dayOf, sameDay } from './format.js';
import type { MessageActions } from './message-actions.js';
import { messageRow } from './message-row.js';
import type { ChatState, RoomView } from './state.js';

/** Messages of one sender closer together than this share one header. */
const GROUP_GAP_MS = 5 * 60_000;

/** The rows of `view`'s list, ready to replace the list's children. */
export function listRows(s: ChatState, view: RoomView, actions: MessageActions): DocumentFragment {
  const frag = document.createDocumentFragment();
  const byId = new Map(view.messages.map((m) => [m.id, m]));
  const seen = seenBy(s, view);
  let prev: { from: string; ts: number } | null = null;
  for (const m of view.messages) {
    if (!prev || !sameDay(prev.ts, m.ts)) {
      frag.appendChild(h('div', { className: 'day' }, h('span', {}, dayOf(m.ts))));
      prev = null;
    }
    const grouped = prev !== null && prev.from === m.from && m.ts - prev.ts < GROUP_GAP_MS && !m.replyTo;
    const editing = actions.editing?.id === m.id ? actions.editing.el : undefined;
    frag.appendChild(
      messageRow(m, {
        state: s,
        grouped,
        original: m.replyTo ? (byId.get(m.replyTo) ?? s.client.message(m.room, m.replyTo)) : undefined,
        editor: editing,
        seenBy: seen?.id === m.id ? seen.text : undefined,
        actionsOpen: actions.actionsOpen === m.id,
        readOnly: view.removed !== '',
      }),
    );
    prev = { from: m.from, ts: m.ts };
  }
  for (const p of view.pending.values()) {
    const grouped = prev !== null && prev.from === s.me && p.ts - prev.ts < GROUP_GAP_MS && !p.replyTo;
    const m: Message = { id: '', room: view.name, from: s.me, name: s.myName, text: p.text, ts: p.ts };
    if (p.replyTo) m.replyTo = p.replyTo;
    frag.appendChild(messageRow(m, { state: s, grouped, original: p.replyTo ? byId.get(p.replyTo) : undefined }, p));
    prev = { from: s.me, ts: p.ts };
  }
  if (!view.messages.length && !view.pending.size && view.loaded) {
    frag.appendChild(h('div', { className: 'empty muted' }, 'No messages yet.'));
  }
  return frag;
}

/** In a DM: "Seen by <name>" under my last message once the other person's marker (or reply) passed it. */
function seenBy(s: ChatState, view: RoomView): { id: string; text: string } | null {
  const peer = s.dmPeer(view.name);
  if (!peer) return null;
  let mine: Message | undefined;
  let peerAfter = false;
  for (let i = view.messages.length - 1; i >= 0; i--) {
    const m = view.messages[i]!;
    if (m.from === s.me && !m.deleted) {
      mine = m;
      break;
    }
    if (m.from === peer) peerAfter = true;
  }
  if (!mine) return null;
  const marker = view.readBy.get(peer);
  const read = peerAfter || (marker !== undefined && compareMessageIds(marker, mine.id) >= 0);
  return read ? { id: mine.id, text: `Seen by ${s.nameOf(peer)}` } : null;
}

/** The top of the open room's list: loading, an error with a retry (`retry`), or the start of the room. */
export function renderEdge(edge: HTMLElement, s: ChatState, retry: (view: RoomView) => void): void {
  const view = s.view;
  if (!view) return;
  if (view.loadError) {
    const button = h('button', { type: 'button', className: 'link' }, 'Try again');
    button.addEventListener('click', () => retry(view));
    replace(edge, h('span', {}, view.loadError, ' '), button);
  } else if (view.loading)
    replace(edge, h('span', { className: 'spinner', 'aria-hidden': 'true' }), 'Loading messages…');
  else if (view.loaded && !view.hasMore)
    replace(
      edge,
      h(
        'div',
        { className: 'room-start' },
        h('div', { className: 'room-start-icon' }, icon('hash', 28)),
        h(
          'strong',
          {},
          s.dmPeer(view.name)
            ? `This is the start of your conversation with ${s.roomLabel(view.name)}`
            : `This is the start of #${view.name}`,
        ),
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
