/**
 * The README's and the docs' code blocks, extracted and run as written
 * (only the port and the Redis address are swapped for the test's own, so
 * the shared Redis on 6379 is never touched):
 *
 * - README `js` blocks run with node against a real server and must exit 0;
 * - README `sh` blocks run too, except the install/test one (that is what
 *   .ci/run does) and the development list (syntax-checked);
 * - docs blocks are checked by kind: `sh` with `bash -n`, `js` with
 *   `node --check`, `ts` parsed by TypeScript, `json` parsed (a config file's
 *   keys must be settings); metric label lists match the code.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SETTINGS } from '../../src/settings.js';
import { startRedis, type RedisProcess } from '../support/redis.js';
import { freePort, waitFor } from '../support/ports.js';
import { MAIN, requireBuild, ROOT, run, waitExit, waitHealthy, type Run } from './proc.js';

interface Block {
  file: string;
  lang: string;
  code: string;
  line: number;
}

function blocks(file: string): Block[] {
  const lines = readFileSync(join(ROOT, file), 'utf8').split('\n');
  const out: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i]!); i++) body.push(lines[i]!);
    out.push({ file, lang: open[1]!, code: `${body.join('\n')}\n`, line: start + 1 });
  }
  return out;
}

const DOCS = readdirSync(join(ROOT, 'docs'))
  .filter((f) => f.endsWith('.md'))
  .map((f) => `docs/${f}`);
const readme = blocks('README.md');
const SCRATCH = join(ROOT, 'test-results/snippets'); // inside the package: `parley` resolves to itself

function scratch(name: string, code: string): string {
  mkdirSync(SCRATCH, { recursive: true });
  const path = join(SCRATCH, name);
  writeFileSync(path, code);
  return path;
}

function only(pred: (b: Block) => boolean, what: string): Block {
  const hits = readme.filter(pred);
  expect(hits.length, `README: exactly one ${what} block`).toBe(1);
  return hits[0]!;
}

describe('README snippets run as written', () => {
  let port: number;
  let server: Run;
  beforeAll(async () => {
    requireBuild();
    port = await freePort();
    server = run([MAIN], { PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn' });
    await waitHealthy(server, port);
  });
  afterAll(async () => {
    server.child.kill('SIGTERM');
    await waitExit(server, 15_000);
  });

  it('every README block is one of the kinds below (none goes unchecked)', () => {
    const known = readme.filter(
      (b) =>
        (b.lang === 'js' && /new WebSocket\(|attachParley|parley\/client/.test(b.code)) ||
        (b.lang === 'sh' && /npm start|REDIS_URL=|npm run build\s+# TypeScript/.test(b.code)),
    );
    expect(known.map((b) => b.line)).toEqual(readme.map((b) => b.line));
  });

  it('the Quick example exits by itself and shows the presence frame', async () => {
    const b = only((x) => x.lang === 'js' && x.code.includes('new WebSocket('), 'Quick example');
    const file = scratch('quick.mjs', b.code.replaceAll(':3000/', `:${port}/`));
    const r = run(['--experimental-websocket', file], {});
    expect(await waitExit(r, 15_000)).toBe(0);
    const frames = r
      .stdout()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; event?: string; id?: number });
    expect(frames.filter((f) => f.type === 'presence')).toMatchObject([{ type: 'presence', event: 'join' }]);
    expect(frames.map((f) => f.type).sort()).toEqual(['message', 'presence', 'reply', 'reply']);
  });

  it('the SDK snippet imports the package entry and runs from another folder', async () => {
    const b = only((x) => x.lang === 'js' && x.code.includes("from 'parley/client'"), 'SDK');
    expect(b.code).not.toMatch(/\.ts['"]|src\//);
    const file = scratch('sdk.mjs', b.code.replaceAll('localhost:3000', `127.0.0.1:${port}`));
    const r = run([file], {});
    expect(await waitExit(r, 20_000)).toBe(0);
    expect(r.stdout()).toContain('[general] Ann: hello');
  });

  it('the embedding snippet serves the app and Parley on one port and stops on Ctrl-C', async () => {
    const b = only((x) => x.lang === 'js' && x.code.includes('attachParley'), 'embedding');
    const appPort = await freePort();
    const file = scratch('embed.mjs', b.code.replaceAll('3000', String(appPort)));
    const r = run([file], {});
    await waitFor(() => r.stdout().includes('app and Parley on'), 15_000, `the app: ${r.stderr()}`);
    expect(await (await fetch(`http://127.0.0.1:${appPort}/`)).text()).toBe('my app\n');
    const api = await fetch(`http://127.0.0.1:${appPort}/api/presence?status=online`, {
      headers: { Authorization: 'Bearer dev-key' },
    });
    expect(api.status).toBe(200);
    r.child.kill('SIGINT');
    expect(await waitExit(r, 15_000)).toBe(0);
  });

  describe('shell blocks', () => {
    let redis: RedisProcess;
    beforeAll(async () => {
      redis = await startRedis();
    });
    afterAll(async () => {
      await redis?.stop();
    });

    it('the two-node commands start two nodes on one Redis (with the flag npm start uses)', async () => {
      const b = only((x) => x.lang === 'sh' && x.code.includes('REDIS_URL='), 'two-node');
      expect(b.code).toContain('--single-threaded-gc');
      const [p1, p2] = [await freePort(), await freePort()];
      const code = b.code
        .replace(/^npm run build\n/m, '') // the build is the pretest one
        .replaceAll('redis://127.0.0.1:6379', redis.url)
        .replaceAll('PORT=3001', `PORT=${p1}`)
        .replaceAll('PORT=3002', `PORT=${p2}`);
      const sh = spawn('bash', ['-c', `${code}\nwait`], {
        cwd: ROOT,
        env: { ...process.env, LOG_LEVEL: 'warn' },
        stdio: 'ignore',
        detached: true,
      });
      try {
        for (const p of [p1, p2]) {
          await waitFor(
            async () => (await fetch(`http://127.0.0.1:${p}/readyz`).catch(() => null))?.ok,
            20_000,
            `node on ${p}`,
          );
        }
        const info = await (await fetch(`http://127.0.0.1:${p1}/metrics`)).text();
        expect(info).toMatch(/parley_node_info\{[^}]*engine="redis"/);
      } finally {
        process.kill(-sh.pid!, 'SIGTERM');
      }
    });

    it('the other shell blocks are valid shell (install/test is what .ci/run runs)', async () => {
      for (const b of readme.filter((x) => x.lang === 'sh' && !x.code.includes('REDIS_URL='))) {
        const check = spawn('bash', ['-n'], { stdio: ['pipe', 'ignore', 'pipe'] });
        check.stdin.end(b.code);
        const code = await new Promise<number | null>((r) => check.once('exit', r));
        expect(code, `README.md:${b.line}`).toBe(0);
      }
    });
  });
});

describe('docs snippets', () => {
  const all = DOCS.flatMap(blocks);

  it('shell blocks are valid shell; js blocks are valid JavaScript; ts blocks parse', async () => {
    for (const b of all) {
      const where = `${b.file}:${b.line}`;
      if (b.lang === 'sh') {
        const check = spawn('bash', ['-n'], { stdio: ['pipe', 'ignore', 'pipe'] });
        check.stdin.end(b.code);
        expect(await new Promise<number | null>((r) => check.once('exit', r)), where).toBe(0);
        expect(b.code, `${where}: pino-pretty is not installed with Parley`).not.toContain('npx pino-pretty');
      } else if (b.lang === 'js' || b.lang === 'ts') {
        const out = ts.transpileModule(b.code, { reportDiagnostics: true, compilerOptions: { target: 99 } });
        expect(
          out.diagnostics?.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')),
          where,
        ).toEqual([]);
        expect(b.code, `${where}: import the package, not a source path`).not.toMatch(/from '\.{1,2}\/src\//);
      }
    }
  });

  it('json blocks parse; a config file example names settings only', () => {
    for (const b of all.filter((x) => x.lang === 'json')) {
      const text = b.code.replace(/^\s*\/\/.*$/gm, '').trim();
      const docs = text.startsWith('{"') ? text.split('\n').map((l) => JSON.parse(l) as unknown) : [JSON.parse(text)];
      if (b.code.includes('parley.json')) {
        for (const key of Object.keys(docs[0] as object))
          expect(key in SETTINGS, `${b.file}:${b.line} ${key}`).toBe(true);
      }
    }
  });

  it('docs say what the code does: 429 for the per-user cap; every documented setting exists; no outside files', () => {
    const text = DOCS.map((f) => readFileSync(join(ROOT, f), 'utf8')).join('\n');
    expect(text).not.toMatch(/per user[^\n|]*1008|1008[^\n|]*per user/i);
    expect(text).not.toMatch(/shared with other implementers|\/work\/shared/);
    const cli = new Set(['PARLEY_URL', 'PARLEY_USER', 'PARLEY_TOKEN']);
    const named = new Set(text.match(/\b(PARLEY|REDIS)_[A-Z_]+[A-Z]\b/g) ?? []);
    const unknown = [...named].filter((n) => !(n in SETTINGS) && !cli.has(n) && !n.startsWith('REDIS_SENTINEL_'));
    expect(unknown).toEqual([]);
  });

  it('security.md and deployment.md list the same limit labels, and the code uses exactly those', () => {
    const used = new Set<string>();
    const walk = (dir: string): void => {
      for (const e of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
        if (e.isDirectory()) walk(`${dir}/${e.name}`);
        else if (e.name.endsWith('.ts')) {
          for (const m of readFileSync(join(ROOT, dir, e.name), 'utf8').matchAll(/limit: '([a-z_]+)'/g))
            used.add(m[1]!);
        }
      }
    };
    walk('src');
    const security = readFileSync(join(ROOT, 'docs/security.md'), 'utf8');
    const fromTable = new Set(
      security
        .split('\n')
        .filter((l) => l.startsWith('|'))
        .map((l) => /\| `([a-z_]+)` \|\s*$/.exec(l)?.[1])
        .filter((x): x is string => x !== undefined),
    );
    const deployment = readFileSync(join(ROOT, 'docs/deployment.md'), 'utf8');
    const line = deployment.split('\n').find((l) => l.includes('parley_limit_breaches_total{limit}'))!;
    const fromList = new Set([...line.matchAll(/`([a-z_]+)`/g)].map((m) => m[1]!).filter((l) => l !== 'counter'));
    expect([...fromList].sort()).toEqual([...fromTable].sort());
    expect([...used].sort()).toEqual([...fromTable].sort());
  });
});
