/**
 * The SDK's client-side room view without a server: the message store
 * (events and `changed` applied, order by id, bound) and read state.
 */
import { describe, expect, it } from 'vitest';
import type { Message } from '../../src/sdk/index.js';
import { MessageStore, tombstone, withReaction } from '../../src/sdk/store.js';
import { ReadState } from '../../src/sdk/unread.js';
import type { UnreadInfo } from '../../src/sdk/types.js';

const msg = (n: number, from = 'bob', extra: Partial<Message> = {}): Message => ({
  id: `${1000 + n}-0`,
  room: 'r',
  from,
  text: `m${n}`,
  ts: 1000 + n,
  ...extra,
});

describe('MessageStore', () => {
  it('keeps messages in id order whatever order they arrive in, bounded by dropping the oldest', () => {
    const store = new MessageStore(3);
    for (const n of [5, 2, 9, 7]) store.put(msg(n));
    expect(store.list().map((m) => m.text)).toEqual(['m5', 'm7', 'm9']);
    expect(store.get(msg(2).id)).toBeUndefined();
    expect(store.newest()?.text).toBe('m9');
  });

  it('edit, delete and reactions replace the held copy (never mutate it)', () => {
    const store = new MessageStore();
    const original = msg(1, 'ann');
    store.put(original);
    expect(store.replace({ ...original, text: 'fixed', editedAt: 5 })).toBe(true);
    expect(store.replace(msg(99))).toBe(false);
    const id = original.id;
    const r1 = store.react({ room: 'r', messageId: id, emoji: '👍', user: 'bob', op: 'add', count: 1 });
    const r2 = store.react({ room: 'r', messageId: id, emoji: '👍', user: 'cy', op: 'add', count: 2 });
    expect(r2?.reactions).toEqual({ '👍': { count: 2, users: ['bob', 'cy'] } });
    expect(r1?.reactions).toEqual({ '👍': { count: 1, users: ['bob'] } });
    const r3 = store.react({ room: 'r', messageId: id, emoji: '👍', user: 'bob', op: 'remove', count: 1 });
    expect(r3?.reactions).toEqual({ '👍': { count: 1, users: ['cy'] } });
    const r4 = store.react({ room: 'r', messageId: id, emoji: '👍', user: 'cy', op: 'remove', count: 0 });
    expect(r4?.reactions).toBeUndefined();
    const tomb = store.delete(id)!;
    expect(tomb).toMatchObject({ id, room: 'r', from: 'ann', ts: original.ts, text: '', deleted: true });
    expect(tomb.editedAt).toBeUndefined();
    expect(original.text).toBe('m1');
    expect(tombstone(original).deleted).toBe(true);
  });

  it('lists at most 20 reactors but keeps the exact count', () => {
    let m = msg(1);
    for (let i = 0; i < 25; i++) {
      m = withReaction(m, { room: 'r', messageId: m.id, emoji: ':tada:', user: `u${i}`, op: 'add', count: i + 1 });
    }
    expect(m.reactions?.[':tada:']?.count).toBe(25);
    expect(m.reactions?.[':tada:']?.users).toHaveLength(20);
  });
});

describe('ReadState', () => {
  it('counts live messages from others after the server count, own messages move the marker', () => {
    const events: UnreadInfo[] = [];
    const reads = new ReadState((i) => events.push(i));
    reads.set('r', msg(1).id, 2, msg(3).id);
    reads.onMessage(msg(3), 'me'); // already counted by the server
    expect(reads.get('r')?.unread).toBe(2);
    reads.onMessage(msg(4), 'me');
    expect(reads.get('r')?.unread).toBe(3);
    reads.onMessage(msg(5, 'me'), 'me');
    expect(reads.get('r')).toEqual({ room: 'r', lastReadId: msg(5).id, unread: 0 });
    expect(events.at(-1)?.unread).toBe(0);
  });

  it('a read marker never moves back; unread is what is held after it', () => {
    const reads = new ReadState(() => undefined);
    reads.set('r', null, 3, msg(3).id);
    const held = [msg(1), msg(2), msg(3)];
    reads.onRead('r', msg(2).id, held, 'me');
    expect(reads.get('r')).toEqual({ room: 'r', lastReadId: msg(2).id, unread: 1 });
    reads.onRead('r', msg(1).id, held, 'me');
    expect(reads.get('r')?.lastReadId).toBe(msg(2).id);
    reads.onDeleted(msg(3), 'me');
    expect(reads.get('r')?.unread).toBe(0);
  });
});
