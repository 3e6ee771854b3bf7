/** What the load generator's tasks share: IPC to the orchestrator, connecting many clients. */
import { connectClient, pool, type BenchClient, type Reply, type SystemKind } from '../lib/clients.js';
import type { LoadCommand, LoadEvent } from '../lib/types.js';

/** Resolves after `ms`. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Sends a phase event or the result to the orchestrator. */
export function emit(ev: LoadEvent): void {
  process.send?.(ev);
}

let commandWaiters: ((c: LoadCommand) => void)[] = [];
/** The next command from the orchestrator (release, killed) for the running task. */
export function nextCommand(): Promise<LoadCommand> {
  return new Promise((r) => commandWaiters.push(r));
}

/** Forgets the waiters of an earlier task (a new task starts). */
export function resetCommands(): void {
  commandWaiters = [];
}

/** Hands a command from the orchestrator to whoever waits for one. */
export function deliverCommand(c: LoadCommand): void {
  const waiters = commandWaiters;
  commandWaiters = [];
  for (const w of waiters) w(c);
}

export const CONNECT_CONCURRENCY = 64;
export const REQUEST_CONCURRENCY = 256;

/** How connectAll opens its clients. */
export interface ConnectOptions {
  /** Connects in flight at once (default CONNECT_CONCURRENCY). */
  window?: number;
  /** Called for every failed attempt (refused, reset, timed out), retried ones included. */
  onFailedAttempt?: () => void;
}

/** Opens a client per user (port i % ports for the i-th), 3 tries each; null where all failed. */
export async function connectAll(
  kind: SystemKind,
  ports: number[],
  users: string[],
  errors: string[],
  opts: ConnectOptions = {},
): Promise<(BenchClient | null)[]> {
  return pool(users, opts.window ?? CONNECT_CONCURRENCY, async (user, i) => {
    const port = ports[i % ports.length] as number;
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        return await connectClient(kind, port, user);
      } catch (e) {
        opts.onFailedAttempt?.();
        if (attempt === 2) {
          if (errors.length < 10) errors.push(`connect ${user}: ${(e as Error).message}`);
          return null;
        }
        await sleep(100);
      }
    }
    return null;
  });
}

/** The error code of a failed reply. */
export function errCode(r: Reply): string {
  return r.error?.code ?? 'UNKNOWN';
}

/** Closes every open client. */
export function closeAll(clients: (BenchClient | null)[]): void {
  for (const c of clients) c?.close();
}

/** A presence frame as the presence and kill tasks read it. */
export interface PresenceFrame {
  type?: string;
  room?: string;
  event?: string;
  member?: { user?: string; status?: string; text?: string };
}

/** A send more than this late is skipped rather than sent in a burst (the generator fell behind). */
export const LAG_LIMIT_MS = 100;

/**
 * The rooms' paced sends, one room every `interval` ms, phases staggered:
 * the schedule of the fan-out and churn loads.
 */
export class RoomPacer {
  private readonly next: number[];

  constructor(
    rooms: number,
    private readonly interval: number,
    start: number,
  ) {
    this.next = Array.from({ length: rooms }, (_, r) => start + (r / rooms) * interval);
  }

  /** Calls `due(r, late)` for every send of every room due by `now` (`late`: over LAG_LIMIT_MS behind: skip it). */
  run(now: number, due: (room: number, late: boolean) => void): void {
    for (let r = 0; r < this.next.length; r++) {
      let at = this.next[r]!;
      while (at <= now) {
        due(r, now - at > LAG_LIMIT_MS);
        at += this.interval;
      }
      this.next[r] = at;
    }
  }
}
