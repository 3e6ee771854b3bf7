/**
 * The programs in examples/ run as written (node examples/<file>.mjs, the
 * package importing itself by name: `parley`, `parley/client`).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startNode, type RunningNode } from '../support/server.js';
import { connect } from '../support/client.js';
import { freePort, waitFor } from '../support/ports.js';
import { requireBuild, run, waitExit, waitHealthy, type Run } from './proc.js';

describe('examples', () => {
  const running: Run[] = [];
  let node: RunningNode | null = null;
  afterEach(async () => {
    for (const r of running.splice(0)) {
      if (r.child.exitCode === null) r.child.kill('SIGKILL');
    }
    await node?.stop();
    node = null;
  });

  it('http-app.mjs: the app keeps its routes; Parley serves /ws, /api and /healthz on its port; SIGTERM stops cleanly', async () => {
    requireBuild();
    const port = await freePort();
    const app = run(['examples/http-app.mjs'], { PORT: String(port), PARLEY_API_KEY: 'example-key' });
    running.push(app);
    await waitHealthy(app, port);
    const base = `http://127.0.0.1:${port}`;
    expect(await (await fetch(`${base}/hello`)).text()).toBe('hello from the app\n');
    const c = await connect(`ws://127.0.0.1:${port}/ws?user=ann`);
    await c.ok({ type: 'join', room: 'general' });
    const presence = await fetch(`${base}/api/rooms/general/presence`, {
      headers: { Authorization: 'Bearer example-key' },
    });
    expect(((await presence.json()) as { count: number }).count).toBe(1);
    app.child.kill('SIGTERM');
    expect((await c.closed).code).toBe(1001);
    expect(await waitExit(app, 15_000)).toBe(0);
    expect(app.stdout()).toContain(`app on http://127.0.0.1:${port}`);
  });

  it('bot.mjs answers !ping and !echo in its room', async () => {
    requireBuild();
    node = await startNode();
    const bot = run(['examples/bot.mjs'], { PARLEY_URL: node.wsUrl, PARLEY_ROOM: 'lobby' });
    running.push(bot);
    await waitFor(() => bot.stdout().includes('bot: answering in lobby as bot'), 15_000, `the bot: ${bot.stderr()}`);
    const ann = await node.client('ann');
    await ann.ok({ type: 'join', room: 'lobby' });
    await ann.ok({ type: 'send', room: 'lobby', text: '!ping' });
    await ann.waitFor((f) => f.type === 'message' && (f.message as { from: string; text: string }).text === 'pong');
    await ann.ok({ type: 'send', room: 'lobby', text: '!echo hello bot' });
    const echo = await ann.waitFor((f) => f.type === 'message' && (f.message as { text: string }).text === 'hello bot');
    expect((echo.message as { from: string }).from).toBe('bot');
    await ann.ok({ type: 'send', room: 'lobby', text: 'just chatting' });
    bot.child.kill('SIGTERM');
    expect(await waitExit(bot, 10_000)).toBe(0);
    // The bot said nothing to a message that was not a command.
    expect(
      ann
        .messages('lobby')
        .filter((m) => m.from === 'bot')
        .map((m) => m.text),
    ).toEqual(['pong', 'hello bot']);
  });
});
