/**
 * JWT authentication under attack: every kind of bad token is refused with
 * 401 before the upgrade (no socket), the node and other users carry on;
 * expiry mid-session closes 4001; the `rooms` claim and dm rooms are enforced;
 * keys from a secret, a PEM public key (RSA, EC, Ed25519) and a JWKS URL.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, SignJWT, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { ConfigError } from '../../src/settings.js';
import type { TestClient } from '../support/client.js';
import { sleep, waitFor } from '../support/ports.js';
import { startNode, type RunningNode } from '../support/server.js';
import {
  breaches,
  closedWithin,
  expectHealthy,
  expectRefused,
  hsToken,
  noneToken,
  openAt,
  tryUpgrade,
  uniq,
} from './helpers.js';

/** Upgrades a node is still authenticating (`parley_pending_upgrades`). */
async function pending(n: RunningNode): Promise<number> {
  const g = n.node.metrics.registry.getSingleMetric('parley_pending_upgrades');
  return (await g!.get()).values[0]?.value ?? 0;
}

const SECRET = 'a-test-secret-that-is-long-enough-0123456789';
const AUD = 'parley';
const ISS = 'https://auth.example.com';

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const rsaOther = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const ed = generateKeyPairSync('ed25519');
const pem = (k: KeyObject): string => k.export({ type: 'spki', format: 'pem' }).toString();

async function signWith(
  alg: string,
  key: KeyObject | Uint8Array,
  claims: JWTPayload & Record<string, unknown>,
  header: Record<string, unknown> = {},
  exp: number | string = '1h',
): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg, ...header })
    .setIssuedAt()
    .setExpirationTime(exp)
    .sign(key);
}

const wsUrl = (node: { port: number }, token?: string): string =>
  `ws://127.0.0.1:${node.port}/ws${token === undefined ? '' : `?token=${encodeURIComponent(token)}`}`;

