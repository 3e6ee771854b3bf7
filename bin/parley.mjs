#!/usr/bin/env node
/**
 * The Parley command line, for running a server and poking at one by hand.
 * Built on the client SDK (dist/sdk, made by `npm run build`).
 *
 * @example
 * // npx parley serve --port 3000
 * // npx parley send general "hello from the shell" --user ann
 * // npx parley tail general
 * // npx parley who general
 * // PARLEY_API_KEY=... npx parley who --status online
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const DEFAULT_URL = 'ws://127.0.0.1:3000';

const USAGE = `Usage: parley <command> [options]

Commands:
  serve                   Run a Parley node (settings from the environment and
                          PARLEY_CONFIG, as for \`npm start\`; flags below win)
  send <room> <text...>   Send one message (text "-" reads it from stdin) and
                          print the stored message's id
  tail <room>             Print the room's latest messages, then new ones as
                          they arrive, until Ctrl-C (reconnects by itself).
                          As the default user "cli" it is invisible (not
                          listed online); with --user/--token it is you
  who [room]              List a room's members; without a room, the users
                          online cluster-wide (HTTP API: needs --key)

Connection (send, tail, who):
  --url <url>             Server address: ws://, wss://, http(s):// or host:port
                          (default ${DEFAULT_URL}; env PARLEY_URL)
  --user <id>             Dev-mode user id (env PARLEY_USER; default "cli")
  --name <name>           Dev-mode display name
  --token <jwt>           JWT for servers with auth (env PARLEY_TOKEN)
  --key <key>             API key for \`who\` without a room (env PARLEY_API_KEY)

Other options:
  --json                  Print JSON (one object per line)
  --history <n>           tail: how many earlier messages to print first (default 10)
  --presence              tail: also print joins, leaves and status changes
  --status <s>            who: online, away or busy (default online)
  --client-msg-id <id>    send: idempotency key (a retry with it stores nothing new)
  --port, --host, --redis, --config
                          serve: PORT, HOST, REDIS_URL, PARLEY_CONFIG
  --build                 serve: run \`npm run build\` first
  -h, --help              This help
  -v, --version           Print the version

Exit codes: 0 ok, 1 failed (the server's error code is printed), 2 bad usage.`;

class UsageError extends Error {}

function fail(message, code = 1) {
  process.stderr.write(`parley: ${message}\n`);
  process.exit(code);
}

function parse(argv) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        url: { type: 'string' },
        user: { type: 'string' },
        name: { type: 'string' },
        token: { type: 'string' },
        key: { type: 'string' },
        json: { type: 'boolean' },
        history: { type: 'string' },
        presence: { type: 'boolean' },
        status: { type: 'string' },
        'client-msg-id': { type: 'string' },
        port: { type: 'string' },
        host: { type: 'string' },
        redis: { type: 'string' },
        config: { type: 'string' },
        build: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
    });
  } catch (err) {
    throw new UsageError(err.message);
  }
}

async function loadSdk() {
  const entry = join(ROOT, 'dist/sdk/index.js');
  if (!existsSync(entry)) fail('the SDK is not built: run `npm run build` in the Parley folder first');
  const [sdk, ws] = await Promise.all([import(pathToFileURL(entry).href), import('ws')]);
  return { ParleyClient: sdk.ParleyClient, WebSocket: ws.default };
}

/** The server address as given, with `ws://` added to a bare `host:port`. */
function serverUrl(values) {
  const url = values.url ?? process.env.PARLEY_URL ?? DEFAULT_URL;
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? url : `ws://${url}`;
}

/** True when no identity was given: the CLI is the anonymous dev-mode user "cli". */
function isDefaultUser(values) {
  return !(values.token ?? process.env.PARLEY_TOKEN) && !(values.user ?? process.env.PARLEY_USER);
}

