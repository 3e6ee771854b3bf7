/**
 * Configuration: environment plus an optional JSON file (env wins), checked
 * at start. A bad setting makes the real server exit 1 with one clear line
 * naming it, and no stack trace.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readConfigFile } from '../../src/config-file.js';
import { loadConfig, storageMode } from '../../src/config.js';
import { ConfigError } from '../../src/settings.js';
import { freePort } from '../support/ports.js';
import { MAIN, requireBuild, run, waitExit, waitHealthy } from './proc.js';

const dir = mkdtempSync(join(tmpdir(), 'parley-config-'));
function file(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('no ConfigError thrown');
}

describe('loadConfig', () => {
  it('reads a JSON file; the environment wins; lists and numbers are accepted', () => {
    const path = file(
      'good.json',
      JSON.stringify({
        $schema: 'ignored',
        PORT: 4100,
        LOG_LEVEL: 'debug',
        PARLEY_ALLOWED_ORIGINS: ['https://a.example', 'https://b.example'],
        PARLEY_HISTORY_MAX: 500,
        PARLEY_API_KEY: null,
      }),
    );
    const c = loadConfig({ PARLEY_CONFIG: path, LOG_LEVEL: 'warn' });
    expect(c.port).toBe(4100);
    expect(c.logLevel).toBe('warn');
    expect(c.allowedOrigins).toEqual(['https://a.example', 'https://b.example']);
    expect(c.historyMax).toBe(500);
    expect(c.apiKey).toBeNull();
    expect(c.configFile).toBe(path);
    // An empty variable does not hide the file's value.
    expect(loadConfig({ PARLEY_CONFIG: path, PORT: '' }).port).toBe(4100);
    expect(readConfigFile(path)).toMatchObject({
      PORT: '4100',
      PARLEY_ALLOWED_ORIGINS: 'https://a.example,https://b.example',
    });
  });

  it('defaults without a file', () => {
    const c = loadConfig({});
    expect(c.port).toBe(3000);
    expect(c.shutdownTimeoutMs).toBe(10_000);
    expect(c.redisUrl).toBeNull();
    expect(c.configFile).toBeUndefined();
  });

  it('reads the Redis deployment: exactly one of REDIS_URL, REDIS_CLUSTER_NODES, REDIS_SENTINELS', () => {
    const cluster = loadConfig({ REDIS_CLUSTER_NODES: '10.0.0.1:7000, 10.0.0.2:7001,[::1]:7002' });
    expect(storageMode(cluster)).toBe('cluster');
    expect(cluster.redisClusterNodes).toEqual([
      { host: '10.0.0.1', port: 7000 },
      { host: '10.0.0.2', port: 7001 },
      { host: '::1', port: 7002 },
    ]);
    const sentinel = loadConfig({ REDIS_SENTINELS: 's1:26379,s2:26379', PARLEY_ACK_REPLICAS: '1' });
    expect(storageMode(sentinel)).toBe('sentinel');
    expect(sentinel.redisSentinelName).toBe('mymaster');
    expect(sentinel.ackReplicas).toBe(1);
    expect(sentinel.ackTimeoutMs).toBe(1000);
    expect(storageMode(loadConfig({ REDIS_URL: 'redis://r:6380' }))).toBe('single');
    expect(storageMode(loadConfig({}))).toBe('memory');
    for (const env of [
      { REDIS_URL: 'redis://r:1', REDIS_SENTINELS: 's:1' },
      { REDIS_CLUSTER_NODES: 'c:1', REDIS_SENTINELS: 's:1' },
    ]) {
      expect(configError(() => loadConfig(env)).message).toMatch(/set only one of/);
    }
    expect(configError(() => loadConfig({ REDIS_SENTINELS: 's:99999' })).setting).toBe('REDIS_SENTINELS');
    expect(configError(() => loadConfig({ PARLEY_ACK_TIMEOUT_MS: '0' })).setting).toBe('PARLEY_ACK_TIMEOUT_MS');
  });

  it('names the bad setting', () => {
    expect(configError(() => loadConfig({ PORT: 'abc' })).setting).toBe('PORT');
    expect(configError(() => loadConfig({ PARLEY_SHUTDOWN_TIMEOUT_MS: '10' })).setting).toBe(
      'PARLEY_SHUTDOWN_TIMEOUT_MS',
    );
    const typo = configError(() => loadConfig({ PARLEY_CONFIG: file('typo.json', '{"PORTT": 1, "LOG_LEVL": "x"}') }));
    expect(typo.setting).toBe('PORTT');
    expect(typo.message).toMatch(/unknown setting.*also: LOG_LEVL/);
    const bad = configError(() => loadConfig({ PARLEY_CONFIG: file('bad.json', '{"PORT": "abc"}') }));
    expect(bad.setting).toBe('PORT');
    expect(bad.message).toMatch(/bad\.json/);
    // The same bad value from the environment does not blame the file.
    expect(configError(() => loadConfig({ PARLEY_CONFIG: file('ok.json', '{}'), PORT: 'abc' })).message).not.toMatch(
      /ok\.json/,
    );
    expect(configError(() => loadConfig({ PARLEY_CONFIG: file('nested.json', '{"PORT": {"a": 1}}') })).setting).toBe(
      'PORT',
    );
    expect(configError(() => loadConfig({ PARLEY_CONFIG: join(dir, 'missing.json') })).message).toMatch(/ENOENT/);
    expect(configError(() => loadConfig({ PARLEY_CONFIG: file('broken.json', '{"PORT": 1,') })).setting).toBe(
      'PARLEY_CONFIG',
    );
    expect(configError(() => loadConfig({ PARLEY_CONFIG: file('array.json', '[1]') })).setting).toBe('PARLEY_CONFIG');
  });
});

describe('the server process with bad settings', () => {
  beforeAll(() => requireBuild());

  const cases: Array<[string, Record<string, string>, RegExp]> = [
    ['PORT not a number', { PORT: 'abc' }, /PORT: must be an integer/],
    ['PORT out of range', { PORT: '70000' }, /PORT: must be an integer between 0 and 65535/],
    ['LOG_LEVEL unknown', { LOG_LEVEL: 'loud' }, /LOG_LEVEL: must be one of/],
    ['REDIS_URL without scheme', { REDIS_URL: 'localhost:6380' }, /REDIS_URL: must start with redis:\/\//],
    ['shutdown timeout too small', { PARLEY_SHUTDOWN_TIMEOUT_MS: '5' }, /PARLEY_SHUTDOWN_TIMEOUT_MS/],
    ['history max zero', { PARLEY_HISTORY_MAX: '0' }, /PARLEY_HISTORY_MAX/],
    ['node id with a space', { PARLEY_NODE_ID: 'bad id' }, /PARLEY_NODE_ID/],
    [
      'two Redis deployments',
      { REDIS_URL: 'redis://127.0.0.1:1', REDIS_CLUSTER_NODES: '127.0.0.1:2' },
      /REDIS_CLUSTER_NODES: set only one of REDIS_URL, REDIS_CLUSTER_NODES, REDIS_SENTINELS/,
    ],
    ['cluster node without a port', { REDIS_CLUSTER_NODES: '127.0.0.1' }, /REDIS_CLUSTER_NODES: must be a comma/],
    ['ack replicas negative', { PARLEY_ACK_REPLICAS: '-1' }, /PARLEY_ACK_REPLICAS: must be an integer/],
    [
      'missing config file',
      { PARLEY_CONFIG: '/nonexistent/parley.json' },
      /PARLEY_CONFIG: cannot read config file \/nonexistent\/parley\.json/,
    ],
  ];
  for (const [what, env, message] of cases) {
    it(`exits 1 naming the setting: ${what}`, async () => {
      const r = run([MAIN], { PORT: '0', ...env });
      const code = await waitExit(r, 15_000);
      expect(code).toBe(1);
      const err = r.stderr();
      expect(err).toMatch(/^parley: invalid configuration: /);
      expect(err).toMatch(message);
      expect(err.trim().split('\n')).toHaveLength(1);
      expect(err).not.toMatch(/\n\s+at /);
    });
  }

  it('exits 1 naming a bad value and the file it came from', async () => {
    const path = file('server-bad.json', JSON.stringify({ PARLEY_MAX_FRAME_BYTES: 12 }));
    const r = run([MAIN], { PARLEY_CONFIG: path, PORT: '0' });
    expect(await waitExit(r, 15_000)).toBe(1);
    expect(r.stderr()).toMatch(/PARLEY_MAX_FRAME_BYTES: must be an integer between 256 .*server-bad\.json/);
  });

  it('exits 1 naming an unknown key of the config file', async () => {
    const r = run([MAIN], { PARLEY_CONFIG: file('server-typo.json', '{"REDIS_ULR": "redis://x"}'), PORT: '0' });
    expect(await waitExit(r, 15_000)).toBe(1);
    expect(r.stderr()).toMatch(/REDIS_ULR: unknown setting in .*server-typo\.json/);
  });

  it('exits 1 with a clear line when the port is taken', async () => {
    const blocker = createServer();
    const port = await new Promise<number>((resolve) =>
      blocker.listen(0, '127.0.0.1', () => resolve((blocker.address() as { port: number }).port)),
    );
    try {
      const r = run([MAIN], { PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'silent' });
      expect(await waitExit(r, 15_000)).toBe(1);
      expect(r.stderr()).toMatch(/^parley: cannot start: cannot listen on 127\.0\.0\.1:\d+: the address is in use/);
      expect(r.stderr()).not.toMatch(/\n\s+at /);
    } finally {
      blocker.close();
    }
  });
});

describe('the server process with a config file', () => {
  let port: number;
  let envPort: number;
  beforeAll(async () => {
    requireBuild();
    port = await freePort();
    envPort = await freePort();
  });
  const stops: Array<() => Promise<unknown>> = [];
  afterAll(async () => {
    for (const s of stops) await s();
  });

  it('takes settings from the file, lets the environment win, logs JSON at LOG_LEVEL', async () => {
    const path = file(
      'serve.json',
      JSON.stringify({ PORT: port, HOST: '127.0.0.1', LOG_LEVEL: 'info', PARLEY_API_KEY: 'from-file' }),
    );
    const r = run([MAIN], { PARLEY_CONFIG: path, PORT: String(envPort) });
    stops.push(async () => {
      r.child.kill('SIGTERM');
      await waitExit(r, 15_000);
    });
    await waitHealthy(r, envPort);
    const res = await fetch(`http://127.0.0.1:${envPort}/api/presence`, {
      headers: { Authorization: 'Bearer from-file' },
    });
    expect(res.status).toBe(200);
    const lines = r
      .stdout()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(
      lines.every((l) => typeof l.level === 'number' && typeof l.time === 'number' && typeof l.node === 'string'),
    ).toBe(true);
    const cfg = lines.find((l) => l.msg === 'configuration');
    expect(cfg).toMatchObject({ port: envPort, configFile: path, api: 'enabled' });
    expect(JSON.stringify(lines)).not.toContain('from-file'); // no secret in the logs
    expect(lines.some((l) => String(l.msg).includes('DEV MODE'))).toBe(true);
  });

  it('LOG_LEVEL=warn hides info lines', async () => {
    const p = await freePort();
    const r = run([MAIN], { PORT: String(p), HOST: '127.0.0.1', LOG_LEVEL: 'warn' });
    await waitHealthy(r, p);
    r.child.kill('SIGTERM');
    expect(await waitExit(r, 15_000)).toBe(0);
    const levels = r
      .stdout()
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { level: number }).level);
    expect(levels.length).toBeGreaterThan(0);
    expect(levels.every((l) => l >= 40)).toBe(true);
  });
});
