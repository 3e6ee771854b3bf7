/**
 * Authentication before the WebSocket upgrade. Dev mode (no key configured)
 * takes `?user=&name=` on trust; JWT mode verifies a token.
 */
import type { IncomingMessage } from 'node:http';
import { ParleyError } from '../protocol/errors.js';
import { isValidId } from '../protocol/ids.js';
import type { Identity } from './identity.js';

export interface Authenticator {
  readonly mode: 'dev' | 'jwt';
  /** Resolves the caller's identity or throws ParleyError('UNAUTHORIZED'). */
  authenticate(req: IncomingMessage, url: URL): Promise<Identity>;
}

/** Longest display name kept; longer names are cut. */
export const MAX_NAME_CHARS = 64;

export function cleanName(name: unknown): string | undefined {
  if (typeof name !== 'string') return undefined;
  const trimmed = name.trim().slice(0, MAX_NAME_CHARS);
  return trimmed === '' ? undefined : trimmed;
}

/** Longest role name and most roles kept from a dev-mode `?roles=` list. */
const MAX_ROLE_CHARS = 64;
const MAX_ROLES = 16;

/**
 * Dev mode: identities are not verified. `?roles=moderator` (comma list)
 * sets the identity's roles, just as unverified: anyone can claim any role,
 * which is the point of dev mode (try moderation without a JWT issuer).
 */
export class DevAuthenticator implements Authenticator {
  readonly mode = 'dev' as const;

  async authenticate(_req: IncomingMessage, url: URL): Promise<Identity> {
    const user = url.searchParams.get('user');
    if (!isValidId(user)) {
      throw new ParleyError('UNAUTHORIZED', 'dev mode: ?user=<id> is required (letters, digits, _ . : @ -, max 128)');
    }
    const name = cleanName(url.searchParams.get('name'));
    const identity: Identity = name === undefined ? { user } : { user, name };
    const roles = (url.searchParams.get('roles') ?? '')
      .split(',')
      .map((r) => r.trim())
      .filter((r) => r !== '' && r.length <= MAX_ROLE_CHARS)
      .slice(0, MAX_ROLES);
    if (roles.length > 0) identity.roles = roles;
    return identity;
  }
}
