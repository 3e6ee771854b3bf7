/**
 * The rate limit on Redis connection error logs: while a primary is down
 * ioredis emits about 100 errors a second; one line per source per interval
 * says how many it stands for.
 */
import { describe, expect, it } from 'vitest';
import { ErrorLogLimiter } from '../../src/engine/redis/log-limit.js';

function recorder(): { lines: Array<{ obj: Record<string, unknown>; msg: string }>; log: never } {
  const lines: Array<{ obj: Record<string, unknown>; msg: string }> = [];
  const push = (obj: object, msg: string): void => {
    lines.push({ obj: obj as Record<string, unknown>, msg });
  };
  return { lines, log: { info: push, warn: push, error: push } as never };
}

describe('ErrorLogLimiter', () => {
  it('logs one line per source per interval and counts the rest into the next line', () => {
    let now = 0;
    const { lines, log } = recorder();
    const limiter = new ErrorLogLimiter(log, 5000, () => now);
    // An outage: 100 errors a second for 12 s from one source, a few from another.
    for (let t = 0; t < 12_000; t += 10) {
      now = t;
      limiter.report('cmd', new Error('Connection is closed.'), 'connection error');
      if (t % 1000 === 0) limiter.report('bus', new Error('CLUSTERDOWN'), 'bus resync');
    }
    const cmd = lines.filter((l) => l.obj.source === 'cmd');
    const bus = lines.filter((l) => l.obj.source === 'bus');
    expect(cmd).toHaveLength(3); // at 0, 5000, 10000 ms
    expect(bus).toHaveLength(3);
    expect(cmd[0]!.obj.suppressed).toBeUndefined();
    expect(cmd[1]!.obj.suppressed).toBe(499);
    expect(cmd[2]!.obj.suppressed).toBe(499);
    expect(cmd[1]!.obj.err).toBe('Connection is closed.');
  });

  it('counts errors that need no line of their own into the next one', () => {
    let now = 0;
    const { lines, log } = recorder();
    const limiter = new ErrorLogLimiter(log, 1000, () => now);
    for (let i = 0; i < 7; i++) limiter.count('sub');
    now = 10;
    limiter.report('sub', new Error('x'), 'connection error');
    expect(lines).toHaveLength(1);
    expect(lines[0]!.obj.suppressed).toBe(7);
  });
});
