/**
 * The soak benchmark's arithmetic (a wrong figure there would pass a leak):
 * the whole-run latency histogram, growth and least-squares slope after the
 * warm-up, and the per-map check that catches a map that keeps growing.
 */
import { describe, expect, it } from 'vitest';
import { LogHistogram } from '../bench/load/churn.js';
import { latencyStats, type ChurnWindow } from '../bench/lib/types.js';
import { summarize, type SoakSample } from '../bench/scenarios/soak.js';

const MB = 2 ** 20;

function window(index: number): ChurnWindow {
  return {
    index,
    atMs: index * 10_000,
    windowMs: 10_000,
    sent: 0,
    sendErrors: 0,
    delivered: 0,
    recovered: 0,
    latencyMs: latencyStats([]),
    reconnects: 0,
    notRecovered: 0,
    reconnectErrors: 0,
    unexpectedCloses: 0,
    rejoinMs: latencyStats([]),
    open: [0, 0],
    skipped: 0,
    loadgenRss: 0,
  };
}

/** Samples every 10 s for `minutes`; each series given as a function of minutes. */
function samples(
  minutes: number,
  f: { rss: (m: number) => number; redis: (m: number) => number; state: (m: number) => Record<string, number> },
): SoakSample[] {
  const out: SoakSample[] = [];
  for (let i = 0; i <= minutes * 6; i++) {
    const m = i / 6;
    out.push({
      index: i,
      atSec: i * 10,
      nodes: [{ rss: f.rss(m) * MB, state: f.state(m) }],
      redis: { usedMemory: f.redis(m) * MB, usedMemoryRss: 10 * MB, processRss: 12 * MB, keys: 100 },
      window: window(i),
    });
  }
  return out;
}

describe('soak summary', () => {
  it('measures growth from the warm-up value to the end, and the slope over minutes 2..end', () => {
    // RSS: a climb during the warm-up, then +1 MB/min; Redis flat after the warm-up.
    const s = samples(10, {
      rss: (m) => (m < 2 ? 50 * m : 100 + (m - 2)),
      redis: (m) => (m < 2 ? m : 2),
      state: () => ({ 'sessions.connections': 1000 }),
    });
    const { growth } = summarize(s, 120, { churnPerSec: 20, rooms: 50 });
    const rss = growth.find((g) => g.series === 'node 1 RSS')!;
    expect(rss.at2).toBeCloseTo(100, 6);
    expect(rss.end).toBeCloseTo(108, 6);
    expect(rss.growthPct).toBeCloseTo(8, 6);
    expect(rss.slopePerMin).toBeCloseTo(1, 6);
    expect(rss.verdict).toBe('FAIL');
    const redis = growth.find((g) => g.series === 'Redis used_memory')!;
    expect(redis.growthPct).toBeCloseTo(0, 6);
    expect(redis.slopePerMin).toBeCloseTo(0, 6);
    expect(redis.verdict).toBe('PASS');
    expect(growth.find((g) => g.series === 'Redis used_memory_rss')!.verdict).toBe('info');
    // A run too short for the streams to fill: Redis is reported, not judged.
    const short = summarize(s, 120, { churnPerSec: 20, rooms: 50 }, false).growth;
    expect(short.find((g) => g.series === 'Redis used_memory')!.verdict).toBe('info');
  });

  it('calls a map flat when it comes back within churn noise, and a map that keeps growing MOVED', () => {
    const s = samples(20, {
      rss: () => 100,
      redis: () => 2,
      state: (m) => ({
        // Churn noise around 1,000; a flush queue between 0 and the room count; a leak of 20 per minute.
        'sessions.connections': 1000 + (Math.round(m * 6) % 3) * 5,
        'redisMemberships.pendingTouches': Math.round(m * 6) % 2 === 0 ? 50 : 0,
        'leaky.entries': Math.round(20 * m),
      }),
    });
    const { maps } = summarize(s, 120, { churnPerSec: 20, rooms: 50 });
    const by = (name: string) => maps.find((x) => x.map === name)!;
    expect(by('sessions.connections').flat).toBe(true);
    expect(by('redisMemberships.pendingTouches').flat).toBe(true);
    const leak = by('leaky.entries');
    expect(leak.flat).toBe(false);
    expect(leak.at2).toBe(40);
    expect(leak.last).toBe(400);
    expect(leak.slopePerMin).toBeCloseTo(20, 0);
  });
});

describe('soak latency histogram', () => {
  it('gives percentiles within its 2% bucket width', () => {
    const h = new LogHistogram();
    for (let v = 1; v <= 1000; v++) h.add(v);
    const st = h.stats();
    expect(st.count).toBe(1000);
    expect(st.p50 / 500).toBeGreaterThan(0.98);
    expect(st.p50 / 500).toBeLessThan(1.03);
    expect(st.p99 / 990).toBeGreaterThan(0.98);
    expect(st.p99 / 990).toBeLessThan(1.03);
    expect(st.max).toBe(1000);
    expect(new LogHistogram().stats().count).toBe(0);
  });
});
