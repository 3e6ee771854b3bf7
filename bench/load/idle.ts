/** The idle task: connections joined to rooms, held until the orchestrator has measured the node. */
import { performance } from 'node:perf_hooks';
import { pool } from '../lib/clients.js';
import type { IdleResult, IdleTask } from '../lib/types.js';
import { closeAll, connectAll, emit, errCode, nextCommand, REQUEST_CONCURRENCY } from './common.js';

/** Connects and joins, emits `ready`, holds the clients until `release`. */
export async function idle(task: IdleTask): Promise<IdleResult> {
  const errors: string[] = [];
  const t0 = performance.now();
  const users = Array.from({ length: task.connections }, (_, i) => `${task.prefix}i${i}`);
  const clients = await connectAll(task.kind, [task.port], users, errors);
  const joined = await pool(clients, REQUEST_CONCURRENCY, async (c, i) => {
    if (!c) return false;
    const r = await c.join(`${task.prefix}ir${Math.floor(i / task.roomSize)}`);
    if (!r.ok && errors.length < 10) errors.push(`join: ${errCode(r)}`);
    return r.ok;
  });
  const info: IdleResult = {
    connected: clients.filter((c) => c !== null).length,
    joined: joined.filter(Boolean).length,
    setupMs: performance.now() - t0,
    errors,
  };
  emit({ event: 'ready', info });
  await nextCommand();
  closeAll(clients);
  return info;
}
