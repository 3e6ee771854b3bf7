import { afterEach, describe, expect, it, vi } from 'vitest';
import { Backoff, fullJitterDelay } from '../../src/sdk/index.js';

/** A seeded generator (mulberry32): the same "random" sequence on every run. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

afterEach(() => vi.restoreAllMocks());

describe('full-jitter backoff', () => {
  it('draws each delay uniformly below min(cap, base * 2^attempt)', () => {
    expect(fullJitterDelay(0, { baseMs: 500, random: () => 0.999999 })).toBe(499);
    expect(fullJitterDelay(3, { baseMs: 100, random: () => 0.5 })).toBe(400);
    expect(fullJitterDelay(40, { baseMs: 100, maxMs: 5000, random: () => 0.999999 })).toBe(4999);
    expect(fullJitterDelay(5, { random: () => 0 })).toBe(0);
  });

  it('grows per attempt, stays under the cap, and starts over after reset()', () => {
    // The largest draw shows each attempt's ceiling exactly.
    const backoff = new Backoff({ baseMs: 100, maxMs: 1000, random: () => 0.999999 });
    expect(Array.from({ length: 6 }, () => backoff.next())).toEqual([99, 199, 399, 799, 999, 999]);
    expect(backoff.attempts).toBe(6);
    backoff.reset();
    expect(backoff.attempts).toBe(0);
    expect(backoff.next()).toBe(99);
  });

  it('uses Math.random by default', () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.25);
    expect(fullJitterDelay(2, { baseMs: 100 })).toBe(100);
    expect(new Backoff({ baseMs: 100 }).next()).toBe(25);
  });

  it('spreads clients out (it is not a fixed schedule)', () => {
    const random = seeded(42);
    const delays = Array.from({ length: 50 }, () => fullJitterDelay(6, { baseMs: 100, maxMs: 10_000, random }));
    expect(new Set(delays).size).toBeGreaterThan(30);
    for (const d of delays) expect(d).toBeLessThan(6400);
    // Both halves of the range are used.
    expect(delays.some((d) => d < 3200)).toBe(true);
    expect(delays.some((d) => d >= 3200)).toBe(true);
  });
});
