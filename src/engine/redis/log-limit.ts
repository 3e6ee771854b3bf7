/**
 * Rate-limited logging of Redis connection errors. While a primary is down
 * ioredis emits about 100 `error` events a second (every reconnect attempt
 * of every connection); one line per source every few seconds, with the
 * number of errors it stands for, says the same without flooding the log.
 */
import type { EngineLogger } from './redis-engine.js';
import type { StateSizes } from '../../state-sizes.js';

interface Source {
  last: number;
  suppressed: number;
}

export class ErrorLogLimiter {
  private readonly sources = new Map<string, Source>();

  /**
   * @param log where the lines go (none: silent)
   * @param intervalMs at most one line per source per interval
   * @param now the clock (tests inject one)
   */
  constructor(
    private readonly log: EngineLogger | undefined,
    private readonly intervalMs = 5000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Logs the error unless this source logged one less than intervalMs ago (then it is only counted). */
  report(source: string, err: unknown, context: string): void {
    const t = this.now();
    const s = this.sources.get(source) ?? { last: -Infinity, suppressed: 0 };
    this.sources.set(source, s);
    if (t - s.last < this.intervalMs) {
      s.suppressed++;
      return;
    }
    const message = err instanceof Error ? err.message : String(err);
    const repeated = s.suppressed;
    s.last = t;
    s.suppressed = 0;
    this.log?.warn(
      repeated > 0 ? { err: message, source, context, suppressed: repeated } : { err: message, source, context },
      'redis engine: error',
    );
  }

  /** Counts an error that needs no line of its own (it goes into the next line's `suppressed`). */
  count(source: string): void {
    const s = this.sources.get(source);
    if (s) s.suppressed++;
    else this.sources.set(source, { last: -Infinity, suppressed: 1 });
  }

  /** Error sources seen (parley_state_entries). */
  stateSizes(): StateSizes {
    return { 'redisErrors.sources': this.sources.size };
  }
}
