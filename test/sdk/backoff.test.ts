import { describe, expect, it } from 'vitest';
import { Backoff, fullJitterDelay } from '../../src/sdk/index.js';

describe('full-jitter backoff', () => {
  it('draws each delay uniformly below min(cap, base * 2^attempt)', () => {
    expect(fullJitterDelay(0, { baseMs: 500, random: () => 0.999999 })).toBe(499);
    expect(fullJitterDelay(3, { baseMs: 100, random: () => 0.5 })).toBe(400);
    expect(fullJitterDelay(40, { baseMs: 100, maxMs: 5000, random: () => 0.999999 })).toBe(4999);
    expect(fullJitterDelay(5, { random: () => 0 })).toBe(0);
  });

  it('grows per attempt, stays under the cap, and starts over after reset()', () => {
    const backoff = new Backoff({ baseMs: 100, maxMs: 1000 });
    const ceilings = [100, 200, 400, 800, 1000, 1000];
    for (const ceiling of ceilings) {
      const d = backoff.next();
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThan(ceiling);
    }
    expect(backoff.attempts).toBe(6);
    backoff.reset();
    expect(backoff.attempts).toBe(0);
    expect(backoff.next()).toBeLessThan(100);
  });

  it('spreads clients out (it is not a fixed schedule)', () => {
    const delays = new Set(Array.from({ length: 50 }, () => fullJitterDelay(6, { baseMs: 100, maxMs: 10_000 })));
    expect(delays.size).toBeGreaterThan(30);
  });
});
