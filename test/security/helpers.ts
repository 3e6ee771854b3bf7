/**
 * Helpers for the hostile-client suites: raw upgrade attempts (status and
 * body of a refused handshake), token minting, metric reads and the
 * "is everybody else still fine" check every case ends with.
 */
import { request as httpRequest } from 'node:http';
import { connect as netConnect } from 'node:net';
import WebSocket from 'ws';
import { SignJWT, type JWTPayload } from 'jose';
import { expect } from 'vitest';
import type { Message } from '../../src/protocol/frames.js';
import { connect, type TestClient } from '../support/client.js';
import type { RunningNode } from '../support/server.js';

let n = 0;
/** A fresh id for users and rooms so cases do not see each other. */
export const uniq = (p: string): string => `${p}-${++n}-${Math.random().toString(36).slice(2, 7)}`;

export interface Refusal {
  status: number;
  body: { error?: { code: string; message: string } };
}

/**
 * Tries a WebSocket upgrade and resolves with the HTTP refusal, or with the
 * open client when the server accepted (then `status` is 101).
 */
export function tryUpgrade(
  url: string,
  options: WebSocket.ClientOptions = {},
): Promise<{ status: number; body: Refusal['body']; ws?: WebSocket }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options);
    ws.once('open', () => resolve({ status: 101, body: {}, ws }));
    ws.once('unexpected-response', (_req, res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => {
        let body: Refusal['body'] = {};
        try {
          body = JSON.parse(text) as Refusal['body'];
        } catch {
          /* not JSON */
        }
        resolve({ status: res.statusCode ?? 0, body });
      });
    });
    ws.once('error', (err) => reject(err));
  });
}

/** Asserts that an upgrade is refused with `status` and error `code`, before any socket exists. */
export async function expectRefused(
  url: string,
  status: number,
  code: string,
  options: WebSocket.ClientOptions = {},
): Promise<Refusal> {
  const r = await tryUpgrade(url, options);
  if (r.ws) r.ws.terminate();
  expect(r.status, `upgrade of ${url.replace(/token=[^&]+/, 'token=…')} should be refused`).toBe(status);
  expect(r.body.error?.code).toBe(code);
  return r as Refusal;
}

/** Sends a raw HTTP request head over TCP and returns everything the server wrote before closing. */
export function rawHttp(port: number, head: string, ms = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = netConnect(port, '127.0.0.1', () => sock.write(head));
    let out = '';
    const timer = setTimeout(() => {
      sock.destroy();
      resolve(out);
    }, ms);
    sock.on('data', (d) => {
      out += d.toString('latin1');
      // An accepted upgrade keeps the socket open: enough once the status line is in.
      if (out.startsWith('HTTP/1.1 101') && out.includes('\r\n\r\n')) {
        clearTimeout(timer);
        sock.destroy();
        resolve(out);
      }
    });
    sock.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
    sock.on('error', (err) => {
      clearTimeout(timer);
      if (out) resolve(out);
      else reject(err);
    });
  });
}

export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
  text: string;
}

/** A plain HTTP request to the node. */
export function http(
  node: { port: number },
  method: string,
  path: string,
  opts: { headers?: Record<string, string>; body?: string } = {},
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: node.port, method, path, headers: opts.headers }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => {
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          body = null;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text });
      });
    });
    req.on('error', reject);
    if (opts.body !== undefined) req.write(opts.body);
    req.end();
  });
}

/** Current value of `parley_limit_breaches_total{limit}` on an in-process node. */
export async function breaches(node: RunningNode, limit: string): Promise<number> {
  const m = await node.node.metrics.limitBreaches.get();
  return m.values.find((v) => v.labels.limit === limit)?.value ?? 0;
}

/** HS256 token for tests. */
export async function hsToken(
  secret: string,
  claims: JWTPayload & Record<string, unknown>,
  opts: { exp?: number | string; nbf?: number | string } = {},
): Promise<string> {
  const jwt = new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setIssuedAt();
  if (opts.exp !== undefined) jwt.setExpirationTime(opts.exp);
  if (opts.nbf !== undefined) jwt.setNotBefore(opts.nbf);
  return jwt.sign(new TextEncoder().encode(secret));
}

/** An unsigned token (`alg: none`). */
export function noneToken(claims: Record<string, unknown>): string {
  const b64 = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`;
}

/**
 * The check every hostile case ends with: the node answers /healthz, and two
 * fresh users (made by `open`) can join a room and exchange a message.
 */
export async function expectHealthy(
  node: { port: number },
  open: (user: string) => Promise<TestClient>,
): Promise<void> {
  const res = await http(node, 'GET', '/healthz');
  expect(res.status).toBe(200);
  const room = uniq('health');
  const a = await open(uniq('ha'));
  const b = await open(uniq('hb'));
  try {
    await a.ok({ type: 'join', room });
    await b.ok({ type: 'join', room });
    const { message } = await a.ok<{ message: Message }>({ type: 'send', room, text: 'still alive' });
    await b.waitFor((f) => f.type === 'message' && (f.message as Message).id === message.id, 5000, 'health message');
  } finally {
    a.close();
    b.close();
  }
}

/** Opens a dev-mode client, remembering it for cleanup. */
export function devClient(node: RunningNode, clients: TestClient[]) {
  return async (user: string, name?: string): Promise<TestClient> => {
    const c = await node.client(user, name);
    clients.push(c);
    return c;
  };
}

/** Opens a client at a full URL (JWT mode), remembering it for cleanup. */
export async function openAt(
  url: string,
  clients: TestClient[],
  options?: WebSocket.ClientOptions,
): Promise<TestClient> {
  const c = await connect(url, options);
  clients.push(c);
  return c;
}

/** Resolves with the close of a client within `ms`, or rejects. */
export function closedWithin(c: TestClient, ms: number): Promise<{ code: number; reason: string }> {
  return Promise.race([
    c.closed,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`socket not closed within ${ms} ms`)), ms)),
  ]);
}
