/**
 * Preloaded into every server node the bench starts (`node --import probe.js
 * <server>`), so that all three systems are measured the same way without
 * touching their code. Answers on the IPC channel:
 *   {cmd:'mem'}                  -> {rss, heapUsed, heapTotal, external, arrayBuffers} (after two full GCs when --expose-gc)
 *   {cmd:'prof-start'}           -> {} (starts the V8 CPU profiler)
 *   {cmd:'prof-stop', path}      -> {} (writes the .cpuprofile)
 *   {cmd:'heap-snapshot', path}  -> {} (writes a .heapsnapshot)
 * The channel is unref'd: it never keeps the node alive.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { writeHeapSnapshot } from 'node:v8';

interface ProbeRequest {
  probe?: number;
  cmd?: string;
  path?: string;
}

let session: Session | null = null;

function post<T>(s: Session, method: string, params?: object): Promise<T> {
  return new Promise((resolve, reject) => {
    s.post(method, params ?? {}, (err, res) => (err ? reject(err) : resolve(res as T)));
  });
}

async function handle(req: ProbeRequest): Promise<unknown> {
  switch (req.cmd) {
    case 'mem': {
      const gc = (globalThis as { gc?: () => void }).gc;
      if (gc) {
        gc();
        await new Promise((r) => setTimeout(r, 50));
        gc();
      }
      const m = process.memoryUsage();
      return {
        rss: m.rss,
        heapUsed: m.heapUsed,
        heapTotal: m.heapTotal,
        external: m.external,
        arrayBuffers: m.arrayBuffers,
      };
    }
    case 'prof-start': {
      session = new Session();
      session.connect();
      await post(session, 'Profiler.enable');
      await post(session, 'Profiler.setSamplingInterval', { interval: 200 });
      await post(session, 'Profiler.start');
      return {};
    }
    case 'prof-stop': {
      if (!session) return { error: 'not profiling' };
      const res = await post<{ profile: unknown }>(session, 'Profiler.stop');
      session.disconnect();
      session = null;
      if (req.path) writeFileSync(req.path, JSON.stringify(res.profile));
      return {};
    }
    case 'heap-snapshot':
      writeHeapSnapshot(req.path);
      return {};
    default:
      return { error: `unknown probe command ${String(req.cmd)}` };
  }
}

if (process.send) {
  process.on('message', (msg: unknown) => {
    const req = msg as ProbeRequest;
    if (typeof req !== 'object' || req === null || typeof req.probe !== 'number') return;
    handle(req).then(
      (data) => process.send?.({ probe: req.probe, data }),
      (e: unknown) => process.send?.({ probe: req.probe, data: { error: String(e) } }),
    );
  });
  process.channel?.unref();
}
