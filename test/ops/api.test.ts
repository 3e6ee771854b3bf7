/**
 * The HTTP API end to end on both engines, the OpenAPI document, and a node
 * without an API key.
 */
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis } from '../support/redis.js';
import { startNode, type RunningNode } from '../support/server.js';
import { apiSuite, call, KEY } from './api-suite.js';

const env = { PARLEY_API_KEY: KEY, PARLEY_MAX_TEXT_CHARS: '100', PARLEY_MAX_FRAME_BYTES: '4096' };

apiSuite('memory engine', async () => {
  const node = await startNode({ env });
  return { api: node, ws: node, stop: () => node.stop() };
});

apiSuite('redis engine, API on one node, clients on another', async () => {
  const redis = await startRedis();
  const a = await startNode({ redisUrl: redis.url, env });
  const b = await startNode({ redisUrl: redis.url, env });
  return {
    api: a,
    ws: b,
    async stop() {
      await Promise.all([a.stop(), b.stop()]);
      await redis.stop();
    },
  };
});

describe('HTTP API without PARLEY_API_KEY', () => {
  let node: RunningNode;
  beforeAll(async () => {
    node = await startNode();
  });
  afterAll(() => node.stop());

  it('is closed: 401 whatever key is sent, the rest of the server works', async () => {
    for (const key of [null, KEY, '']) {
      const r = await call(node, 'GET', '/api/presence', undefined, key);
      expect(r.status).toBe(401);
      expect(r.body).toMatchObject({ error: { code: 'UNAUTHORIZED' } });
      expect((r.body.error as { message: string }).message).toMatch(/PARLEY_API_KEY/);
    }
    expect((await fetch(`${node.url}/healthz`)).status).toBe(200);
  });
});

describe('readiness on Redis', () => {
  it('is 503 while Redis is down (liveness stays 200)', async () => {
    const redis = await startRedis();
    const node = await startNode({ redisUrl: redis.url });
    try {
      expect((await fetch(`${node.url}/readyz`)).status).toBe(200);
      await redis.kill();
      const down = await fetch(`${node.url}/readyz`);
      expect(down.status).toBe(503);
      expect(await down.json()).toEqual({ status: 'unavailable', engine: 'redis' });
      expect((await fetch(`${node.url}/healthz`)).status).toBe(200);
      // Back to 200 after Redis returns is covered by test/server/redis-faults.test.ts.
    } finally {
      await node.stop();
      await redis.stop();
    }
  });
});

describe('OpenAPI document', () => {
  let node: RunningNode;
  let doc: Record<string, unknown>;
  beforeAll(async () => {
    node = await startNode({ env });
    const r = await call(node, 'GET', '/api/openapi.json');
    expect(r.status).toBe(200);
    doc = r.body;
  });
  afterAll(() => node.stop());

  it('is a valid OpenAPI 3.1 document', async () => {
    expect(doc.openapi).toBe('3.1.0');
    const validator = new Validator();
    const res = await validator.validate(structuredClone(doc));
    expect(res.errors ?? []).toEqual([]);
    expect(res.valid).toBe(true);
  });

  it('documents every route of the contract, with the key as bearer security', () => {
    const paths = doc.paths as Record<
      string,
      Record<string, { security?: unknown[]; responses: Record<string, unknown> }>
    >;
    const ops = Object.entries(paths).flatMap(([p, methods]) =>
      Object.keys(methods).map((m) => `${m.toUpperCase()} ${p}`),
    );
    expect(ops.sort()).toEqual(
      [
        'POST /api/rooms/{room}/messages',
        'GET /api/rooms/{room}/messages',
        'PATCH /api/rooms/{room}/messages/{messageId}',
        'DELETE /api/rooms/{room}/messages/{messageId}',
        'GET /api/rooms/{room}/presence',
        'GET /api/users/{user}/presence',
        'GET /api/users/{user}/rooms',
        'GET /api/presence',
        'POST /api/users/{user}/disconnect',
        'PUT /api/rooms/{room}/bans/{user}',
        'DELETE /api/rooms/{room}/bans/{user}',
        'PUT /api/rooms/{room}/mutes/{user}',
        'DELETE /api/rooms/{room}/mutes/{user}',
        'PUT /api/rooms/{room}/settings',
        'GET /api/admin/overview',
        'GET /api/admin/history',
        'GET /api/openapi.json',
        'GET /healthz',
        'GET /readyz',
        'GET /metrics',
      ].sort(),
    );
    expect(doc.security).toEqual([{ apiKey: [] }]);
    expect(paths['/healthz']!.get!.security).toEqual([]);
    expect(Object.keys(paths['/api/rooms/{room}/messages']!.post!.responses)).toEqual(
      expect.arrayContaining(['201', '400', '401', '403', '413', '503']),
    );
  });

  it('matches what the server answers: each documented GET route answers a documented status', async () => {
    const paths = doc.paths as Record<string, Record<string, { responses: Record<string, unknown> }>>;
    for (const [template, methods] of Object.entries(paths)) {
      if (!methods.get) continue;
      const path = template.replace('{room}', 'lobby').replace('{user}', 'ann');
      const r = await fetch(`${node.url}${path}`, { headers: { Authorization: `Bearer ${KEY}` } });
      expect(Object.keys(methods.get.responses), `${template} answered ${r.status}`).toContain(String(r.status));
    }
  });
});
