/**
 * Child-process helpers for the ops tests: they run the built server
 * (dist/server/main.js, rebuilt from src/ by requireBuild) and the CLI.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { ensureBuilt, ROOT } from '../support/build.js';
import { sleep } from '../support/ports.js';

export { ROOT };
export const MAIN = 'dist/server/main.js';

/** Builds dist/ from the current sources (or fails): a targeted run never tests stale code. */
export function requireBuild(): void {
  ensureBuilt();
}

export interface Run {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
}

/** Starts `node <args>` in the repo with exactly `env` added to a clean environment. */
export function run(args: string[], env: Record<string, string>, stdin = false): Run {
  const base: Record<string, string> = {};
  for (const k of ['PATH', 'HOME', 'TMPDIR', 'LANG', 'SystemRoot']) if (process.env[k]) base[k] = process.env[k]!;
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...base, ...env },
    stdio: [stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** Waits for exit, at most `ms` (then SIGKILLs and throws). */
export async function waitExit(r: Run, ms: number): Promise<number | null> {
  const timer = sleep(ms).then(() => 'timeout' as const);
  const res = await Promise.race([r.exited, timer]);
  if (res === 'timeout') {
    r.child.kill('SIGKILL');
    throw new Error(`process did not exit within ${ms} ms\nstdout:\n${r.stdout()}\nstderr:\n${r.stderr()}`);
  }
  return res;
}

/** Polls /healthz until it answers (or the process exits: then throws with its output). */
export async function waitHealthy(r: Run, port: number, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (r.child.exitCode !== null)
      throw new Error(`server exited with ${r.child.exitCode}:\n${r.stdout()}${r.stderr()}`);
    try {
      if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) return;
    } catch {
      /* not up yet */
    }
    await sleep(50);
  }
  throw new Error(`server did not answer on ${port}:\n${r.stdout()}${r.stderr()}`);
}
