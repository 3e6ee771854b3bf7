/** The orchestrator's side of the load generator process (bench/loadgen.ts). */
import type { ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { BENCH_DIST } from './nodes.js';
import { sleep, spawnTracked, stopChild } from './proc.js';
import type { LoadEvent, LoadTask } from './types.js';

/** The load generator process (dist/bench/loadgen.js): one task at a time over IPC. */
export class LoadGen {
  private readonly child: ChildProcess;
  private listener: ((e: LoadEvent) => void) | null = null;

  constructor() {
    // BENCH_LOADGEN_NODE_OPTIONS: extra node flags for the load generator (e.g. "--cpu-prof --cpu-prof-dir=/tmp/p").
    const extra = (process.env.BENCH_LOADGEN_NODE_OPTIONS ?? '').split(' ').filter(Boolean);
    this.child = spawnTracked(process.execPath, [...extra, resolve(BENCH_DIST, 'loadgen.js')], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.child.on('message', (m: unknown) => this.listener?.(m as LoadEvent));
    this.child.on('exit', (code, sig) => {
      this.listener?.({ event: 'failed', error: `load generator exited (${code ?? sig})` });
    });
  }

  get pid(): number {
    return this.child.pid as number;
  }

  run<R>(
    task: LoadTask,
    on: Partial<Record<'ready' | 'measure-start' | 'measure-end' | 'sample', (e: LoadEvent) => void>> = {},
    timeoutMs = 300_000,
  ): Promise<R> {
    return new Promise((resolvePromise, reject) => {
      const timer = setTimeout(() => {
        this.listener = null;
        reject(new Error(`load generator task ${task.task} timed out`));
      }, timeoutMs);
      this.listener = (e) => {
        if (e.event === 'result') {
          clearTimeout(timer);
          this.listener = null;
          resolvePromise(e.result as R);
        } else if (e.event === 'failed') {
          clearTimeout(timer);
          this.listener = null;
          reject(new Error(e.error));
        } else {
          on[e.event]?.(e);
        }
      };
      this.child.send(task);
    });
  }

  command(c: { cmd: 'release' } | { cmd: 'killed'; at: number }): void {
    this.child.send(c);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    // It exits by itself once the channel closes (and writes a --cpu-prof profile then).
    const exited = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.child.disconnect();
    return Promise.race([exited, sleep(5000)]).then(() => stopChild(this.child, 2000));
  }
}
