/**
 * Parley as an npm package: `npm pack` (the dist/ built by the pretest build;
 * prepack runs that same build when publishing), install the tarball into a
 * fresh project outside the repo, then use it as a user would: both entry
 * points (with their types), a server started from code, a client message,
 * and the `parley` bin.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireBuild, ROOT } from './proc.js';

const exec = promisify(execFile);

/** Runs a command in `cwd` without the repo's npm settings leaking in (no npm_config_* from vitest's npm). */
async function sh(cmd: string, args: string[], cwd: string): Promise<{ stdout: string; stderr: string }> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('npm_')) env[k] = v;
  try {
    return await exec(cmd, args, { cwd, env, maxBuffer: 16 * 1024 * 1024, timeout: 240_000 });
  } catch (err) {
    const e = err as Error & { stdout?: string; stderr?: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${e.message}\nstdout:\n${e.stdout}\nstderr:\n${e.stderr}`, {
      cause: err,
    });
  }
}

const USE = `
import WebSocket from 'ws';
import { createParley, ConfigError } from 'parley';
import { ParleyClient } from 'parley/client';

try {
  await createParley({ port: 'nope' });
  throw new Error('a bad option was accepted');
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  console.log('config error: ' + err.message);
}
const node = await createParley({ port: 0, host: '127.0.0.1', logLevel: 'silent' });
const port = await node.start();
const url = 'ws://127.0.0.1:' + port + '/ws';
const ann = new ParleyClient({ url, user: 'ann', WebSocket });
const bob = new ParleyClient({ url, user: 'bob', WebSocket });
await Promise.all([ann.connect(), bob.connect()]);
await Promise.all([ann.join('general'), bob.join('general')]);
const got = new Promise((resolve) => bob.on('message', (m) => resolve(m)));
await ann.send('general', 'hello from the package');
const m = await got;
console.log('received: ' + m.from + ': ' + m.text);
ann.close();
bob.close();
await node.stop();
`;

/** Type-checked against the installed .d.ts files (wrong option types must not compile). */
const TYPED = `
import { createParley, attachParley, type ParleyNode, type ParleyOptions } from 'parley';
import { ParleyClient, type Message } from 'parley/client';
import { createServer } from 'node:http';

const options: ParleyOptions = { port: 0, apiKey: 'k', maxFrameBytes: 1024, allowedOrigins: ['https://a.example'] };
export async function run(): Promise<ParleyNode> {
  const node = await createParley(options);
  await attachParley(createServer(), { api: true, redisUrl: 'redis://127.0.0.1:1' }).catch(() => undefined);
  const client = new ParleyClient({ url: 'ws://127.0.0.1:1/ws', user: 'ann' });
  client.on('message', (m: Message) => m.text.toUpperCase());
  // @ts-expect-error port is a number
  await createParley({ port: '3000' });
  // @ts-expect-error no such setting
  await createParley({ apiKeys: 'x' });
  return node;
}
`;

describe('npm package', () => {
  let dir: string;
  let tarball: string;

  beforeAll(async () => {
    requireBuild();
    dir = mkdtempSync(join(tmpdir(), 'parley-pkg-'));
    // --ignore-scripts: the build is the pretest one (rebuilding here would race other suites reading dist/).
    const packed = await sh('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], ROOT);
    const info = JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[];
    tarball = join(dir, info[0]!.filename);
    const files = info[0]!.files.map((f) => f.path);
    expect(files).toContain('dist/index.js');
    expect(files).toContain('dist/index.d.ts');
    expect(files).toContain('dist/sdk/index.d.ts');
    expect(files).toContain('bin/parley.mjs');
    expect(files).toContain('LICENSE');
    expect(files.filter((f) => /^(src|test|bench|web|docs)\//.test(f) || f.endsWith('.map'))).toEqual([]);
    const app = join(dir, 'app');
    await sh('mkdir', ['-p', app], dir);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
    await sh('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball], app);
  }, 300_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('installs with both entry points; a server from code and a client exchange a message', async () => {
    const app = join(dir, 'app');
    const installed = JSON.parse(readFileSync(join(app, 'node_modules/parley/package.json'), 'utf8')) as {
      exports: Record<string, unknown>;
    };
    expect(Object.keys(installed.exports)).toEqual(expect.arrayContaining(['.', './client']));
    writeFileSync(join(app, 'use.mjs'), USE);
    const { stdout } = await sh(process.execPath, ['use.mjs'], app);
    expect(stdout).toContain('config error: PORT: must be an integer');
    expect(stdout).toContain('received: ann: hello from the package');
  }, 60_000);

  it('ships .d.ts for both entry points (a TypeScript user type-checks against them)', async () => {
    const app = join(dir, 'app');
    writeFileSync(join(app, 'typed.ts'), TYPED);
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          lib: ['ES2023', 'DOM'],
          typeRoots: [join(ROOT, 'node_modules/@types')],
          types: ['node'],
        },
        files: ['typed.ts'],
      }),
    );
    await sh(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], app);
  }, 60_000);

  it('the parley bin runs from the installed package (no tsc needed)', async () => {
    const app = join(dir, 'app');
    const help = await sh('npx', ['--no-install', 'parley', '--help'], app);
    expect(help.stdout).toContain('Usage: parley <command>');
    const version = await sh('npx', ['--no-install', 'parley', '--version'], app);
    expect(version.stdout.trim()).toBe(
      (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version,
    );
  }, 60_000);
});
