/**
 * Socket.IO on a server the app owns (attachParley): /socket.io/ is Parley's
 * while attached, the app's routes stay the app's, and close() gives the
 * server back (its request handling exactly as before: no double answers).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { attachParley } from '../../src/server/parley.js';
import { sioConnect } from '../support/sio.js';

describe('Socket.IO with attachParley', () => {
  it('serves socket.io-client on the app server and detaches on close()', async () => {
    let appCalls = 0;
    const server = createServer((req, res) => {
      if (req.url === '/hello') appCalls++;
      res.writeHead(req.url === '/hello' ? 200 : 404, { 'Content-Type': 'text/plain' });
      res.end(req.url === '/hello' ? 'app' : 'app 404');
    });
    const parley = await attachParley(server, { logLevel: 'silent' });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      for (const transport of ['websocket', 'polling'] as const) {
        const c = await sioConnect(base, transport, { user: `att-${transport}` });
        const joined = await c.ok<{ count: number }>('join', { room: 'att' });
        expect(joined.count).toBeGreaterThanOrEqual(1);
        c.close();
      }
      expect(await (await fetch(`${base}/hello`)).text()).toBe('app');
      const before = appCalls;
      await parley.close();
      expect(await (await fetch(`${base}/hello`)).text()).toBe('app');
      const gone = await fetch(`${base}/socket.io/?EIO=4&transport=polling`);
      expect(await gone.text()).toBe('app 404');
      expect(appCalls - before).toBe(1); // answered once, by the app alone
      expect(server.listeners('request')).toHaveLength(1);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
