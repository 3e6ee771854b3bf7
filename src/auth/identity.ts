/** Who is on the other end of a connection, and what they may join. */
import { dmUsers } from '../protocol/ids.js';

export interface Identity {
  user: string;
  name?: string;
  /** Room patterns the user may join (`team-*`); undefined = every room that is not private. */
  rooms?: string[];
  /** When the credential expires, ms since epoch (the socket is closed with 4001 then). */
  expiresAt?: number;
  /** Roles from the JWT `roles` claim; `moderator` or `admin` moderates every room. */
  roles?: string[];
}

/** Roles that make a user a moderator in every room. */
export const MODERATOR_ROLES: readonly string[] = ['moderator', 'admin'];

/**
 * Whether the identity moderates every room (JWT `roles` has `moderator` or `admin`).
 *
 * @example
 * isModerator({ user: 'mod', roles: ['moderator'] }) // true
 */
export function isModerator(identity: Identity): boolean {
  return identity.roles !== undefined && identity.roles.some((r) => MODERATOR_ROLES.includes(r));
}

function patternMatches(pattern: string, room: string): boolean {
  if (!pattern.includes('*')) return pattern === room;
  const parts = pattern.split('*');
  let pos = 0;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (i === 0) {
      if (!room.startsWith(part)) return false;
      pos = part.length;
    } else if (i === parts.length - 1) {
      return room.length - part.length >= pos && room.endsWith(part);
    } else {
      const at = room.indexOf(part, pos);
      if (at < 0) return false;
      pos = at + part.length;
    }
  }
  return true;
}

/**
 * Whether `identity` may join or read `room`: `dm:a:b` rooms belong to a and b
 * only; other `dm:` names are refused; otherwise the `rooms` claim decides.
 *
 * @example
 * canAccessRoom({ user: 'ann', rooms: ['team-*'] }, 'team-red') // true
 */
export function canAccessRoom(identity: Identity, room: string): boolean {
  if (room.startsWith('dm:')) {
    const pair = dmUsers(room);
    return pair !== null && (pair[0] === identity.user || pair[1] === identity.user);
  }
  if (identity.rooms === undefined) return true;
  return identity.rooms.some((p) => patternMatches(p, room));
}
