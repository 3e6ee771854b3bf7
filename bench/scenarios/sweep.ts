/** The capacity sweep: per system, the highest msg/s per room that still meets the latency target. */
import type { SystemKind } from '../lib/clients.js';
import type { BenchContext } from '../lib/context.js';
import { SYSTEMS } from '../lib/nodes.js';
import { fmt, table } from '../lib/report.js';
import { mainRun, type MainRun } from './main.js';

/**
 * Steps up `o.sweepRates` per system until a step fails twice; prints the capacity table.
 * `key` names the result (`sweep`; `sweepSmall` for the sweep at 1,000 connections).
 */
export async function runSweep(ctx: BenchContext, key = 'sweep'): Promise<void> {
  const { o, systems, redis, loadgen, result, log } = ctx;
  const sweep: {
    system: SystemKind;
    steps: { rate: number; attempt: number; ok: boolean; why: string; run: MainRun | null }[];
    capacity: number;
  }[] = [];
  for (const kind of systems) {
    const steps: { rate: number; attempt: number; ok: boolean; why: string; run: MainRun | null }[] = [];
    let capacity = 0;
    for (const rate of o.sweepRates) {
      // A failing step is tried once more: the box is shared, one bad 4 s window proves little.
      let passed = false;
      for (let attempt = 1; attempt <= 2 && !passed; attempt++) {
        log(`sweep: ${SYSTEMS[kind].label} at ${rate} msg/s/room${attempt > 1 ? ' (retry)' : ''}`);
        let r: MainRun | null = null;
        let why = '';
        try {
          r = await mainRun(kind, 0, rate, o, redis, loadgen, {
            warmupMs: o.sweepWarmupMs,
            measureMs: o.sweepMeasureMs,
          });
          const l = r.load;
          const errs = Object.values(l.sendErrors).reduce((x, y) => x + y, 0);
          if (l.lost > 0) why = `lost ${l.lost}`;
          else if (l.duplicates > 0) why = `${l.duplicates} dups`;
          else if (errs > 0) why = `${errs} send errors`;
          else if (!(l.latencyMs.p99 < 50)) why = `p99 ${fmt(l.latencyMs.p99)} ms`;
          else if (l.sentPerSec < 0.95 * l.targetSendPerSec) why = `generator sent only ${fmt(l.sentPerSec)}/s`;
          log(
            `  p99 ${fmt(l.latencyMs.p99)} ms, lost ${l.lost}, order ${l.orderOk ? 'ok' : `BAD(${l.roomsOutOfOrder})`}, ` +
              `sent ${fmt(l.sentPerSec)}/${l.targetSendPerSec}/s, ${fmt(r.cpuUsPerMsg)} µs/msg, ${why || 'ok'}`,
          );
        } catch (e) {
          why = (e as Error).message.split('\n')[0] ?? 'failed';
          log(`  FAILED: ${why}`);
        }
        passed = why === '';
        steps.push({ rate, attempt, ok: passed, why, run: r });
      }
      if (!passed) break;
      capacity = rate;
    }
    sweep.push({ system: kind, steps, capacity });
  }
  result[key] = sweep;
  console.log(
    `\nCapacity sweep (${o.connections} connections, ${o.rooms} rooms): highest msg/s per room with p99 < 50 ms, no loss, no dups, generator on target (a failing step is retried once)`,
  );
  console.log(
    table(
      ['system', 'capacity', 'deliv/s at cap', 'µs/msg at cap', 'p99 at cap', 'order up to cap', 'stopped by'],
      sweep.map((s) => {
        const cap = s.steps.find((x) => x.rate === s.capacity && x.ok)?.run;
        const stop = s.steps.filter((x) => x.rate > s.capacity).at(-1);
        const orderOk = s.steps.every((x) => x.rate > s.capacity || !x.run || x.run.load.orderOk);
        return [
          SYSTEMS[s.system].label,
          s.capacity,
          cap?.load.deliveredPerSec ?? NaN,
          cap?.cpuUsPerMsg ?? NaN,
          cap?.load.latencyMs.p99 ?? NaN,
          orderOk ? 'ok' : 'BAD',
          stop ? `${stop.rate}: ${stop.why} (twice)` : '-',
        ];
      }),
    ),
  );
}
