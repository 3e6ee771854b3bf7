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

/** Dev mode: identities are not verified. */
export class DevAuthenticator implements Authenticator {
  readonly mode = 'dev' as const;

  async authenticate(_req: IncomingMessage, url: URL): Promise<Identity> {
    const user = url.searchParams.get('user');
    if (!isValidId(user)) {
      throw new ParleyError('UNAUTHORIZED', 'dev mode: ?user=<id> is required (letters, digits, _ . : @ -, max 128)');
    }
    const name = cleanName(url.searchParams.get('name'));
    return name === undefined ? { user } : { user, name };
  }
}
