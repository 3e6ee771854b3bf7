/** Small helpers of the SDK that need no DOM and no Node API. */

/**
 * A random id for `clientMsgId`: `crypto.randomUUID()` where available
 * (secure contexts, Node 20), else 128 random bits in hex.
 */
export function randomId(): string {
  const c = (globalThis as { crypto?: Crypto }).crypto;
  if (c && typeof c.randomUUID === 'function') {
    try {
      return c.randomUUID();
    } catch {
      // not a secure context: fall through
    }
  }
  const bytes = new Uint8Array(16);
  if (c && typeof c.getRandomValues === 'function') c.getRandomValues(bytes);
  else for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * The WebSocket URL for a server address: `http(s)` becomes `ws(s)`, an empty
 * path becomes `/ws`, and relative addresses are resolved against the page.
 */
export function socketUrl(address: string, params: Record<string, string | undefined>): string {
  const base = (globalThis as { location?: { href: string } }).location?.href;
  const url = base ? new URL(address, base) : new URL(address);
  if (url.protocol === 'http:') url.protocol = 'ws:';
  else if (url.protocol === 'https:') url.protocol = 'wss:';
  if (url.pathname === '' || url.pathname === '/') url.pathname = '/ws';
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== '') url.searchParams.set(key, value);
  }
  return url.toString();
}

/** The unverified claims of a JWT (to learn `sub` and `name`); null when it does not parse. */
export function jwtClaims(token: string): { sub?: unknown; name?: unknown } | null {
  const part = token.split('.')[1];
  if (!part) return null;
  try {
    const b64 = part
      .replace(/-/g, '+')
      .replace(/_/g, '/')
      .padEnd(Math.ceil(part.length / 4) * 4, '=');
    const binary = atob(b64);
    const bytes = Uint8Array.from(binary, (ch) => ch.charCodeAt(0));
    const claims: unknown = JSON.parse(new TextDecoder().decode(bytes));
    return typeof claims === 'object' && claims !== null ? (claims as { sub?: unknown; name?: unknown }) : null;
  } catch {
    return null;
  }
}

/** UTF-8 byte length of a string. */
export function utf8Length(text: string): number {
  return new TextEncoder().encode(text).length;
}

/**
 * The ids seen recently in one room, bounded (oldest forgotten first). Used to
 * drop a message that arrives twice, e.g. once live and once in a rejoin batch.
 */
export class RecentIds {
  private ids = new Set<string>();
  constructor(private readonly capacity = 5000) {}

  /** Records `id`; returns false when it was already there. */
  add(id: string): boolean {
    if (this.ids.has(id)) return false;
    this.ids.add(id);
    if (this.ids.size > this.capacity) {
      const oldest = this.ids.values().next().value;
      if (oldest !== undefined) this.ids.delete(oldest);
    }
    return true;
  }

  has(id: string): boolean {
    return this.ids.has(id);
  }
}
