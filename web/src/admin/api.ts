/** The admin page's HTTP client: the API key from sessionStorage on every request. */

const KEY = 'parley.admin.key';

export class Unauthorized extends Error {}

export function storedKey(): string | null {
  return sessionStorage.getItem(KEY);
}

export function storeKey(key: string | null): void {
  if (key === null) sessionStorage.removeItem(KEY);
  else sessionStorage.setItem(KEY, key);
}

/** Calls /api with the stored key; 401 throws Unauthorized, other failures the server's message. */
export async function api<T>(path: string, init: { method?: string; body?: unknown } = {}): Promise<T> {
  const headers: Record<string, string> = { Authorization: `Bearer ${storedKey() ?? ''}` };
  if (init.body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(path, {
    method: init.method ?? 'GET',
    headers,
    body: init.body === undefined ? null : JSON.stringify(init.body),
  });
  const body = (await res.json().catch(() => ({}))) as { error?: { code: string; message: string } };
  if (res.status === 401) throw new Unauthorized(body.error?.message ?? 'wrong API key');
  if (!res.ok) throw new Error(`${res.status} ${body.error?.code ?? ''}: ${body.error?.message ?? res.statusText}`);
  return body as T;
}

export interface Overview {
  node: string;
  now: number;
  nodes: {
    id: string;
    engine: string;
    connections: number;
    rooms: number;
    uptimeMs: number;
    alive: boolean;
  }[];
  connections: number;
  rooms: number;
  presence: { online: number; away: number; busy: number };
  busiestRooms: { room: string; members: number }[];
  breaches: { ts: number; limit: string; count: number }[];
  slowConsumerCloses: number;
}

export interface History {
  node: string;
  intervalMs: number;
  samples: { ts: number; messagesPerSec: number; deliveriesPerSec: number; connections: number }[];
}
