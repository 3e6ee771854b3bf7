/**
 * Webhooks end to end with a real local receiver that can fail (500), hang
 * (no answer: the answer timeout and the backoff are configured short) and
 * recover: signature, content type, event shapes, stable ids across
 * retries, order per room, presence events, metrics. Memory engine.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Message } from '../../src/protocol/frames.js';
import { waitFor } from '../support/ports.js';
import { startNode, type RunningNode } from '../support/server.js';
import { WebhookReceiver } from '../support/webhook-receiver.js';

const SECRET = 'whsec-test';
const KEY = 'wh-api-key';
let n = 0;
const uniq = (p: string): string => `${p}-${++n}-${Math.random().toString(36).slice(2, 7)}`;

/** Short timeouts so retries happen within a test. */
export const FAST_WEBHOOKS = {
  PARLEY_WEBHOOK_SECRET: SECRET,
  PARLEY_WEBHOOK_TIMEOUT_MS: '300',
  PARLEY_WEBHOOK_RETRY_BASE_MS: '50',
  PARLEY_WEBHOOK_RETRY_MAX_MS: '200',
  PARLEY_WEBHOOK_POLL_MS: '50',
};

describe('webhooks (memory engine)', () => {
  let receiver: WebhookReceiver;
  let node: RunningNode;

  beforeAll(async () => {
    receiver = new WebhookReceiver(SECRET);
    const url = await receiver.start();
    node = await startNode({ env: { ...FAST_WEBHOOKS, PARLEY_WEBHOOK_URL: url, PARLEY_API_KEY: KEY } });
  });
  afterAll(async () => {
    await node?.stop();
    await receiver?.stop();
  });

  it('POSTs signed JSON for messages and presence transitions', async () => {
    receiver.mode = 'ok';
    const room = uniq('room');
    const ann = uniq('ann');
    const a = await node.client(ann);
    const online = await waitFor(() =>
      receiver.delivered().find((r) => r.event.type === 'user.online' && r.event.user === ann),
    );
    expect(Object.keys(online.event).sort()).toEqual(['id', 'ts', 'type', 'user']);
    await a.ok({ type: 'join', room });
    const { message } = await a.ok<{ message: Message }>({ type: 'send', room, text: 'hello hooks' });
    const created = await waitFor(() =>
      receiver.delivered().find((r) => r.event.type === 'message.created' && r.event.message?.id === message.id),
    );
    expect(created.event).toEqual({
      id: created.event.id,
      type: 'message.created',
      ts: created.event.ts,
      room,
      message,
    });
    expect(created.event.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.signed).toBe(true);
    expect(created.headers['content-type']).toBe('application/json');
    expect(created.headers['x-parley-signature']).toMatch(/^sha256=[0-9a-f]{64}$/);
    // Edits and deletes, with the message's new state; reactions are no webhook events.
    await a.ok({ type: 'react', room, messageId: message.id, emoji: ':+1:' });
    const edited = await a.ok<{ message: Message }>({ type: 'edit', room, messageId: message.id, text: 'edited' });
    const deleted = await a.ok<{ message: Message }>({ type: 'delete', room, messageId: message.id });
    const ofMessage = (): Array<{ type: string; message?: unknown }> =>
      receiver
        .delivered()
        .filter((r) => r.event.room === room && r.event.message?.id === message.id)
        .map((r) => ({ type: r.event.type, message: r.event.message }));
    await waitFor(() => ofMessage().length >= 3);
    expect(ofMessage()).toEqual([
      { type: 'message.created', message },
      { type: 'message.edited', message: edited.message },
      { type: 'message.deleted', message: deleted.message },
    ]);
    // The HTTP API's messages are events too.
    const res = await fetch(`${node.url}/api/rooms/${room}/messages`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ from: 'server', text: 'from the backend' }),
    });
    expect(res.status).toBe(201);
    await waitFor(() => receiver.delivered().find((r) => r.event.message?.text === 'from the backend'));
    a.close();
    const offline = await waitFor(() =>
      receiver.delivered().find((r) => r.event.type === 'user.offline' && r.event.user === ann),
    );
    expect(offline.signed).toBe(true);
    // A second device does not make the user "online" twice.
    const b = uniq('bob');
    const b1 = await node.client(b);
    const b2 = await node.client(b);
    await waitFor(() => receiver.delivered().find((r) => r.event.type === 'user.online' && r.event.user === b));
    b2.close();
    await b2.closed;
    b1.close();
    await waitFor(() => receiver.delivered().find((r) => r.event.type === 'user.offline' && r.event.user === b));
    expect(receiver.requests.filter((r) => r.event.type === 'user.online' && r.event.user === b)).toHaveLength(1);
    expect(receiver.delivered().filter((r) => r.event.type === 'user.offline' && r.event.user === b)).toHaveLength(1);
  });

  it('retries failures and unanswered requests with the same id, in order per room, until the receiver recovers', async () => {
    const rooms = [uniq('r'), uniq('r'), uniq('r')];
    const a = await node.client(uniq('sender'));
    for (const r of rooms) await a.ok({ type: 'join', room: r });
    const start = receiver.requests.length;
    receiver.mode = 'fail';
    const sent: Record<string, string[]> = {};
    for (let i = 0; i < 4; i++) {
      for (const r of rooms) {
        const { message } = await a.ok<{ message: Message }>({ type: 'send', room: r, text: `${r} #${i}` });
        (sent[r] ??= []).push(message.id);
      }
    }
    await waitFor(() => receiver.requests.slice(start).filter((x) => x.answered === 'fail').length >= 6);
    receiver.mode = 'hang';
    const hangAt = receiver.requests.length;
    await waitFor(() => receiver.requests.slice(hangAt).length >= 2, 10_000, 'requests after timeouts');
    receiver.mode = 'ok';
    for (const r of rooms) {
      await waitFor(
        () => receiver.delivered().filter((x) => x.event.room === r && x.event.type === 'message.created').length >= 4,
        15_000,
        `room ${r} delivered`,
      );
    }
    for (const r of rooms) {
      const got = receiver.delivered().filter((x) => x.event.room === r && x.event.type === 'message.created');
      expect(got.map((x) => x.event.message!.id)).toEqual(sent[r]);
    }
    // Every attempt of one message carried the same event id and body.
    const attempts = receiver.requests.slice(start).filter((x) => x.event.type === 'message.created');
    const byMessage = new Map<string, Set<string>>();
    for (const x of attempts) {
      const key = `${x.event.room}/${x.event.message!.id}`; // message ids are unique per room only
      const ids = byMessage.get(key) ?? new Set<string>();
      ids.add(x.event.id);
      byMessage.set(key, ids);
    }
    for (const ids of byMessage.values()) expect(ids.size).toBe(1);
    expect(attempts.some((x) => x.answered === 'fail')).toBe(true);
    expect(attempts.some((x) => x.answered === 'hang')).toBe(true);
    const metrics = await (await fetch(`${node.url}/metrics`)).text();
    for (const outcome of ['success', 'http_error', 'timeout']) {
      const m = new RegExp(`parley_webhook_deliveries_total\\{outcome="${outcome}"\\} (\\d+)`).exec(metrics);
      expect(Number(m?.[1]), outcome).toBeGreaterThan(0);
    }
    expect(metrics).toMatch(/parley_webhook_queue_depth \d+/);
    expect(metrics).toMatch(/parley_webhook_oldest_undelivered_seconds [\d.e+-]+/);
    a.close();
  });
});
