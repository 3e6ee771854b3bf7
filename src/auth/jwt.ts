/**
 * JWT authentication before the WebSocket upgrade (jose).
 *
 * - The key source (secret, public key or JWKS URL) is resolved and checked in
 *   the constructor: a bad setting throws ConfigError at start.
 * - Algorithms are pinned to the key: HS256 for a secret; the public key's own
 *   family (RS*, PS*, ES*, EdDSA); asymmetric only for a JWKS. `alg: none` and
 *   HS/RS confusion (an HS256 token "signed" with the public key) are refused.
 * - `exp` and `nbf` are checked; `aud` and `iss` when PARLEY_JWT_AUDIENCE /
 *   PARLEY_JWT_ISSUER are set. `sub` must be a user id; `name` a string;
 *   `rooms` a list of room patterns (`team-*`). A malformed claim refuses the
 *   token: it never widens what the user may join.
 * - Token from `Authorization: Bearer <jwt>`, else `?token=<jwt>`.
 */
import type { IncomingMessage } from 'node:http';
import type { KeyObject } from 'node:crypto';
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload, type JWTVerifyOptions } from 'jose';
import type { Config } from '../config.js';
import { ConfigError } from '../settings.js';
import { ParleyError } from '../protocol/errors.js';
import { isValidId } from '../protocol/ids.js';
import { cleanName, type Authenticator } from './authenticator.js';
import type { Identity } from './identity.js';
import { JwtKeyError, resolveJwtKeys, type JwtKeySource } from './keys.js';

/** A room pattern in the `rooms` claim: id characters and `*`. */
export const ROOM_PATTERN = /^[A-Za-z0-9_.:@*-]{1,128}$/;
/** Most roles accepted in one `roles` claim. */
const MAX_ROLES = 32;
/** Most patterns accepted in one `rooms` claim. */
export const MAX_ROOM_PATTERNS = 1000;
/** Longest token accepted, characters. */
export const MAX_TOKEN_CHARS = 8192;

type RemoteJwks = ReturnType<typeof createRemoteJWKSet>;

export interface JwtOptions {
  /** JWKS fetch timeout, ms (default 5000). */
  jwksTimeoutMs?: number;
  /** How long fetched JWKS keys are trusted before a refetch, ms (default 10 min). */
  jwksCacheMaxAgeMs?: number;
  /** Least time between two fetches triggered by an unknown `kid`, ms (default 30 s). */
  jwksCooldownMs?: number;
}

function unauthorized(message: string): ParleyError {
  return new ParleyError('UNAUTHORIZED', message);
}

/** The bearer token of a request: `Authorization: Bearer`, else `?token=`. */
export function tokenOf(req: IncomingMessage, url: URL): string {
  const header = req.headers.authorization;
  const m = typeof header === 'string' ? /^Bearer[ \t]+([^\s]+)[ \t]*$/i.exec(header) : null;
  const token = m ? m[1]! : url.searchParams.get('token');
  if (token === null || token === '') {
    throw unauthorized('a token is required: ?token=<jwt> or Authorization: Bearer <jwt>');
  }
  if (token.length > MAX_TOKEN_CHARS) throw unauthorized('token is too long');
  return token;
}

/** Turns verified claims into an identity; refuses malformed claims. */
export function identityFromClaims(payload: JWTPayload): Identity {
  const { sub, name, rooms, roles, exp } = payload as JWTPayload & {
    name?: unknown;
    rooms?: unknown;
    roles?: unknown;
  };
  if (!isValidId(sub)) {
    throw unauthorized('token "sub" must be a user id (letters, digits, _ . : @ -, 1-128 characters)');
  }
  const identity: Identity = { user: sub };
  if (name !== undefined && name !== null) {
    if (typeof name !== 'string') throw unauthorized('token "name" must be a string');
    const cleaned = cleanName(name);
    if (cleaned !== undefined) identity.name = cleaned;
  }
  if (rooms !== undefined) {
    if (!Array.isArray(rooms) || rooms.length > MAX_ROOM_PATTERNS) {
      throw unauthorized(`token "rooms" must be a list of at most ${MAX_ROOM_PATTERNS} room patterns`);
    }
    for (const p of rooms) {
      if (typeof p !== 'string' || !ROOM_PATTERN.test(p)) {
        throw unauthorized('token "rooms" entries must be room ids, optionally with "*" wildcards');
      }
    }
    identity.rooms = [...(rooms as string[])];
  }
  if (roles !== undefined && roles !== null) {
    if (
      !Array.isArray(roles) ||
      roles.length > MAX_ROLES ||
      !roles.every((r) => typeof r === 'string' && r.length <= 64)
    ) {
      throw unauthorized(`token "roles" must be a list of at most ${MAX_ROLES} strings`);
    }
    identity.roles = [...(roles as string[])];
  }
  if (typeof exp === 'number') identity.expiresAt = exp * 1000;
  return identity;
}