describe('JWT with a shared secret (HS256), audience and issuer', () => {
  let node: RunningNode;
  const clients: TestClient[] = [];
  const token = (
    sub: string,
    extra: Record<string, unknown> = {},
    opts: { exp?: number | string; nbf?: number | string } = { exp: '1h' },
  ) => hsToken(SECRET, { sub, aud: AUD, iss: ISS, ...extra }, opts);
  const open = async (user: string, extra: Record<string, unknown> = {}): Promise<TestClient> =>
    openAt(wsUrl(node, await token(user, extra)), clients);

  beforeAll(async () => {
    node = await startNode({ env: { PARLEY_JWT_SECRET: SECRET, PARLEY_JWT_AUDIENCE: AUD, PARLEY_JWT_ISSUER: ISS } });
  });
  afterAll(async () => {
    for (const c of clients) c.ws.terminate();
    await node.stop();
  });

  it('accepts a valid token in ?token= and in Authorization: Bearer; sub and name become the identity', async () => {
    const user = uniq('ann');
    const room = uniq('r');
    const a = await open(user, { name: '  Ann <b>A</b>  ' });
    const joined = await a.ok<{ members: Array<{ user: string; name?: string }> }>({ type: 'join', room });
    expect(joined.members).toEqual([expect.objectContaining({ user, name: 'Ann <b>A</b>' })]);
    const b = await openAt(wsUrl(node), clients, { headers: { Authorization: `Bearer ${await token(uniq('bob'))}` } });
    expect(await b.ok({ type: 'ping' })).toEqual({});
    const lower = await openAt(wsUrl(node), clients, {
      headers: { Authorization: `bearer ${await token(uniq('bob'))}` },
    });
    expect(await lower.ok({ type: 'ping' })).toEqual({});
  });

  it('refuses every kind of bad token with 401 UNAUTHORIZED before the upgrade', async () => {
    const sub = uniq('eve');
    const now = Math.floor(Date.now() / 1000);
    const good = await token(sub);
    const [h, p] = good.split('.') as [string, string, string];
    const forged = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
    forged.sub = 'admin';
    const tampered = `${h}.${Buffer.from(JSON.stringify(forged)).toString('base64url')}.${good.split('.')[2]}`;
    const other = new TextEncoder().encode('another-secret-that-is-also-long-enough!!');
    const cases: Array<[string, string | undefined, Record<string, string>?]> = [
      ['no token at all', undefined],
      ['dev-mode ?user= is ignored in JWT mode', undefined],
      ['empty token', ''],
      ['garbage', 'not-a-jwt'],
      ['three dots of garbage', 'a.b.c'],
      [
        'bad signature',
        await new SignJWT({ sub, aud: AUD, iss: ISS })
          .setProtectedHeader({ alg: 'HS256' })
          .setExpirationTime('1h')
          .sign(other),
      ],
      ['tampered payload', tampered],
      ['signature stripped', `${h}.${p}.`],
      ['expired', await token(sub, {}, { exp: now - 10 })],
      ['nbf in the future', await token(sub, {}, { exp: '1h', nbf: now + 600 })],
      ['wrong audience', await hsToken(SECRET, { sub, aud: 'someone-else', iss: ISS }, { exp: '1h' })],
      ['audience missing', await hsToken(SECRET, { sub, iss: ISS }, { exp: '1h' })],
      ['wrong issuer', await hsToken(SECRET, { sub, aud: AUD, iss: 'https://evil.example.com' }, { exp: '1h' })],
      ['issuer missing', await hsToken(SECRET, { sub, aud: AUD }, { exp: '1h' })],
      ['alg none', noneToken({ sub, aud: AUD, iss: ISS, exp: now + 600 })],
      [
        'alg NONE',
        noneToken({ sub, aud: AUD, iss: ISS, exp: now + 600 }).replace(
          /^[^.]+/,
          Buffer.from('{"alg":"NONE"}').toString('base64url'),
        ),
      ],
      [
        'alg HS512 (not pinned)',
        await new SignJWT({ sub, aud: AUD, iss: ISS })
          .setProtectedHeader({ alg: 'HS512' })
          .setExpirationTime('1h')
          .sign(new TextEncoder().encode(SECRET)),
      ],
      ['RS256 token (wrong family)', await signWith('RS256', rsa.privateKey, { sub, aud: AUD, iss: ISS })],
      ['missing sub', await hsToken(SECRET, { aud: AUD, iss: ISS }, { exp: '1h' })],
      ['sub with a space', await token('a b')],
      ['sub too long', await token('x'.repeat(129))],
      ['sub a number', await hsToken(SECRET, { sub: 42 as unknown as string, aud: AUD, iss: ISS }, { exp: '1h' })],
      ['sub empty', await token('')],
      ['rooms not a list', await token(sub, { rooms: 'team-*' })],
      ['rooms with a number', await token(sub, { rooms: ['team-*', 7] })],
      ['rooms with a bad pattern', await token(sub, { rooms: ['team red'] })],
      ['name not a string', await token(sub, { name: { first: 'x' } })],
      ['exp not a number', await hsToken(SECRET, { sub, aud: AUD, iss: ISS, exp: 'never' as unknown as number })],
      ['token too long', 'x'.repeat(9000)],
      [
        'Basic auth instead of a token',
        undefined,
        { Authorization: `Basic ${Buffer.from(`${sub}:x`).toString('base64')}` },
      ],
    ];
    const before = await breaches(node, 'auth');
    for (const [what, tok, headers] of cases) {
      const url = what.startsWith('dev-mode') ? `${wsUrl(node)}?user=${sub}` : wsUrl(node, tok);
      const r = await tryUpgrade(url, headers ? { headers } : {});
      r.ws?.terminate();
      expect(r.status, what).toBe(401);
      expect(r.body.error?.code, what).toBe('UNAUTHORIZED');
    }
    expect(await breaches(node, 'auth')).toBe(before + cases.length);
    await expectHealthy(node, (u) => open(u));
  });

  it('tells the reasons apart in the refusal message', async () => {
    const sub = uniq('why');
    const now = Math.floor(Date.now() / 1000);
    const msg = async (tok: string): Promise<string> =>
      (await expectRefused(wsUrl(node, tok), 401, 'UNAUTHORIZED')).body.error!.message;
    expect(await msg(await token(sub, {}, { exp: now - 5 }))).toMatch(/expired/);
    expect(await msg(await token(sub, {}, { exp: '1h', nbf: now + 600 }))).toMatch(/not valid yet/);
    expect(await msg(await hsToken(SECRET, { sub, aud: 'x', iss: ISS }, { exp: '1h' }))).toMatch(/audience/);
    expect(await msg(await hsToken(SECRET, { sub, aud: AUD, iss: 'x' }, { exp: '1h' }))).toMatch(/issuer/);
    expect(await msg(noneToken({ sub, aud: AUD, iss: ISS }))).toMatch(/algorithm/);
    expect(await msg(await hsToken(SECRET, { aud: AUD, iss: ISS }, { exp: '1h' }))).toMatch(/sub/);
  });

  it('a token that expires mid-session closes the socket with 4001; others carry on', async () => {
    const room = uniq('exp');
    const stay = await open(uniq('stay'));
    await stay.ok({ type: 'join', room });
    const user = uniq('short');
    const short = await openAt(wsUrl(node, await token(user, {}, { exp: Math.floor(Date.now() / 1000) + 2 })), clients);
    await short.ok({ type: 'join', room });
    const closed = await closedWithin(short, 4000);
    expect(closed.code).toBe(4001);
    await stay.waitFor(
      (f) => f.type === 'presence' && f.event === 'leave' && (f.member as { user: string }).user === user,
    );
    expect(await stay.ok({ type: 'ping' })).toEqual({});
    await expectHealthy(node, (u) => open(u));
  });

  it('a token valid for 40 days is not closed early (timer overflow)', async () => {
    const c = await openAt(wsUrl(node, await token(uniq('long'), {}, { exp: '40d' })), clients);
    await sleep(300);
    expect(await c.ok({ type: 'ping' })).toEqual({});
    expect(c.ws.readyState).toBe(c.ws.OPEN);
  });

  it('the rooms claim limits joins, history and room presence (FORBIDDEN); dm rooms belong to their two users', async () => {
    const ann = uniq('ann');
    const bob = uniq('bob');
    const [first, second] = ann < bob ? [ann, bob] : [bob, ann];
    const dm = `dm:${first}:${second}`;
    const a = await open(ann, { rooms: ['team-*', 'lobby'] });
    const forbidden = async (frame: Record<string, unknown>): Promise<void> => {
      const r = await a.request(frame);
      expect(r.ok, JSON.stringify(frame)).toBe(false);
      if (!r.ok) expect(r.error.code, JSON.stringify(frame)).toBe('FORBIDDEN');
    };
    await a.ok({ type: 'join', room: `team-${uniq('red')}` });
    await a.ok({ type: 'join', room: 'lobby' });
    for (const room of [
      'secret',
      'lobby2',
      'xteam-red',
      'team',
      `dm:${uniq('x')}:${uniq('y')}`,
      `dm:${second}:${first}`,
      `dm:${ann}`,
      `dm:${ann}:${ann}`,
    ]) {
      await forbidden({ type: 'join', room });
      await forbidden({ type: 'history', room });
      await forbidden({ type: 'presence', room });
    }
    // Their own dm room is allowed whatever the rooms claim says.
    await a.ok({ type: 'join', room: dm });
    const b = await open(bob, { rooms: [] });
    const br = await b.request({ type: 'join', room: 'lobby' });
    expect(br.ok).toBe(false);
    if (!br.ok) expect(br.error.code).toBe('FORBIDDEN');
    await b.ok({ type: 'join', room: dm });
    await a.ok({ type: 'send', room: dm, text: 'private' });
    await b.waitFor((f) => f.type === 'message' && f.room === dm);
    // A third user cannot read or join it.
    const eve = await open(uniq('eve'));
    for (const type of ['join', 'history', 'presence']) {
      const r = await eve.request({ type, room: dm });
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error.code).toBe('FORBIDDEN');
    }
    await expectHealthy(node, (u) => open(u));
  });

  it('connections of one user are limited per user in JWT mode too', async () => {
    const n = await startNode({ env: { PARLEY_JWT_SECRET: SECRET, PARLEY_MAX_CONNECTIONS_PER_USER: '2' } });
    try {
      const tok = await hsToken(SECRET, { sub: 'same' }, { exp: '1h' });
      const local: TestClient[] = [];
      await openAt(wsUrl(n, tok), local);
      await openAt(wsUrl(n, tok), local);
      await expectRefused(wsUrl(n, tok), 429, 'LIMIT');
      for (const c of local) c.close();
    } finally {
      await n.stop();
    }
  });
});

