/**
 * Local fan-out and the join buffer, against the memory engine with Session
 * objects over recording connections (no sockets needed): one member whose
 * write throws does not cost the others the event; presence and typing
 * events are held with messages until the join reply is out; the buffer of a
 * slow join is bounded (4008, as for a slow reader).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { MemoryEngine } from '../../src/engine/memory/memory-engine.js';
import { Fanout } from '../../src/features/fanout.js';
import { createLogger } from '../../src/logger.js';
import { Metrics } from '../../src/metrics.js';
import { Session, type Conn, type PreparedFrame, type RoomState } from '../../src/session/session.js';
import { prepareFrame } from '../../src/transport/ws-frame.js';

class RecordingConn implements Conn {
  readonly frames: string[] = [];
  closed: { code: number; reason: string } | null = null;
  bufferedAmount = 0;
  throws = false;
  send(data: Buffer | string): void {
    this.frames.push(data.toString());
  }
  sendPrepared(frame: PreparedFrame): void {
    if (this.throws) throw new Error('socket exploded');
    this.frames.push(frame.payload.toString());
  }
  close(code: number, reason: string): void {
    this.closed = { code, reason };
  }
  terminate(): void {}
}

const config = loadConfig({ PARLEY_MAX_BUFFERED_BYTES: '4096', LOG_LEVEL: 'silent' });
const engines: MemoryEngine[] = [];
afterEach(async () => {
  await Promise.all(engines.splice(0).map((e) => e.close()));
});

let n = 0;
async function setup() {
  const engine = new MemoryEngine({ nodeId: `fanout-${++n}` });
  engines.push(engine);
  await engine.start();
  const metrics = new Metrics(false);
  const fanout = new Fanout(engine, metrics, createLogger('silent', 'test'), prepareFrame);
  const member = async (user: string, room: string, joining = false) => {
    const conn = new RecordingConn();
    const session = new Session(`c-${user}`, { user }, conn, config.limits, { onSlowConsumer: () => {} });
    const st: RoomState = { buffer: joining ? [] : null, floor: null, filtering: false };
    session.rooms.set(room, st);
    await fanout.add(session, room, st);
    return { conn, session, st };
  };
  return { engine, metrics, member };
}

describe('fan-out', () => {
  it("one member's throwing write does not make the rest of the room miss the event", async () => {
    const { engine, metrics, member } = await setup();
    const room = 'guard';
    const a = await member('a', room);
    const bad = await member('bad', room);
    const c = await member('c', room);
    bad.conn.throws = true;
    await engine.append({ room, from: 'a', text: 'hello' });
    await engine.publish(room, { kind: 'event', frame: '{"type":"typing","room":"guard","user":"a"}' });
    for (const ok of [a, c]) {
      expect(ok.conn.frames.map((f) => (JSON.parse(f) as { type: string }).type)).toEqual(['message', 'typing']);
    }
    // The failing member is closed (1011) at its first failure; nothing more is written to it.
    expect(bad.conn.closed?.code).toBe(1011);
    expect((await metrics.fanoutErrors.get()).values[0]?.value).toBe(1);
  });

  it('holds presence and typing events of a room being joined until the join is done, in arrival order', async () => {
    const { engine, member } = await setup();
    const room = 'held';
    const joining = await member('j', room, true);
    await engine.publish(room, {
      kind: 'event',
      frame: '{"type":"presence","room":"held","event":"join","member":{"user":"x","status":"online"}}',
    });
    await engine.append({ room, from: 'x', text: 'after the presence event' });
    await engine.publish(room, { kind: 'event', frame: '{"type":"typing","room":"held","user":"x"}' });
    expect(joining.conn.frames).toEqual([]); // nothing before the join reply
    joining.session.reply(1, { room });
    joining.session.flushRoom(room);
    expect(joining.conn.frames.map((f) => (JSON.parse(f) as { type: string }).type)).toEqual([
      'reply',
      'presence',
      'message',
      'typing',
    ]);
  });

  it('bounds the join buffer: a join held past maxBufferedBytes closes the connection as a slow consumer', async () => {
    const { engine, member } = await setup();
    const room = 'bounded';
    const joining = await member('j', room, true);
    const other = await member('o', room);
    const text = 'x'.repeat(1000);
    for (let i = 0; i < 10; i++) await engine.append({ room, from: 'o', text });
    expect(joining.conn.closed).toEqual({ code: 4008, reason: 'slow consumer' });
    expect(joining.st.buffer).toEqual([]); // dropped, not kept growing
    expect(other.conn.frames).toHaveLength(10);
  });
});
