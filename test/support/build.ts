/**
 * Tests that spawn the built server (dist/server/main.js) build it first, so
 * a targeted run never tests stale code: an incremental `tsc` (about 2 s when
 * nothing changed), serialized with other builders by a lock file. A failed
 * build fails the test instead of running whatever dist/ held before.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** One lock per checkout: concurrent test files of this checkout build one after the other. */
const LOCK = join(tmpdir(), `parley-dist-${createHash('sha1').update(ROOT).digest('hex').slice(0, 12)}.lock`);

let built = false;

/** Builds dist/ from src/ once per test process; throws with tsc's output when the build fails. */
export function ensureBuilt(): void {
  if (built) return;
  try {
    execFileSync('flock', [LOCK, 'npx', 'tsc', '-p', 'tsconfig.build.json'], {
      cwd: ROOT,
      stdio: 'pipe',
      timeout: 180_000,
    });
  } catch (err) {
    const e = err as { stdout?: Buffer; stderr?: Buffer; message: string };
    throw new Error(`building dist/ failed:\n${e.stdout?.toString() ?? ''}${e.stderr?.toString() ?? e.message}`, {
      cause: err,
    });
  }
  built = true;
}