describe('JWT with a public key', () => {
  const nodes: RunningNode[] = [];
  const clients: TestClient[] = [];
  afterAll(async () => {
    for (const c of clients) c.ws.terminate();
    for (const n of nodes) await n.stop();
  });
  const start = async (key: string): Promise<RunningNode> => {
    const n = await startNode({ env: { PARLEY_JWT_PUBLIC_KEY: key } });
    nodes.push(n);
    return n;
  };

  it('RSA: RS256 and PS256 accepted; HS256 signed with the public key as secret, other keys and alg none refused (401)', async () => {
    const n = await start(pem(rsa.publicKey));
    for (const alg of ['RS256', 'PS256', 'RS512']) {
      const c = await openAt(wsUrl(n, await signWith(alg, rsa.privateKey, { sub: uniq(alg) })), clients);
      expect(await c.ok({ type: 'ping' })).toEqual({});
    }
    const sub = uniq('mallory');
    const publicPem = pem(rsa.publicKey);
    const refused: Array<[string, string]> = [
      ['HS256 with the PEM as secret', await signWith('HS256', new TextEncoder().encode(publicPem), { sub })],
      [
        'HS256 with the PEM (trimmed) as secret',
        await signWith('HS256', new TextEncoder().encode(publicPem.trim()), { sub }),
      ],
      [
        'HS256 with the DER as secret',
        await signWith('HS256', new Uint8Array(rsa.publicKey.export({ type: 'spki', format: 'der' })), { sub }),
      ],
      ['RS256 by another key', await signWith('RS256', rsaOther.privateKey, { sub })],
      ['ES256 token', await signWith('ES256', ec.privateKey, { sub })],
      ['EdDSA token', await signWith('EdDSA', ed.privateKey, { sub })],
      ['alg none', noneToken({ sub })],
      ['expired RS256', await signWith('RS256', rsa.privateKey, { sub }, {}, Math.floor(Date.now() / 1000) - 30)],
      [
        'RS256 with embedded jwk header',
        await signWith('RS256', rsaOther.privateKey, { sub }, { jwk: await exportJWK(rsaOther.publicKey) }),
      ],
    ];
    for (const [what, tok] of refused) {
      const r = await expectRefused(wsUrl(n, tok), 401, 'UNAUTHORIZED');
      expect(r.body.error?.message, what).toBeTruthy();
    }
    await expectHealthy(n, async (u) => openAt(wsUrl(n, await signWith('RS256', rsa.privateKey, { sub: u })), clients));
  });

  it('EC P-256: ES256 accepted; RS256 and HS256-with-the-key refused', async () => {
    const n = await start(pem(ec.publicKey).replace(/\n/g, '\\n')); // as found in .env files
    const ok = await openAt(wsUrl(n, await signWith('ES256', ec.privateKey, { sub: uniq('ec') })), clients);
    expect(await ok.ok({ type: 'ping' })).toEqual({});
    await expectRefused(wsUrl(n, await signWith('RS256', rsa.privateKey, { sub: 'x' })), 401, 'UNAUTHORIZED');
    await expectRefused(
      wsUrl(n, await signWith('HS256', new TextEncoder().encode(pem(ec.publicKey)), { sub: 'x' })),
      401,
      'UNAUTHORIZED',
    );
  });

  it('Ed25519: EdDSA accepted; ES256 refused', async () => {
    const n = await start(pem(ed.publicKey));
    const ok = await openAt(wsUrl(n, await signWith('EdDSA', ed.privateKey, { sub: uniq('ed') })), clients);
    expect(await ok.ok({ type: 'ping' })).toEqual({});
    await expectRefused(wsUrl(n, await signWith('ES256', ec.privateKey, { sub: 'x' })), 401, 'UNAUTHORIZED');
  });
});

