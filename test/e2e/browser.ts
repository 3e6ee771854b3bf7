/**
 * Browser e2e support: Debian's chromium driven by playwright-core, the built
 * page (dist/web, rebuilt when the sources are newer) and screenshots in
 * test-results/e2e/.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { startRedis, type RedisProcess } from '../support/redis.js';
import { startNode, type RunningNode } from '../support/server.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const SHOTS = join(ROOT, 'test-results', 'e2e');
const CHROMIUM = process.env.PARLEY_CHROMIUM ?? '/usr/bin/chromium';

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** Builds the page unless dist/web is newer than web/ and src/sdk/ (npm test's pretest normally did it). */
export function ensureWebBuilt(): void {
  const index = join(ROOT, 'dist', 'web', 'index.html');
  const sources = Math.max(newestMtime(join(ROOT, 'web')), newestMtime(join(ROOT, 'src', 'sdk')));
  if (existsSync(index) && statSync(index).mtimeMs >= sources) return;
  execFileSync(
    process.execPath,
    [join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--config', 'web/vite.config.ts'],
    {
      cwd: ROOT,
      stdio: 'inherit',
    },
  );
}

/** Launches chromium; a missing browser is a failure, never a skip (.ci/run installs it). */
export async function launch(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`chromium not found at ${CHROMIUM}: apt-get install chromium`);
  mkdirSync(SHOTS, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
    ],
  });
}

export const DESKTOP = { viewport: { width: 1280, height: 800 } };
export const PHONE = { viewport: { width: 375, height: 740 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 };

/** A page that fails the test on any page error (e.g. a script a message managed to run). */
export async function openPage(context: BrowserContext, url: string): Promise<Page> {
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('dialog', (d) => {
    errors.push(`unexpected dialog: ${d.message()}`);
    void d.dismiss();
  });
  (page as Page & { errors?: string[] }).errors = errors;
  await page.goto(url);
  return page;
}

export function pageErrors(page: Page): string[] {
  return (page as Page & { errors?: string[] }).errors ?? [];
}

export async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `${name}.png`) });
}

/** Signs in by name on the sign-in screen and waits for the chat. */
export async function signIn(page: Page, name: string): Promise<void> {
  await page.fill('#signin-name', name);
  await page.click('#signin-submit');
  await page.waitForSelector('#composer-input');
}

export async function sendMessage(page: Page, text: string): Promise<void> {
  await page.fill('#composer-input', text);
  await page.press('#composer-input', 'Enter');
}

/** The texts of the messages listed in the open room (stored ones, not pending). */
export function messageTexts(page: Page): Promise<string[]> {
  return page.$$eval('#msg-list .msg[data-id] .msg-text', (els) => els.map((e) => e.textContent ?? ''));
}

export function messageIds(page: Page): Promise<string[]> {
  return page.$$eval('#msg-list .msg[data-id]', (els) => els.map((e) => e.getAttribute('data-id') ?? ''));
}

export async function joinRoom(page: Page, room: string): Promise<void> {
  if (!(await page.isVisible('#join-input'))) await page.click('#open-rooms');
  await page.fill('#join-input', room);
  await page.press('#join-input', 'Enter');
  await page.waitForSelector(`.room.active[data-room="${room}"]`, { state: 'attached' });
}

/** Two nodes on one Redis and a browser, shared by a test file. */
export interface TwoNodeStage {
  readonly nodeA: RunningNode;
  readonly nodeB: RunningNode;
  /** Starts node A again on `port` (after a test stopped it), on the same Redis with the same API key. */
  startNodeAAgain(port: number): Promise<RunningNode>;
  /** A new browser context, closed after the test. */
  context(options?: typeof DESKTOP | typeof PHONE): Promise<BrowserContext>;
}

/**
 * Registers the file's hooks: the page built, one Redis, two nodes with the
 * API key, one browser (all stopped after the file); contexts closed after each test.
 *
 * @example
 * const stage = twoNodeStage('e2e-api-key');
 * const page = await openPage(await stage.context(), stage.nodeA.url);
 */
export function twoNodeStage(apiKey: string): TwoNodeStage {
  let redis: RedisProcess | undefined;
  let nodeA: RunningNode | undefined;
  let nodeB: RunningNode | undefined;
  let browser: Browser | undefined;
  const contexts: BrowserContext[] = [];
  beforeAll(async () => {
    ensureWebBuilt();
    redis = await startRedis();
    const env = { PARLEY_API_KEY: apiKey };
    nodeA = await startNode({ redisUrl: redis.url, env });
    nodeB = await startNode({ redisUrl: redis.url, env });
    browser = await launch();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await nodeA?.stop().catch(() => undefined);
    await nodeB?.stop().catch(() => undefined);
    await redis?.stop();
  });
  afterEach(async () => {
    for (const ctx of contexts.splice(0)) await ctx.close().catch(() => undefined);
  });
  const started = <T>(v: T | undefined): T => {
    if (v === undefined) throw new Error('the e2e stage is not started (use it inside tests)');
    return v;
  };
  return {
    get nodeA() {
      return started(nodeA);
    },
    get nodeB() {
      return started(nodeB);
    },
    async startNodeAAgain(port: number) {
      nodeA = await startNode({ redisUrl: started(redis).url, env: { PARLEY_API_KEY: apiKey, PORT: String(port) } });
      return nodeA;
    },
    async context(options = DESKTOP) {
      const ctx = await started(browser).newContext(options);
      contexts.push(ctx);
      return ctx;
    },
  };
}
