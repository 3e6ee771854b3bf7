/** User and room ids: letters, digits and `_ . : @ -`, 1 to 128 characters. */
export const ID_PATTERN = /^[A-Za-z0-9_.:@-]{1,128}$/;
export const ID_PATTERN_SOURCE = '^[A-Za-z0-9_.:@-]{1,128}$';

/** Message ids are Redis stream ids: `<ms>-<seq>`. Opaque to clients. */
export const MESSAGE_ID_PATTERN = /^\d{1,16}-\d{1,16}$/;

export function isValidId(id: unknown): id is string {
  return typeof id === 'string' && ID_PATTERN.test(id);
}

/**
 * The private direct-message room of two users: `dm:<a>:<b>` with ids sorted.
 *
 * @example
 * dmRoom('bob', 'ann') // 'dm:ann:bob'
 */
export function dmRoom(a: string, b: string): string {
  return a < b ? `dm:${a}:${b}` : `dm:${b}:${a}`;
}

/** The two users of a `dm:` room, or null when the room is not a valid DM room. */
export function dmUsers(room: string): [string, string] | null {
  if (!room.startsWith('dm:')) return null;
  const parts = room.slice(3).split(':');
  if (parts.length !== 2) return null;
  const [a, b] = parts as [string, string];
  if (!a || !b || !(a < b)) return null;
  return [a, b];
}

/** Compares two message ids (`ms-seq`) numerically: negative when a < b. */
export function compareMessageIds(a: string, b: string): number {
  const ia = a.indexOf('-');
  const ib = b.indexOf('-');
  const ma = Number(a.slice(0, ia));
  const mb = Number(b.slice(0, ib));
  if (ma !== mb) return ma - mb;
  return Number(a.slice(ia + 1)) - Number(b.slice(ib + 1));
}
