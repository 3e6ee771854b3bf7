/**
 * Delivery of one webhook shard while this node holds its lease: reads the
 * shard in queue order, keeps one in-memory queue per partition (room or
 * user) and delivers each partition's events one after another, so a
 * partition's order holds while a failing event only holds back its own
 * partition. An event is acknowledged (removed from storage) after its
 * delivery; until then a takeover by another node delivers it again.
 */
import type { QueuedEvent, WebhookQueue } from '../../engine/webhook-queue.js';

/** What the worker needs from the feature (HTTP, backoff, metrics). */
export interface Delivery {
  /** One delivery attempt; true when the receiver answered 2xx. */
  attempt(ev: QueuedEvent): Promise<boolean>;
  /** Delay before retry number n (0-based). */
  backoffMs(n: number): number;
  /** True when the event is too old to retry any more. */
  expired(ev: QueuedEvent): boolean;
  dropped(ev: QueuedEvent): void;
  sleep(ms: number, signal: AbortSignal): Promise<unknown>;
  error(err: unknown): void;
  /**
   * False while this node cannot be sure it still holds its leases (the last
   * renewal is too old: e.g. the event loop or Redis stalled). Attempts wait
   * meanwhile, so a node whose lease may have passed to another does not
   * deliver alongside it (which would break the order).
   */
  leaseValid(): boolean;
  /** How long to wait before looking at leaseValid() again, ms. */
  fenceWaitMs: number;
}

/** Events read per storage call. */
const READ_BATCH = 200;

export class ShardWorker {
  private cursor: string | null = null;
  private readonly partitions = new Map<string, QueuedEvent[]>();
  private held = 0;
  private reading = false;
  private again = false;
  private readonly abort = new AbortController();
  private acks: string[] = [];
  private ackScheduled = false;

  constructor(
    readonly shard: number,
    private readonly queue: WebhookQueue,
    private readonly delivery: Delivery,
    private readonly buffer: number,
  ) {}

  get stopped(): boolean {
    return this.abort.signal.aborted;
  }

  /** Reads what was queued since the last read (a local enqueue or the poll timer calls it). */
  wake(): void {
    if (this.stopped) return;
    if (this.reading) {
      this.again = true;
      return;
    }
    void this.pump();
  }

  /** Stops at once; in-flight attempts finish but nothing more is acknowledged or started. */
  stop(): void {
    this.abort.abort();
  }

  private async pump(): Promise<void> {
    this.reading = true;
    try {
      do {
        this.again = false;
        while (!this.stopped && this.held < this.buffer) {
          const batch = await this.queue.read(this.shard, this.cursor, Math.min(READ_BATCH, this.buffer - this.held));
          if (this.stopped || batch.length === 0) break;
          for (const ev of batch) {
            this.cursor = ev.seq;
            this.held++;
            const q = this.partitions.get(ev.partition);
            if (q) q.push(ev);
            else {
              this.partitions.set(ev.partition, [ev]);
              void this.run(ev.partition);
            }
          }
        }
      } while (this.again && !this.stopped);
    } catch (err) {
      this.delivery.error(err);
    } finally {
      this.reading = false;
    }
  }

  /** Delivers a partition's events in order until its queue is empty. */
  private async run(partition: string): Promise<void> {
    const q = this.partitions.get(partition)!;
    try {
      while (q.length > 0 && !this.stopped) {
        const ev = q[0]!;
        if (!(await this.deliver(ev))) return; // stopped
        q.shift();
        this.held--;
        this.ack(ev.seq);
        if (this.held === this.buffer / 2) this.wake();
      }
    } finally {
      if (q.length === 0 || this.stopped) this.partitions.delete(partition);
    }
  }

  /** Attempts until delivered or expired; false when the worker stopped first. */
  private async deliver(ev: QueuedEvent): Promise<boolean> {
    for (let n = 0; ; n++) {
      if (this.stopped) return false;
      if (!this.delivery.leaseValid()) {
        n--; // not an attempt
        try {
          await this.delivery.sleep(this.delivery.fenceWaitMs, this.abort.signal);
        } catch {
          return false;
        }
        continue;
      }
      if (this.delivery.expired(ev)) {
        this.delivery.dropped(ev);
        return true;
      }
      if (await this.delivery.attempt(ev)) return true;
      try {
        await this.delivery.sleep(this.delivery.backoffMs(n), this.abort.signal);
      } catch {
        return false; // aborted
      }
    }
  }

  /** Acknowledgements of one event-loop turn go out in one call. */
  private ack(seq: string): void {
    this.acks.push(seq);
    if (this.ackScheduled) return;
    this.ackScheduled = true;
    setImmediate(() => {
      this.ackScheduled = false;
      const seqs = this.acks;
      this.acks = [];
      this.queue.ack(this.shard, seqs).catch((err: unknown) => this.delivery.error(err));
    });
  }

  /** Events held in memory (read, not delivered), their partitions, acks not yet written. */
  stateSizes(): { held: number; partitions: number; acks: number } {
    return { held: this.held, partitions: this.partitions.size, acks: this.acks.length };
  }
}
