/**
 * JWT key settings, checked once at start (loadConfig) so that a bad key is a
 * ConfigError naming the setting, never a failure at the first connection.
 * Imports nothing of Parley's (config.ts calls it).
 *
 * Exactly one key source may be set:
 * - `PARLEY_JWT_SECRET`: HS256, at least 32 bytes;
 * - `PARLEY_JWT_PUBLIC_KEY`: a PEM public key or certificate (or a JWK as JSON);
 *   the algorithms are pinned to the key's type (RSA: RS*, PS*; EC: the curve's
 *   ES*; Ed25519: EdDSA);
 * - `PARLEY_JWKS_URL`: an https URL (http only for loopback hosts); asymmetric
 *   algorithms only.
 */
import { createPublicKey, type JsonWebKeyInput, type KeyObject } from 'node:crypto';

/** A bad key setting; loadConfig turns it into a ConfigError. */
export class JwtKeyError extends Error {
  constructor(
    readonly setting: string,
    message: string,
  ) {
    super(message);
    this.name = 'JwtKeyError';
  }
}

export type JwtKeySource =
  | { kind: 'secret'; key: Uint8Array; algorithms: string[] }
  | { kind: 'public-key'; key: KeyObject; algorithms: string[] }
  | { kind: 'jwks'; url: URL; algorithms: string[] };

export interface JwtKeySettings {
  jwtSecret: string | null;
  jwtPublicKey: string | null;
  jwksUrl: string | null;
}

/** HS256 keys shorter than the hash are brute-forceable (RFC 7518 section 3.2). */
export const MIN_SECRET_BYTES = 32;

const RSA_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'];
const EC_ALGORITHMS: Record<string, string> = { prime256v1: 'ES256', secp384r1: 'ES384', secp521r1: 'ES512' };
const OKP_ALGORITHMS = ['EdDSA', 'Ed25519'];

/** Algorithms accepted from a JWKS: asymmetric only (never HS*, never none). */
export const JWKS_ALGORITHMS = [...RSA_ALGORITHMS, ...Object.values(EC_ALGORITHMS), ...OKP_ALGORITHMS];

/** The algorithms a public key may verify: its own family only. */
export function algorithmsForKey(key: KeyObject, setting = 'PARLEY_JWT_PUBLIC_KEY'): string[] {
  const details = key.asymmetricKeyDetails;
  switch (key.asymmetricKeyType) {
    case 'rsa':
    case 'rsa-pss': {
      if ((details?.modulusLength ?? 0) < 2048) {
        throw new JwtKeyError(setting, `RSA key is ${details?.modulusLength ?? '?'} bits; at least 2048 are required`);
      }
      return key.asymmetricKeyType === 'rsa' ? RSA_ALGORITHMS : RSA_ALGORITHMS.filter((a) => a.startsWith('PS'));
    }
    case 'ec': {
      const alg = EC_ALGORITHMS[details?.namedCurve ?? ''];
      if (!alg)
        throw new JwtKeyError(
          setting,
          `EC curve "${details?.namedCurve ?? '?'}" is not supported (P-256, P-384, P-521)`,
        );
      return [alg];
    }
    case 'ed25519':
      return OKP_ALGORITHMS;
    default:
      throw new JwtKeyError(
        setting,
        `key type "${key.asymmetricKeyType ?? '?'}" is not supported (RSA, EC or Ed25519)`,
      );
  }
}

function parsePublicKey(raw: string): KeyObject {
  const setting = 'PARLEY_JWT_PUBLIC_KEY';
  // Environment files often carry PEM with literal "\n".
  const text = raw.includes('-----BEGIN') ? raw.replace(/\\n/g, '\n').trim() : raw.trim();
  if (/PRIVATE KEY-----/.test(text)) {
    throw new JwtKeyError(setting, 'is a private key; give the public key (the server only verifies)');
  }
  let key: KeyObject;
  try {
    if (text.startsWith('{')) {
      const jwk = JSON.parse(text) as Record<string, unknown>;
      if ('d' in jwk || jwk.kty === 'oct') throw new JwtKeyError(setting, 'JWK must be a public key');
      key = createPublicKey({ key: jwk, format: 'jwk' } as JsonWebKeyInput);
    } else if (text.startsWith('-----BEGIN')) {
      key = createPublicKey(text);
    } else {
      throw new JwtKeyError(
        setting,
        'must be a PEM public key ("-----BEGIN PUBLIC KEY-----"), a PEM certificate or a public JWK',
      );
    }
  } catch (err) {
    if (err instanceof JwtKeyError) throw err;
    throw new JwtKeyError(setting, `cannot be read as a public key: ${(err as Error).message}`);
  }
  return key;
}

function parseJwksUrl(raw: string): URL {
  const setting = 'PARLEY_JWKS_URL';
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new JwtKeyError(setting, `is not a URL: "${raw}"`);
  }
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw new JwtKeyError(setting, 'must be an https:// URL (plain http is allowed for localhost only)');
  }
  return url;
}

/**
 * The configured key source, or null in dev mode (no key set).
 * Throws JwtKeyError naming the setting when a value is unusable.
 */
export function resolveJwtKeys(s: JwtKeySettings): JwtKeySource | null {
  const set = [
    s.jwtSecret !== null && 'PARLEY_JWT_SECRET',
    s.jwtPublicKey !== null && 'PARLEY_JWT_PUBLIC_KEY',
    s.jwksUrl !== null && 'PARLEY_JWKS_URL',
  ].filter((x): x is string => typeof x === 'string');
  if (set.length === 0) return null;
  if (set.length > 1) throw new JwtKeyError(set.join(', '), 'set only one JWT key source');
  if (s.jwtSecret !== null) {
    const key = new TextEncoder().encode(s.jwtSecret);
    if (key.length < MIN_SECRET_BYTES) {
      throw new JwtKeyError(
        'PARLEY_JWT_SECRET',
        `must be at least ${MIN_SECRET_BYTES} bytes (HS256), got ${key.length}`,
      );
    }
    return { kind: 'secret', key, algorithms: ['HS256'] };
  }
  if (s.jwtPublicKey !== null) {
    const key = parsePublicKey(s.jwtPublicKey);
    return { kind: 'public-key', key, algorithms: algorithmsForKey(key) };
  }
  return { kind: 'jwks', url: parseJwksUrl(s.jwksUrl!), algorithms: JWKS_ALGORITHMS };
}
