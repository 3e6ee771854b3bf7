/**
 * The SDK in JWT mode: a token expiring mid-session (close 4001) ends a
 * client with a fixed token, and a client with a token provider reconnects
 * with a fresh token and rejoins its rooms.
 */
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ParleyClientError } from '../../src/sdk/index.js';
import { startNode, type RunningNode } from '../support/server.js';
import { sleep, waitFor } from '../support/ports.js';
import { Recorder, WireLog, sdkClient } from './helpers.js';

const SECRET = 'sdk-jwt-test-secret-0123456789abcdef-0123456789';
let node: RunningNode;

function token(sub: string, ttlSeconds: number, name?: string): Promise<string> {
  return new SignJWT(name ? { name } : {})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setExpirationTime(Math.floor(Date.now() / 1000) + ttlSeconds)
    .sign(new TextEncoder().encode(SECRET));
}

beforeAll(async () => {
  node = await startNode({ env: { PARLEY_JWT_SECRET: SECRET } });
});
afterAll(async () => {
  await node.stop();
});

describe('SDK with JWT', () => {
  it('connects with a token; the user id and name come from its claims', async () => {
    const c = sdkClient(node.url, { token: await token('erin', 60, 'Erin') });
    try {
      expect(c.userId).toBe('erin');
      expect(c.userName).toBe('Erin');
      await c.connect();
      const msg = await c.join('jwt-room').then(() => c.send('jwt-room', 'signed in'));
      expect(msg).toMatchObject({ from: 'erin', name: 'Erin' });
    } finally {
      c.close();
    }
  });

  it('on Node the token goes in the Authorization header, not in the URL (proxy logs); query on request', async () => {
    const jwt = await token('ivy', 60, 'Ivy');
    const wire = new WireLog();
    const c = sdkClient(node.url, { token: jwt, WebSocket: wire.WebSocket });
    const q = new WireLog();
    const viaQuery = sdkClient(node.url, { token: jwt, WebSocket: q.WebSocket, tokenTransport: 'query' });
    try {
      await c.connect();
      expect(wire.opened).toHaveLength(1);
      expect(wire.opened[0]!.url).not.toContain(jwt);
      expect(new URL(wire.opened[0]!.url).searchParams.has('token')).toBe(false);
      expect(wire.opened[0]!.headers).toEqual({ Authorization: `Bearer ${jwt}` });
      const msg = await c.join('jwt-header').then(() => c.send('jwt-header', 'via header'));
      expect(msg).toMatchObject({ from: 'ivy', name: 'Ivy' });

      await viaQuery.connect();
      expect(new URL(q.opened[0]!.url).searchParams.get('token')).toBe(jwt);
      expect(q.opened[0]!.headers).toBeUndefined();
    } finally {
      c.close();
      viaQuery.close();
    }
  });

  it('a bad token fails the first connect with CONNECT_FAILED', async () => {
    const c = sdkClient(node.url, { token: 'not-a-jwt' });
    const err = await c.connect().catch((e: unknown) => e);
    expect((err as ParleyClientError).code).toBe('CONNECT_FAILED');
    expect(c.state).toBe('closed');
  });

  it('expiry (4001) with a fixed token: closed, no blind reconnect', async () => {
    // exp has one-second resolution: the token ends within 1-2 s.
    const c = sdkClient(node.url, { token: await token('fay', 2) });
    const rec = new Recorder(c);
    await c.connect();
    await c.join('jwt-room');
    await waitFor(() => c.state === 'closed', 6000, 'closed on expiry');
    const closed = rec.states.at(-1)!;
    expect(closed.closeCode).toBe(4001);
    expect(closed.error?.code).toBe('CLOSED');
    await sleep(300);
    expect(rec.states.some((s) => s.state === 'reconnecting')).toBe(false);
  });

  it('expiry (4001) with a token provider: reconnects with a fresh token and rejoins', async () => {
    let issued = 0;
    const c = sdkClient(node.url, {
      token: () => {
        issued++;
        return token('gus', 2);
      },
    });
    const rec = new Recorder(c);
    const other = sdkClient(node.url, { token: await token('hal', 60) });
    try {
      await c.connect();
      await c.join('jwt-renew');
      await other.connect();
      await other.join('jwt-renew');
      await waitFor(() => rec.states.some((s) => s.closeCode === 4001), 6000, 'expiry close');
      await waitFor(() => c.state === 'connected' && issued >= 2, 5000, 'reconnected with a new token');
      await other.send('jwt-renew', 'after renewal');
      await waitFor(() => rec.texts('jwt-renew').includes('after renewal'), 5000);
      expect(rec.states.some((s) => s.state === 'closed')).toBe(false);
    } finally {
      c.close();
      other.close();
    }
  });
});