/** Connection options shared by send, tail and who. */
function clientOptions(values, reconnect) {
  const url = serverUrl(values);
  const token = values.token ?? process.env.PARLEY_TOKEN;
  const opts = { url, reconnect, requestTimeoutMs: 10_000 };
  if (token) opts.token = token;
  else opts.user = values.user ?? process.env.PARLEY_USER ?? 'cli';
  if (values.name) opts.name = values.name;
  return opts;
}

async function connected(values, reconnect) {
  const { ParleyClient, WebSocket } = await loadSdk();
  const client = new ParleyClient({ ...clientOptions(values, reconnect), WebSocket });
  try {
    await client.connect();
  } catch (err) {
    fail(`cannot connect to ${clientOptions(values, reconnect).url}: ${err.message}`);
  }
  return client;
}

function time(ts) {
  return new Date(ts).toTimeString().slice(0, 8);
}

function printMessage(m, json) {
  if (json) process.stdout.write(`${JSON.stringify(m)}\n`);
  else process.stdout.write(`[${time(m.ts)}] ${m.name ? `${m.name} (${m.from})` : m.from}: ${m.text}\n`);
}

function describeEntry(e) {
  const who = e.name ? `${e.user} (${e.name})` : e.user;
  const text = e.text ? `  "${e.text}"` : '';
  const seen = e.status === 'offline' && e.lastSeen ? `  last seen ${new Date(e.lastSeen).toISOString()}` : '';
  return `${who}  ${e.status}${text}${seen}`;
}

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return Buffer.concat(chunks).toString().replace(/\n$/, '');
}

async function cmdSend(values, args) {
  const [room, ...words] = args;
  if (!room || words.length === 0) throw new UsageError('send needs a room and a text: parley send <room> <text...>');
  const text = words.length === 1 && words[0] === '-' ? await readStdin() : words.join(' ');
  const client = await connected(values, false);
  try {
    await client.join(room);
    const opts = values['client-msg-id'] ? { clientMsgId: values['client-msg-id'] } : {};
    const message = await client.send(room, text, opts);
    process.stdout.write(values.json ? `${JSON.stringify(message)}\n` : `${message.id}\n`);
  } catch (err) {
    fail(`send failed: ${err.code ?? 'ERROR'}: ${err.message}`);
  } finally {
    client.close();
  }
}

