/**
 * /metrics is exposed in Prometheus text format and its parley_* series
 * count what happened: a short chat session, a rate-limit breach, a slow
 * consumer, storage latency on both engines, process metrics.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestClient } from '../support/client.js';
import { startRedis, type RedisProcess } from '../support/redis.js';
import { startNode, type RunningNode } from '../support/server.js';

const KEY = 'metrics-key';

/** Parses Prometheus text into `name{labels}` → value (labels as written by prom-client). */
function parse(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

async function scrape(node: RunningNode): Promise<Map<string, number>> {
  const res = await fetch(`${node.url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parse(await res.text());
}

/** The value of a series; labels in any order. Missing series: undefined. */
function value(m: Map<string, number>, name: string, labels: Record<string, string> = {}): number | undefined {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const [key, v] of m) {
    const brace = key.indexOf('{');
    const n = brace < 0 ? key : key.slice(0, brace);
    if (n !== name) continue;
    const have = brace < 0 ? [] : key.slice(brace + 1, -1).split(',');
    if (want.length === have.length && want.every((w) => have.includes(w))) return v;
  }
  return undefined;
}

describe('metrics on the memory engine', () => {
  let node: RunningNode;
  const clients: TestClient[] = [];
  beforeAll(async () => {
    node = await startNode({
      env: {
        PARLEY_API_KEY: KEY,
        PARLEY_SEND_RATE: '1',
        PARLEY_SEND_BURST: '3',
        PARLEY_MAX_BUFFERED_BYTES: '1024',
        PARLEY_SLOW_CONSUMER_GRACE_MS: '300',
        PARLEY_MAX_TEXT_CHARS: '60000',
      },
    });
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await node.stop();
  });

  it('starts at zero with every series present, process metrics included', async () => {
    const m = await scrape(node);
    for (const name of [
      'parley_connections',
      'parley_connections_total',
      'parley_joins_total',
      'parley_messages_in_total',
      'parley_messages_out_total',
      'parley_fanout_seconds_count',
      'parley_slow_consumer_closes_total',
      'parley_rooms_local',
      'parley_bus_resyncs_total',
      'parley_bus_gap_filled_total',
      'parley_bus_dropped_total',
      'parley_bus_listener_errors_total',
    ]) {
      expect(value(m, name), name).toBe(0);
    }
    expect(value(m, 'parley_limit_breaches_total', { limit: 'send_rate' })).toBe(0);
    expect(value(m, 'parley_presence_events_total', { event: 'join' })).toBe(0);
    expect(
      value(m, 'parley_node_info', { node: node.node.config.nodeId, engine: 'memory', redis_mode: 'memory' }),
    ).toBe(1);
    expect(value(m, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(value(m, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(value(m, 'nodejs_eventloop_lag_seconds')).toBeGreaterThanOrEqual(0);
  });

  it('counts a chat session', async () => {
    const ann = await node.client('ann', 'Ann');
    const bob = await node.client('bob');
    clients.push(ann, bob);
    await ann.ok({ type: 'join', room: 'general' });
    await bob.ok({ type: 'join', room: 'general' });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await ann.ok<{ message: { id: string } }>({
        type: 'send',
        room: 'general',
        text: `hello ${i}`,
        clientMsgId: `c${i}`,
      });
      ids.push(r.message.id);
    }
    // The bucket (burst 3) is empty: one send_rate breach.
    const limited = await ann.request({ type: 'send', room: 'general', text: 'hello 3', clientMsgId: 'c3' });
    expect(limited).toMatchObject({ ok: false, error: { code: 'RATE_LIMITED' } });
    // A retry of the same clientMsgId is not a new message (the HTTP API has no rate limit: the dedupe path runs).
    const retry = await fetch(`${node.url}/api/rooms/general/messages`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ from: 'ann', text: 'hello 0', clientMsgId: 'c0' }),
    });
    expect(retry.ok).toBe(true);
    expect(((await retry.json()) as { message: { id: string } }).message.id).toBe(ids[0]);
    await bob.ok({ type: 'status', status: 'away' });
    await bob.ok({ type: 'typing', room: 'general' });
    await bob.waitFor((f) => f.type === 'message' && (f.message as { text: string }).text === 'hello 2');

    let m = await scrape(node);
    expect(value(m, 'parley_connections')).toBe(2);
    expect(value(m, 'parley_connections_total')).toBe(2);
    expect(value(m, 'parley_joins_total')).toBe(2);
    expect(value(m, 'parley_messages_in_total')).toBe(3);
    expect(value(m, 'parley_messages_out_total')).toBe(6); // 3 messages x 2 members
    expect(value(m, 'parley_rooms_local')).toBe(1);
    expect(value(m, 'parley_limit_breaches_total', { limit: 'send_rate' })).toBe(1);
    expect(value(m, 'parley_command_errors_total', { code: 'RATE_LIMITED' })).toBe(1);
    expect(value(m, 'parley_presence_events_total', { event: 'join' })).toBe(2);
    expect(value(m, 'parley_presence_events_total', { event: 'update' })).toBe(1);
    // One bus event per message, presence event and typing event, each timed once.
    expect(value(m, 'parley_fanout_seconds_count')).toBeGreaterThanOrEqual(3 + 2 + 1);
    expect(value(m, 'parley_fanout_seconds_bucket', { le: '+Inf' })).toBe(value(m, 'parley_fanout_seconds_count'));
    // The retry reaches the engine (which answers with the first message): 4 appends, 3 messages in.
    expect(value(m, 'parley_engine_command_seconds_count', { engine: 'memory', op: 'append' })).toBe(4);
    expect(value(m, 'parley_engine_command_seconds_count', { engine: 'memory', op: 'presence.joinRoom' })).toBe(2);
    expect(value(m, 'parley_engine_command_seconds_count', { engine: 'memory', op: 'subscribe' })).toBe(1);

    bob.close();
    await bob.closed;
    await expect.poll(async () => value(await scrape(node), 'parley_connections'), { timeout: 5000 }).toBe(1);
    m = await scrape(node);
    expect(value(m, 'parley_presence_events_total', { event: 'leave' })).toBe(1);
    expect(value(m, 'parley_http_requests_total', { route: '/metrics', status: '200' })).toBeGreaterThanOrEqual(2);
  });

  it('counts HTTP API calls and body-size breaches', async () => {
    const headers = { Authorization: `Bearer ${KEY}` };
    const before = await scrape(node);
    const ok = await fetch(`${node.url}/api/rooms/general/messages`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ text: 'from the API', from: 'bot' }),
    });
    expect(ok.status).toBe(201);
    expect((await fetch(`${node.url}/api/presence`)).status).toBe(401);
    const big = await fetch(`${node.url}/api/rooms/general/messages`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ text: 'x'.repeat(70 * 1024), from: 'bot' }),
    });
    expect(big.status).toBe(413);
    const m = await scrape(node);
    expect(value(m, 'parley_messages_in_total')).toBe(value(before, 'parley_messages_in_total')! + 1);
    const created = { route: '/api/rooms/{room}/messages', status: '201' };
    expect(value(m, 'parley_http_requests_total', created)).toBe(
      (value(before, 'parley_http_requests_total', created) ?? 0) + 1,
    );
    expect(value(m, 'parley_http_requests_total', { route: '/api/rooms/{room}/messages', status: '413' })).toBe(1);
    expect(value(m, 'parley_http_requests_total', { route: '/api/presence', status: '401' })).toBe(1);
    expect(value(m, 'parley_limit_breaches_total', { limit: 'http_body_size' })).toBe(1);
  });

  it('counts a slow-consumer close', async () => {
    const slow = await node.client('slow');
    clients.push(slow);
    await slow.ok({ type: 'join', room: 'flood' });
    // Stop reading: the server's unsent bytes for it grow past 1 KiB once the kernel buffers are full.
    (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const text = 'y'.repeat(50_000);
    let closes = 0;
    for (let i = 0; i < 600 && closes === 0; i++) {
      const r = await fetch(`${node.url}/api/rooms/flood/messages`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${KEY}` },
        body: JSON.stringify({ text, from: 'flooder' }),
      });
      expect(r.status).toBe(201);
      if (i % 20 === 19) closes = value(await scrape(node), 'parley_slow_consumer_closes_total') ?? 0;
    }
    expect(closes).toBe(1);
    // The socket is dropped after the grace time even though the client never reads the close.
    await expect.poll(async () => value(await scrape(node), 'parley_connections'), { timeout: 5000 }).toBe(1);
  });
});