/** Maps a verification failure to a clear 401 (or 503 when the JWKS cannot be fetched). */
function verifyError(err: unknown, jwks: boolean): ParleyError {
  if (err instanceof ParleyError) return err;
  if (err instanceof errors.JWTExpired) return unauthorized('token expired');
  if (err instanceof errors.JWTClaimValidationFailed) {
    switch (err.claim) {
      case 'nbf':
        return unauthorized('token is not valid yet ("nbf")');
      case 'aud':
        return unauthorized('token audience ("aud") is not accepted');
      case 'iss':
        return unauthorized('token issuer ("iss") is not accepted');
      case 'sub':
        return unauthorized('token has no "sub"');
      default:
        return unauthorized(`token claim "${err.claim}" is invalid`);
    }
  }
  if (err instanceof errors.JOSEAlgNotAllowed) return unauthorized('token algorithm is not allowed');
  if (err instanceof errors.JWSSignatureVerificationFailed) return unauthorized('token signature is invalid');
  if (err instanceof errors.JWKSNoMatchingKey) return unauthorized('no key of the JWKS matches the token');
  if (err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid) {
    return new ParleyError('UNAVAILABLE', 'the key set (JWKS) cannot be fetched; retry later');
  }
  // A JWKS answer that is not 200 or not JSON: the identity provider's problem, not the token's.
  if (jwks && err instanceof errors.JOSEError && err.code === 'ERR_JOSE_GENERIC') {
    return new ParleyError('UNAVAILABLE', 'the key set (JWKS) cannot be fetched; retry later');
  }
  if (err instanceof errors.JOSEError) return unauthorized('token is malformed');
  // Outside jose's own errors: a network failure fetching the JWKS, or a key jose refuses.
  if (jwks) return new ParleyError('UNAVAILABLE', 'the key set (JWKS) cannot be fetched; retry later');
  return unauthorized('token is invalid');
}

export class JwtAuthenticator implements Authenticator {
  readonly mode = 'jwt' as const;
  readonly source: JwtKeySource;
  private readonly key: Uint8Array | KeyObject | RemoteJwks;
  private readonly options: JWTVerifyOptions;

  constructor(config: Config, opts: JwtOptions = {}) {
    let source: JwtKeySource | null;
    try {
      source = resolveJwtKeys(config);
    } catch (err) {
      if (err instanceof JwtKeyError) throw new ConfigError(err.setting, err.message);
      throw err;
    }
    if (source === null) {
      throw new ConfigError(
        'PARLEY_JWT_SECRET',
        'JWT mode needs PARLEY_JWT_SECRET, PARLEY_JWT_PUBLIC_KEY or PARLEY_JWKS_URL',
      );
    }
    this.source = source;
    this.key =
      source.kind === 'jwks'
        ? createRemoteJWKSet(source.url, {
            timeoutDuration: opts.jwksTimeoutMs ?? 5000,
            cacheMaxAge: opts.jwksCacheMaxAgeMs ?? 10 * 60_000,
            cooldownDuration: opts.jwksCooldownMs ?? 30_000,
          })
        : source.key;
    const options: JWTVerifyOptions = { algorithms: source.algorithms, requiredClaims: ['sub'] };
    const list = (v: string | null): string[] | undefined => {
      const items = v
        ?.split(',')
        .map((x) => x.trim())
        .filter(Boolean);
      return items && items.length > 0 ? items : undefined;
    };
    const audience = list(config.jwtAudience);
    const issuer = list(config.jwtIssuer);
    if (audience) options.audience = audience;
    if (issuer) options.issuer = issuer;
    this.options = options;
  }

  async authenticate(req: IncomingMessage, url: URL): Promise<Identity> {
    const token = tokenOf(req, url);
    let payload: JWTPayload;
    try {
      payload = await this.verify(token);
    } catch (err) {
      throw verifyError(err, this.source.kind === 'jwks');
    }
    return identityFromClaims(payload);
  }

  private async verify(token: string): Promise<JWTPayload> {
    const key = this.key;
    if (typeof key !== 'function') return (await jwtVerify(token, key, this.options)).payload;
    try {
      return (await jwtVerify(token, key, this.options)).payload;
    } catch (err) {
      // Several JWKS keys match the header (no `kid`): try each.
      if (!(err instanceof errors.JWKSMultipleMatchingKeys)) throw err;
      let last: unknown = err;
      for await (const candidate of err) {
        try {
          return (await jwtVerify(token, candidate, this.options)).payload;
        } catch (e) {
          last = e;
          if (!(e instanceof errors.JWSSignatureVerificationFailed)) break;
        }
      }
      throw last;
    }
  }
}
