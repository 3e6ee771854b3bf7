/**
 * One message on screen: header, the quoted message it answers, its text
 * (safe markdown, links), "(edited)", the tombstone of a deleted message,
 * reaction chips, "Seen by", and the hover (long-press) action bar. Buttons
 * carry `data-action`; the list handles their clicks in one place.
 */
import type { Message } from '../../src/sdk/index.js';
import { avatar } from './avatar.js';
import { h } from './dom.js';
import { shortTimeOf, timeOf } from './format.js';
import { renderMarkup, snippet } from './markup.js';
import type { ChatState, Pending } from './state.js';

/** What a row needs besides the message. */
export interface RowContext {
  state: ChatState;
  grouped: boolean;
  /** The message this one answers, when held. */
  original?: Message;
  /** The inline editor, when this message is being edited. */
  editor?: HTMLElement;
  /** "Seen by …" under my last message in a DM. */
  seenBy?: string;
  /** The action bar is open (long-press on a phone). */
  actionsOpen?: boolean;
  /** No actions (the server took me out of the room). */
  readOnly?: boolean;
}

/** A stored message (`m`) or one of mine still being sent (`pending`). */
export function messageRow(m: Message, ctx: RowContext, pending: Pending | null = null): HTMLElement {
  const s = ctx.state;
  const name = m.name ?? s.nameOf(m.from);
  const mine = m.from === s.me;
  const body = h('div', { className: 'msg-body' });
  if (!ctx.grouped) {
    body.appendChild(
      h(
        'div',
        { className: 'msg-head' },
        h('span', { className: 'msg-name' }, name),
        h('time', { className: 'msg-time muted', datetime: new Date(m.ts).toISOString() }, timeOf(m.ts)),
      ),
    );
  }
  if (m.replyTo) body.appendChild(quote(m.replyTo, ctx));
  if (m.deleted) {
    body.appendChild(
      h('div', { className: 'msg-content' }, h('span', { className: 'msg-deleted muted' }, 'This message was deleted')),
    );
  } else if (ctx.editor) {
    body.appendChild(ctx.editor);
  } else {
    body.appendChild(
      h(
        'div',
        { className: 'msg-content' },
        h('span', { className: 'msg-text' }, ...renderMarkup(m.text)),
        m.editedAt
          ? h('span', { className: 'msg-edited muted', title: `Edited ${timeOf(m.editedAt)}` }, ' (edited)')
          : null,
      ),
    );
  }
  if (!m.deleted && m.reactions && Object.keys(m.reactions).length) body.appendChild(reactions(m, s));
  if (pending) body.appendChild(pendingNote(pending));
  if (ctx.seenBy) body.appendChild(h('div', { className: 'msg-seen muted' }, ctx.seenBy));

  const gutter = ctx.grouped
    ? h(
        'div',
        { className: 'msg-gutter' },
        h('time', { className: 'msg-time-hover muted', title: timeOf(m.ts) }, shortTimeOf(m.ts)),
      )
    : h('div', { className: 'msg-gutter' }, avatar(m.from, name));
  const classes = ['msg'];
  if (ctx.grouped) classes.push('grouped');
  if (mine) classes.push('mine');
  if (pending) classes.push('pending');
  if (pending?.failed) classes.push('failed');
  if (m.deleted) classes.push('deleted');
  if (ctx.editor) classes.push('editing');
  if (ctx.actionsOpen) classes.push('actions-open');
  return h(
    'div',
    {
      className: classes.join(' '),
      'data-id': pending ? null : m.id,
      'data-from': m.from,
      'data-client-msg-id': pending?.clientMsgId,
    },
    gutter,
    body,
    pending || m.deleted || ctx.editor || ctx.readOnly ? null : actions(m, s),
  );
}

function quote(replyTo: string, ctx: RowContext): HTMLElement {
  const o = ctx.original;
  const who = o ? (o.name ?? ctx.state.nameOf(o.from)) : '';
  const text = !o ? 'Original message' : o.deleted ? 'This message was deleted' : snippet(o.text);
  return h(
    'button',
    {
      type: 'button',
      className: 'msg-quote',
      'data-action': 'goto',
      'data-target': replyTo,
      title: 'Show the original',
    },
    who ? h('span', { className: 'quote-name' }, who) : null,
    h('span', { className: 'quote-text' }, text),
  );
}

function reactions(m: Message, s: ChatState): HTMLElement {
  const chips = Object.entries(m.reactions ?? {}).map(([emoji, r]) => {
    const mine = r.users.includes(s.me);
    const names = r.users.map((u) => (u === s.me ? 'You' : s.nameOf(u)));
    const more = r.count - r.users.length;
    return h(
      'button',
      {
        type: 'button',
        className: `chip${mine ? ' mine' : ''}`,
        'data-action': 'toggle-reaction',
        'data-emoji': emoji,
        'aria-pressed': String(mine),
        title: `${names.join(', ')}${more > 0 ? ` and ${more} more` : ''} reacted with ${emoji}`,
      },
      h('span', { className: 'chip-emoji' }, emoji),
      h('span', { className: 'chip-count' }, String(r.count)),
    );
  });
  return h('div', { className: 'reactions' }, ...chips);
}

function pendingNote(p: Pending): HTMLElement {
  if (!p.failed) return h('div', { className: 'msg-note muted' }, 'Sending…');
  return h(
    'div',
    { className: 'msg-note error-text' },
    `Not sent: ${p.failed} · `,
    h('button', { type: 'button', className: 'link', 'data-action': 'retry' }, 'Retry'),
    ' · ',
    h('button', { type: 'button', className: 'link', 'data-action': 'discard' }, 'Discard'),
  );
}

/** The action bar: everyone reacts and replies; authors edit and delete; moderators delete, mute, ban others. */
function actions(m: Message, s: ChatState): HTMLElement {
  const mine = m.from === s.me;
  const mod = s.isModerator;
  const btn = (action: string, label: string, text: string, extra = ''): HTMLElement =>
    h(
      'button',
      { type: 'button', className: `act${extra}`, 'data-action': action, title: label, 'aria-label': label },
      text,
    );
  return h(
    'div',
    { className: 'msg-actions', role: 'toolbar', 'aria-label': 'Message actions' },
    btn('react', 'Add reaction', '☺'),
    btn('reply', 'Reply', '↩'),
    mine ? btn('edit', 'Edit', '✎') : null,
    mine || mod ? btn('delete', 'Delete', '🗑', ' danger') : null,
    !mine && mod ? btn('mute', 'Mute', 'Mute', ' text') : null,
    !mine && mod ? btn('ban', 'Ban', 'Ban', ' text danger') : null,
  );
}
