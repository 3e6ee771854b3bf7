/**
 * The web page in a real browser (Debian's chromium via playwright-core)
 * against real Parley nodes: two nodes on one Redis, pages served by the
 * nodes themselves. Screenshots land in test-results/e2e/.
 */
import { describe, expect, it } from 'vitest';
import type { BrowserContext } from 'playwright-core';
import type { RunningNode } from '../support/server.js';
import { waitFor } from '../support/ports.js';
import {
  DESKTOP,
  PHONE,
  joinRoom,
  messageIds,
  messageTexts,
  openPage,
  pageErrors,
  sendMessage,
  shot,
  signIn,
  twoNodeStage,
} from './browser.js';

const API_KEY = 'e2e-api-key-0123456789abcdef0123';
const stage = twoNodeStage(API_KEY);
const context = (options?: typeof DESKTOP | typeof PHONE): Promise<BrowserContext> => stage.context(options);

async function post(node: RunningNode, room: string, from: string, text: string): Promise<void> {
  const res = await fetch(`${node.url}/api/rooms/${room}/messages`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${API_KEY}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ from, text }),
  });
  if (res.status !== 201) throw new Error(`publish failed: ${res.status} ${await res.text()}`);
}

describe('web chat page in chromium', { timeout: 90_000 }, () => {
  it('two people chat in one room across two nodes; typing, unread counts, text never HTML', async () => {
    const ann = await openPage(await context(DESKTOP), stage.nodeA.url);
    await shot(ann, '01-sign-in');
    await signIn(ann, 'Ann Lee');
    const bob = await openPage(await context(PHONE), stage.nodeB.url);
    await shot(bob, '01-sign-in-phone');
    await signIn(bob, 'Bob');

    // Both see each other online in #general.
    await ann.waitForSelector('#people [data-name="Bob"] .dot[data-status="online"]');
    await sendMessage(ann, 'Hello from node A — ¡hola!');
    await bob.waitForSelector('text=Hello from node A');
    await bob.fill('#composer-input', 'Hi Ann');
    await ann.waitForSelector('#typing.on >> text=Bob is typing…');
    await bob.press('#composer-input', 'Enter');
    await ann.waitForSelector('#msg-list .msg-text >> text=Hi Ann');

    // A message that is HTML shows as text and runs nothing.
    const evil = '<img src=x onerror="window.__pwned=1;alert(1)"> <b>bold?</b> <script>window.__pwned=2</script>';
    await sendMessage(bob, evil);
    await waitFor(async () => (await messageTexts(ann)).includes(evil), 5000, 'the HTML message on ann');
    expect(await ann.$$('#msg-list img, #msg-list b, #msg-list script')).toHaveLength(0);
    expect(await ann.evaluate(() => (window as { __pwned?: number }).__pwned)).toBeUndefined();
    expect(await bob.evaluate(() => (window as { __pwned?: number }).__pwned)).toBeUndefined();

    // Unread count on a room that is not open; switching clears it.
    await joinRoom(ann, 'random');
    await joinRoom(bob, 'random');
    await ann.click('.room[data-room="general"]');
    await sendMessage(bob, 'over in random');
    const badge = await ann.waitForSelector('.room[data-room="random"] .badge');
    expect(await badge.textContent()).toBe('1');
    await ann.waitForFunction(() => document.title.startsWith('(1)'));
    await shot(ann, '02-desktop-chat');
    await shot(bob, '03-phone-chat');
    await bob.click('#open-rooms');
    await bob.waitForTimeout(300);
    await shot(bob, '04-phone-rooms-drawer');
    await ann.click('.room[data-room="random"]');
    await ann.waitForSelector('#msg-list .msg-text >> text=over in random');
    expect(await ann.$('.room[data-room="random"] .badge')).toBeNull();

    const annIds = await ann.click('.room[data-room="general"]').then(() => messageIds(ann));
    expect(new Set(annIds).size).toBe(annIds.length);
    expect(await messageTexts(ann)).toEqual(['Hello from node A — ¡hola!', 'Hi Ann', evil]);
    expect(pageErrors(ann)).toEqual([]);
    expect(pageErrors(bob)).toEqual([]);
  });

  it("the other user's presence dot turns away on inactivity, busy with text, and offline when the page closes", async () => {
    const ann = await openPage(await context(DESKTOP), stage.nodeA.url);
    await signIn(ann, 'Ann Lee');
    const carolCtx = await context(DESKTOP);
    const carol = await openPage(carolCtx, `${stage.nodeB.url}/?idle=3`);
    await signIn(carol, 'Carol');

    const dot = '#people [data-name="Carol"] .dot';
    await ann.waitForSelector(`${dot}[data-status="online"]`);
    // Carol does nothing for 3 s: auto-away.
    await ann.waitForSelector(`${dot}[data-status="away"]`, { timeout: 10_000 });
    await carol.waitForSelector('#my-status[data-status="away"]');
    await shot(ann, '05-presence-away');
    // She comes back.
    await carol.mouse.move(200, 200);
    await carol.mouse.move(220, 260);
    await ann.waitForSelector(`${dot}[data-status="online"]`);

    // The status picker: busy with a text.
    await carol.click('#me');
    await carol.click('.status-option[data-status="busy"]');
    await carol.fill('#status-text', 'In a meeting until 3');
    await shot(carol, '06-status-picker');
    await carol.click('#status-save');
    await ann.waitForSelector(`${dot}[data-status="busy"]`);
    await ann.waitForSelector('#people [data-name="Carol"] >> text=In a meeting until 3');
    await shot(ann, '07-presence-busy');

    // Invisible: offline to Ann, "Invisible" to herself.
    await carol.click('#me');
    await carol.click('.status-option[data-status="invisible"]');
    await carol.click('#status-save');
    await ann.waitForSelector(`${dot}[data-status="offline"]`);
    await carol.click('#me');
    await carol.click('.status-option[data-status="online"]');
    await carol.click('#status-save');
    await ann.waitForSelector(`${dot}[data-status="online"]`);

    // The page closes: offline.
    await carol.close();
    await ann.waitForSelector(`${dot}[data-status="offline"]`, { timeout: 20_000 });
    await ann.waitForSelector('#people [data-name="Carol"] >> text=/Last seen/');
    await shot(ann, '08-presence-offline');
    expect(pageErrors(ann)).toEqual([]);
  });

  it('history loads as you scroll up, in order, to the start of the room', async () => {
    for (let i = 0; i < 130; i++) await post(stage.nodeB, 'archive', 'dana', `archived message ${i}`);
    const ann = await openPage(await context(DESKTOP), stage.nodeA.url);
    await signIn(ann, 'Ann Lee');
    await joinRoom(ann, 'archive');
    await waitFor(async () => (await messageTexts(ann)).length >= 50, 5000, 'first page');
    const first = await messageTexts(ann);
    expect(first.length).toBe(50);
    expect(first.at(-1)).toBe('archived message 129');
    expect(first).not.toContain('archived message 0');
    // Scrolled to the bottom at first.
    expect(await ann.$eval('#messages', (el) => el.scrollHeight - el.scrollTop - el.clientHeight)).toBeLessThan(5);

    await ann.$eval('#messages', (el) => el.scrollTo(0, 0));
    await waitFor(async () => (await messageTexts(ann)).length >= 100, 5000, 'second page on scroll');
    await shot(ann, '09-history-scrolled');
    for (let i = 0; i < 10 && !(await ann.$('#history-edge[data-state="start"]')); i++) {
      await ann.$eval('#messages', (el) => el.scrollTo(0, 0));
      await ann.waitForTimeout(300);
    }
    await ann.waitForSelector('#history-edge[data-state="start"]');
    const all = await messageTexts(ann);
    expect(all).toEqual(Array.from({ length: 130 }, (_, i) => `archived message ${i}`));
    await ann.$eval('#messages', (el) => el.scrollTo(0, 0));
    await shot(ann, '10-history-start');
    expect(pageErrors(ann)).toEqual([]);
  });

  it('a node restart loses nothing: the banner shows, missed and offline-typed messages arrive once', async () => {
    const ann = await openPage(await context(PHONE), stage.nodeA.url);
    await signIn(ann, 'Ann Lee');
    await joinRoom(ann, 'restart');
    const bob = await openPage(await context(DESKTOP), stage.nodeB.url);
    await signIn(bob, 'Bob');
    await joinRoom(bob, 'restart');
    await sendMessage(bob, 'before the restart');
    await ann.waitForSelector('#msg-list .msg-text >> text=before the restart');

    const port = stage.nodeA.port;
    await stage.nodeA.stop();
    await ann.waitForSelector('#banner[data-state="reconnecting"]', { timeout: 10_000 });
    for (let i = 1; i <= 3; i++) await sendMessage(bob, `missed ${i}`);
    await sendMessage(ann, 'typed while offline');
    await ann.waitForSelector('.msg.pending >> text=typed while offline');
    await shot(ann, '11-reconnecting-banner');

    await stage.startNodeAAgain(port);
    // The banner goes away ("Back online") once the node is back.
    await ann.waitForFunction(
      () => document.querySelector('#banner')?.getAttribute('data-state') !== 'reconnecting',
      null,
      { timeout: 30_000 },
    );
    const expected = ['before the restart', 'missed 1', 'missed 2', 'missed 3', 'typed while offline'];
    await waitFor(async () => (await messageTexts(ann)).length === expected.length, 15_000, 'ann caught up');
    await waitFor(async () => (await messageTexts(bob)).includes('typed while offline'), 10_000, 'bob got it');
    await ann.waitForTimeout(500);
    await shot(ann, '12-after-restart');
    expect(await messageTexts(ann)).toEqual(expected);
    expect(await messageTexts(bob)).toEqual(expected);
    expect(await ann.$$('.msg.pending')).toHaveLength(0);
    const ids = await messageIds(ann);
    expect(new Set(ids).size).toBe(ids.length);
    expect(pageErrors(ann)).toEqual([]);
  });
});
