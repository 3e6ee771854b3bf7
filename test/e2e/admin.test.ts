/**
 * The admin dashboard in Chromium against a real node: the API key asked
 * once (kept in sessionStorage across reloads), nodes, traffic chart,
 * presence counts, busiest rooms, breaches; publish and kick from the page;
 * usable at phone width. Screenshots in test-results/e2e/admin-*.png.
 */
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNode, type RunningNode } from '../support/server.js';
import { waitFor } from '../support/ports.js';
import { DESKTOP, ensureWebBuilt, launch, PHONE, SHOTS } from './browser.js';

const KEY = 'admin-e2e-key';

describe('admin dashboard', () => {
  let node: RunningNode;
  let browser: Browser;
  beforeAll(async () => {
    ensureWebBuilt();
    node = await startNode({ env: { PARLEY_API_KEY: KEY, PARLEY_SEND_RATE: '1', PARLEY_SEND_BURST: '1' } });
    browser = await launch();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await node?.stop();
  });

  it('asks for the key once, shows the cluster, publishes and kicks; fits a phone', async () => {
    const ann = await node.client('ann');
    const bob = await node.client('bob');
    await ann.ok({ type: 'join', room: 'general' });
    await bob.ok({ type: 'join', room: 'general' });
    await bob.ok({ type: 'join', room: 'random' });
    await ann.ok({ type: 'status', status: 'away' });
    await ann.ok({ type: 'send', room: 'general', text: 'one' });
    // A second send at once breaks the 1/s send rate: a limit breach to show.
    const limited = await ann.request({ type: 'send', room: 'general', text: 'two' });
    expect(limited.ok).toBe(false);

    const ctx = await browser.newContext(DESKTOP);
    const page = await ctx.newPage();
    await page.goto(`${node.url}/admin`);
    expect(new URL(page.url()).pathname).toBe('/admin/');
    await page.fill('input[name=key]', 'wrong');
    await page.click('button[type=submit]');
    await page.waitForSelector('.note.error');
    expect(await page.textContent('.note.error')).toContain('API key');
    await page.fill('input[name=key]', KEY);
    await page.click('button[type=submit]');
    await page.waitForSelector('table td');
    const nodeId = node.node.config.nodeId;
    expect(await page.textContent('table')).toContain(nodeId);
    expect(await page.textContent('main')).toContain('general: 2 members');
    // Samples every 5 s: wait for the chart's data and the breach to show.
    await waitFor(
      async () => ((await page.textContent('main')) ?? '').includes('send_rate'),
      30_000,
      'the breach on the page',
    );
    const tiles = await page.textContent('.tiles');
    expect(tiles).toMatch(/2\s*connections/);
    expect(tiles).toMatch(/1\s*online/);
    expect(tiles).toMatch(/1\s*away/);
    const history = (await (
      await fetch(`${node.url}/api/admin/history`, { headers: { Authorization: `Bearer ${KEY}` } })
    ).json()) as { samples: { messagesPerSec: number }[] };
    expect(history.samples.length).toBeGreaterThan(0);

    // Publish from the page: members get it.
    const forms = page.locator('form');
    const publish = forms.nth(0);
    await publish.locator('input[name=room]').fill('general');
    await publish.locator('input[name=from]').fill('admin');
    await publish.locator('input[name=text]').fill('hello from the dashboard');
    await publish.locator('button').click();
    await bob.waitFor(
      (f) => f.type === 'message' && (f.message as { text: string }).text === 'hello from the dashboard',
    );
    await page.screenshot({ path: join(SHOTS, 'admin-desktop.png'), fullPage: true });

    // Kick from the page: the user's connections close with 4003.
    const kick = forms.nth(1);
    await kick.locator('input[name=user]').fill('bob');
    await kick.locator('button').click();
    expect((await bob.closed).code).toBe(4003);
    await page.waitForSelector('text=bob disconnected on every node');

    // The key is kept for the tab: a reload goes straight to the dashboard.
    await page.reload();
    await page.waitForSelector('table td');
    expect(await page.locator('input[name=key]').count()).toBe(0);
    await ctx.close();

    const phone = await browser.newContext(PHONE);
    const p = await phone.newPage();
    await p.goto(`${node.url}/admin/`);
    await p.fill('input[name=key]', KEY);
    await p.click('button[type=submit]');
    await p.waitForSelector('table td');
    const overflow = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await p.screenshot({ path: join(SHOTS, 'admin-phone.png'), fullPage: true });
    await phone.close();
    ann.close();
  }, 90_000);
});
