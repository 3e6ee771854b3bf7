/**
 * Full-jitter exponential backoff ("Exponential Backoff And Jitter", AWS
 * architecture blog): the delay before attempt `n` is a uniformly random
 * number between 0 and `min(maxMs, baseMs * 2^n)`. Spreads the reconnects of
 * many clients after a server restart instead of having them arrive in waves.
 */

export interface BackoffOptions {
  /** Upper bound of the first delay, in ms. Default 500. */
  baseMs?: number;
  /** Cap of every delay, in ms. Default 30 000. */
  maxMs?: number;
  /** Source of randomness in [0, 1). Default `Math.random`. */
  random?: () => number;
}

/**
 * The delay before reconnect attempt `attempt` (0-based).
 *
 * @example
 * fullJitterDelay(0)                         // somewhere in [0, 500)
 * fullJitterDelay(3, { baseMs: 100 })        // somewhere in [0, 800)
 * fullJitterDelay(20, { maxMs: 10_000 })     // somewhere in [0, 10 000)
 */
export function fullJitterDelay(attempt: number, options: BackoffOptions = {}): number {
  const base = options.baseMs ?? 500;
  const max = options.maxMs ?? 30_000;
  const random = options.random ?? Math.random;
  const ceiling = Math.min(max, base * 2 ** Math.min(Math.max(0, attempt), 30));
  return Math.floor(random() * ceiling);
}

/**
 * Counts attempts and hands out full-jitter delays; `reset()` after a success.
 *
 * @example
 * const backoff = new Backoff({ baseMs: 250, maxMs: 5000 });
 * setTimeout(retry, backoff.next()); // 0..250 ms, then 0..500, 0..1000, ...
 * backoff.reset();                   // after the connection is up again
 */
export class Backoff {
  private n = 0;
  constructor(private readonly options: BackoffOptions = {}) {}

  /**
   * The delay for the next attempt; increments the attempt counter.
   *
   * @example
   * const delay = backoff.next();
   */
  next(): number {
    return fullJitterDelay(this.n++, this.options);
  }

  /**
   * Attempts made since the last reset.
   *
   * @example
   * if (backoff.attempts > 10) showOfflineHint();
   */
  get attempts(): number {
    return this.n;
  }

  /**
   * Starts over from the smallest delay.
   *
   * @example
   * socket.onopen = () => backoff.reset();
   */
  reset(): void {
    this.n = 0;
  }
}