async function cmdTail(values, args) {
  const [room] = args;
  if (!room || args.length > 1) throw new UsageError('tail needs one room: parley tail <room>');
  const n = values.history === undefined ? 10 : Number(values.history);
  if (!Number.isInteger(n) || n < 0 || n > 200) throw new UsageError('--history must be an integer from 0 to 200');
  const client = await connected(values, true);
  const json = values.json === true;
  let stopping = false;
  const note = (line) => {
    if (json) return;
    process.stderr.write(`-- ${line}\n`);
  };
  client.on('message', (m) => {
    if (m.room === room) printMessage(m, json);
  });
  if (values.presence) {
    client.on('presence', (c) => {
      if (c.room !== room) return;
      if (json) process.stdout.write(`${JSON.stringify({ type: 'presence', ...c })}\n`);
      else note(`${describeEntry(c.member)} (${c.event})`);
    });
  }
  client.on('state', (s) => {
    if (s.state === 'reconnecting') note(`connection lost (${s.closeCode ?? 'no code'}); reconnecting`);
    else if (s.state === 'connected' && s.previous === 'reconnecting') note('reconnected');
    else if (s.state === 'closed' && s.error && !stopping) fail(`disconnected: ${s.error.message}`);
  });
  client.on('reset', () => note('some messages may have been missed while disconnected'));
  client.on('error', (err, ctx) => note(`error${ctx.room ? ` in ${ctx.room}` : ''}: ${err.code}: ${err.message}`));
  try {
    // Watching is not being there: the default "cli" user does not show up online in the room.
    if (isDefaultUser(values)) await client.setStatus('invisible');
    if (n > 0) {
      const page = await client.history(room, { limit: n });
      for (const m of page.messages) printMessage(m, json);
    }
    const info = await client.join(room);
    note(`tailing ${room} (${info.count} member${info.count === 1 ? '' : 's'}); Ctrl-C to stop`);
  } catch (err) {
    client.close();
    fail(`tail failed: ${err.code ?? 'ERROR'}: ${err.message}`);
  }
  const stop = () => {
    stopping = true;
    client.close();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

function httpBase(url) {
  const u = new URL(url);
  u.protocol = u.protocol === 'wss:' ? 'https:' : u.protocol === 'ws:' ? 'http:' : u.protocol;
  u.pathname = u.pathname.replace(/\/ws\/?$/, '/');
  u.search = '';
  return u.toString().replace(/\/$/, '');
}

async function cmdWho(values, args) {
  if (args.length > 1) throw new UsageError('who takes at most one room: parley who [room]');
  const [room] = args;
  const json = values.json === true;
  if (room) {
    const client = await connected(values, false);
    try {
      const r = await client.presence(room);
      if (json) process.stdout.write(`${JSON.stringify(r)}\n`);
      else {
        for (const e of r.members ?? []) process.stdout.write(`${describeEntry(e)}\n`);
        process.stdout.write(`${r.count} member${r.count === 1 ? '' : 's'} in ${room}\n`);
      }
    } catch (err) {
      fail(`who failed: ${err.code ?? 'ERROR'}: ${err.message}`);
    } finally {
      client.close();
    }
    return;
  }
  const status = values.status ?? 'online';
  if (!['online', 'away', 'busy'].includes(status)) throw new UsageError('--status must be online, away or busy');
  const key = values.key ?? process.env.PARLEY_API_KEY;
  if (!key) fail('`who` without a room uses the HTTP API: give --key or set PARLEY_API_KEY (or name a room)');
  const base = httpBase(serverUrl(values));
  let res;
  try {
    res = await fetch(`${base}/api/presence?status=${status}`, { headers: { Authorization: `Bearer ${key}` } });
  } catch (err) {
    fail(`cannot reach ${base}: ${err.cause?.message ?? err.message}`);
  }
  const body = await res.json().catch(() => ({}));
  if (!res.ok) fail(`who failed: ${res.status} ${body.error?.code ?? ''}: ${body.error?.message ?? res.statusText}`);
  if (json) process.stdout.write(`${JSON.stringify(body)}\n`);
  else {
    for (const e of body.users) process.stdout.write(`${describeEntry(e)}\n`);
    process.stdout.write(`${body.count} user${body.count === 1 ? '' : 's'} ${status}\n`);
  }
}

async function cmdServe(values, args) {
  if (args.length > 0)
    throw new UsageError('serve takes no arguments (settings come from flags, the environment or PARLEY_CONFIG)');
  if (values.port !== undefined) process.env.PORT = values.port;
  if (values.host !== undefined) process.env.HOST = values.host;
  if (values.redis !== undefined) process.env.REDIS_URL = values.redis;
  if (values.config !== undefined) process.env.PARLEY_CONFIG = values.config;
  const main = join(ROOT, 'dist/server/main.js');
  if (values.build || !existsSync(main)) {
    process.stderr.write('parley: building (npm run build)...\n');
    const built = spawnSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: ['ignore', 2, 2] });
    if (built.status !== 0 || !existsSync(main)) fail('the build failed; see above');
  }
  await import(pathToFileURL(main).href);
}

async function cli(argv) {
  const { values, positionals } = parse(argv);
  if (values.version) {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    process.stdout.write(`${pkg.version}\n`);
    return;
  }
  const [command, ...args] = positionals;
  if (values.help || command === undefined || command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    if (command === undefined && !values.help) process.exitCode = 2;
    return;
  }
  switch (command) {
    case 'serve':
      return cmdServe(values, args);
    case 'send':
      await cmdSend(values, args);
      return process.exit(0);
    case 'tail':
      return cmdTail(values, args);
    case 'who':
      await cmdWho(values, args);
      return process.exit(0);
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

cli(process.argv.slice(2)).catch((err) => {
  if (err instanceof UsageError) fail(`${err.message}\n(see parley --help)`, 2);
  fail(err?.stack ?? String(err));
});