describe('metrics on the Redis engine', () => {
  let redis: RedisProcess;
  let node: RunningNode;
  beforeAll(async () => {
    redis = await startRedis();
    node = await startNode({ redisUrl: redis.url });
  });
  afterAll(async () => {
    await node.stop();
    await redis.stop();
  });

  it('times Redis commands and counts failures while Redis is down', async () => {
    const ann = await node.client('ann-r');
    await ann.ok({ type: 'join', room: 'r' });
    await ann.ok({ type: 'send', room: 'r', text: 'one' });
    await ann.ok({ type: 'history', room: 'r' });
    let m = await scrape(node);
    expect(value(m, 'parley_node_info', { node: node.node.config.nodeId, engine: 'redis', redis_mode: 'single' })).toBe(
      1,
    );
    expect(value(m, 'parley_engine_command_seconds_count', { engine: 'redis', op: 'append' })).toBe(1);
    expect(value(m, 'parley_engine_command_seconds_count', { engine: 'redis', op: 'history' })).toBe(1);
    expect(value(m, 'parley_engine_command_seconds_sum', { engine: 'redis', op: 'append' })).toBeGreaterThan(0);
    expect(value(m, 'parley_engine_command_seconds_count', { engine: 'redis', op: 'presence.connect' })).toBe(1);

    await redis.kill();
    const r = await ann.request({ type: 'send', room: 'r', text: 'two' }, 10_000);
    expect(r).toMatchObject({ ok: false, error: { code: 'UNAVAILABLE' } });
    m = await scrape(node);
    expect(value(m, 'parley_engine_command_errors_total', { engine: 'redis', op: 'append', code: 'UNAVAILABLE' })).toBe(
      1,
    );
    expect(value(m, 'parley_engine_command_seconds_count', { engine: 'redis', op: 'append' })).toBe(2);
    expect(value(m, 'parley_bus_resyncs_total')).toBe(0);

    // Back: the bus resubscribes (a resync) and its counters reach /metrics.
    await redis.restart();
    await expect
      .poll(async () => value(await scrape(node), 'parley_bus_resyncs_total'), { timeout: 20_000, interval: 100 })
      .toBeGreaterThanOrEqual(1);
    m = await scrape(node);
    expect(value(m, 'parley_bus_gap_filled_total')).toBeGreaterThanOrEqual(0);
    expect(value(m, 'parley_bus_dropped_total')).toBeGreaterThanOrEqual(0);
    ann.close();
  });
});
