/**
 * Who a client says it is, for display: the `user`/`name` options, or the
 * claims of a static token, read without verifying it (the server decides).
 */
import type { ClientOptions } from './types.js';
import { jwtClaims } from './util.js';

/** The `user` option, or the `sub` claim of a static token. */
export function userIdOf(opts: ClientOptions): string | undefined {
  if (opts.user) return opts.user;
  if (typeof opts.token === 'string') {
    const sub = jwtClaims(opts.token)?.sub;
    if (typeof sub === 'string') return sub;
  }
  return undefined;
}

/** The `name` option, or the `name` claim of a static token. */
export function userNameOf(opts: ClientOptions): string | undefined {
  if (opts.name) return opts.name;
  if (typeof opts.token === 'string') {
    const name = jwtClaims(opts.token)?.name;
    if (typeof name === 'string') return name;
  }
  return undefined;
}

/** The `roles` claim of a static token, or the dev-mode `query.roles` list. */
export function rolesOf(opts: ClientOptions): string[] {
  if (typeof opts.token === 'string') {
    const roles = (jwtClaims(opts.token) as { roles?: unknown } | null)?.roles;
    return Array.isArray(roles) ? roles.filter((r): r is string => typeof r === 'string') : [];
  }
  return (opts.query?.roles ?? '').split(',').filter(Boolean);
}