describe('JWT with a JWKS URL', () => {
  let jwks: Server;
  let jwksUrl: string;
  let fetches = 0;
  let mode: 'serve' | 'hang' | 'error' = 'serve';
  const hung: Array<() => void> = [];
  let node: RunningNode;
  const clients: TestClient[] = [];

  beforeAll(async () => {
    const keys = {
      keys: [
        { ...(await exportJWK(rsa.publicKey)), kid: 'rsa-1', use: 'sig', alg: 'RS256' },
        { ...(await exportJWK(ec.publicKey)), kid: 'ec-1', use: 'sig', alg: 'ES256' },
      ],
    };
    jwks = createServer((req, res) => {
      fetches++;
      if (mode === 'hang') {
        hung.push(() => res.destroy());
        return;
      }
      if (mode === 'error') {
        res.writeHead(500).end('oops');
        return;
      }
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(keys));
    });
    await new Promise<void>((r) => jwks.listen(0, '127.0.0.1', () => r()));
    jwksUrl = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/.well-known/jwks.json`;
    node = await startNode({ env: { PARLEY_JWKS_URL: jwksUrl } });
  });
  afterAll(async () => {
    for (const c of clients) c.ws.terminate();
    await node.stop();
    for (const h of hung) h();
    jwks.closeAllConnections();
    await new Promise<void>((r) => jwks.close(() => r()));
  });

  const rsaToken = (sub: string, kid = 'rsa-1') => signWith('RS256', rsa.privateKey, { sub }, { kid });

  it('accepts tokens signed by keys of the set and caches the set', async () => {
    for (let i = 0; i < 5; i++) {
      const c = await openAt(wsUrl(node, await rsaToken(uniq('j'))), clients);
      expect(await c.ok({ type: 'ping' })).toEqual({});
    }
    const e = await openAt(
      wsUrl(node, await signWith('ES256', ec.privateKey, { sub: uniq('e') }, { kid: 'ec-1' })),
      clients,
    );
    expect(await e.ok({ type: 'ping' })).toEqual({});
    expect(fetches).toBe(1);
  });

  it('refuses unknown kids, other keys, HS256 and alg none (401)', async () => {
    const sub = uniq('x');
    const modulus = ((await exportJWK(rsa.publicKey)) as { n: string }).n;
    for (const tok of [
      await rsaToken(sub, 'unknown-kid'),
      await signWith('RS256', rsaOther.privateKey, { sub }, { kid: 'rsa-1' }),
      await signWith('HS256', new TextEncoder().encode(modulus), { sub }, { kid: 'rsa-1' }),
      await signWith('HS256', new TextEncoder().encode(pem(rsa.publicKey)), { sub }, { kid: 'rsa-1' }),
      noneToken({ sub }),
      await signWith('ES256', ec.privateKey, { sub }, { kid: 'rsa-1' }),
    ]) {
      await expectRefused(wsUrl(node, tok), 401, 'UNAUTHORIZED');
    }
    // An unknown kid may trigger at most one refetch (cooldown), not one per attempt.
    expect(fetches).toBeLessThanOrEqual(2);
    await expectHealthy(node, async (u) => openAt(wsUrl(node, await rsaToken(u)), clients));
  });

  it('upgrades still being authenticated count toward the per-IP limit (429 LIMIT)', async () => {
    const n = await startNode({
      env: { PARLEY_JWKS_URL: jwksUrl, PARLEY_MAX_CONNECTIONS_PER_IP: '2', PARLEY_HANDSHAKE_TIMEOUT_MS: '3000' },
    });
    try {
      mode = 'hang';
      const first = [tryUpgrade(wsUrl(n, await rsaToken('q1'))), tryUpgrade(wsUrl(n, await rsaToken('q2')))];
      await waitFor(async () => (await pending(n)) === 2, 10_000, 'two pending upgrades');
      await expectRefused(wsUrl(n, await rsaToken('q3')), 429, 'LIMIT');
      for (const r of await Promise.all(first)) expect(r.status).toBe(503);
      for (const h of hung.splice(0)) h();
    } finally {
      mode = 'serve';
      await n.stop();
    }
  });

  it('an unreachable key set gives 503 (retry), and pending handshakes are bounded and time out', async () => {
    // A fresh node so that nothing is cached.
    const n = await startNode({
      env: { PARLEY_JWKS_URL: jwksUrl, PARLEY_MAX_PENDING_UPGRADES: '2', PARLEY_HANDSHAKE_TIMEOUT_MS: '3000' },
    });
    try {
      mode = 'hang';
      const first = [tryUpgrade(wsUrl(n, await rsaToken('p1'))), tryUpgrade(wsUrl(n, await rsaToken('p2')))];
      await waitFor(async () => (await pending(n)) === 2, 10_000, 'two pending upgrades');
      const before = await breaches(n, 'pending_upgrades');
      await expectRefused(wsUrl(n, await rsaToken('p3')), 503, 'UNAVAILABLE');
      expect(await breaches(n, 'pending_upgrades')).toBe(before + 1);
      for (const r of await Promise.all(first)) {
        expect(r.status).toBe(503);
        expect(r.body.error?.code).toBe('UNAVAILABLE');
      }
      // They were answered by the handshake timeout (the key set never answered).
      expect(await breaches(n, 'handshake_timeout')).toBeGreaterThanOrEqual(2);
      for (const h of hung.splice(0)) h(); // the stuck fetch fails: a network error
      mode = 'error';
      // The node is alive; a failing key set is a 503, not a 401 and not a crash.
      await expectRefused(wsUrl(n, await rsaToken('p4')), 503, 'UNAVAILABLE');
      mode = 'serve';
      // Once the key set is back, the same node accepts tokens.
      const c = await openAt(wsUrl(n, await rsaToken(uniq('back'))), clients);
      expect(await c.ok({ type: 'ping' })).toEqual({});
    } finally {
      mode = 'serve';
      await n.stop();
    }
  });
});

describe('JWT key settings are checked at start (ConfigError)', () => {
  const bad: Array<[string, Record<string, string>, RegExp]> = [
    ['short secret', { PARLEY_JWT_SECRET: 'secret' }, /PARLEY_JWT_SECRET: must be at least 32 bytes/],
    ['garbage public key', { PARLEY_JWT_PUBLIC_KEY: 'not a key' }, /PARLEY_JWT_PUBLIC_KEY/],
    [
      'broken PEM',
      { PARLEY_JWT_PUBLIC_KEY: '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----' },
      /PARLEY_JWT_PUBLIC_KEY: cannot be read/,
    ],
    [
      'private key',
      { PARLEY_JWT_PUBLIC_KEY: rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() },
      /private key/,
    ],
    [
      'small RSA key',
      { PARLEY_JWT_PUBLIC_KEY: pem(generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey) },
      /2048/,
    ],
    ['two sources', { PARLEY_JWT_SECRET: SECRET, PARLEY_JWKS_URL: 'https://idp.example.com/jwks' }, /set only one/],
    ['JWKS over plain http', { PARLEY_JWKS_URL: 'http://idp.example.com/jwks' }, /https/],
    ['JWKS not a URL', { PARLEY_JWKS_URL: 'idp/jwks' }, /not a URL/],
  ];
  for (const [what, env, re] of bad) {
    it(`refuses ${what}`, () => {
      let err: unknown;
      try {
        loadConfig({ LOG_LEVEL: 'silent', ...env });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toMatch(re);
    });
  }

  it('accepts good settings', () => {
    expect(loadConfig({ PARLEY_JWT_SECRET: SECRET }).jwtSecret).toBe(SECRET);
    expect(loadConfig({ PARLEY_JWT_PUBLIC_KEY: pem(ed.publicKey) }).jwtPublicKey).toBeTruthy();
    expect(loadConfig({ PARLEY_JWKS_URL: 'https://idp.example.com/.well-known/jwks.json' }).jwksUrl).toBeTruthy();
  });
});
