/**
 * The v2 web page in chromium against two real nodes on one Redis: message
 * actions (reply, edit, delete, react) seen live by the other page and after
 * a reload, and a moderator's tools (delete, mute, ban; the banned user sees
 * why; the topic in the header). Screenshots land in test-results/e2e/.
 */
import { describe, expect, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { waitFor } from '../support/ports.js';
import {
  DESKTOP,
  PHONE,
  joinRoom,
  messageTexts,
  openPage,
  pageErrors,
  sendMessage,
  shot,
  signIn,
  twoNodeStage,
} from './browser.js';

const API_KEY = 'e2e-v2-api-key-0123456789abcdef012';
const stage = twoNodeStage(API_KEY);
const context = (options?: typeof DESKTOP | typeof PHONE): Promise<BrowserContext> => stage.context(options);

/** The stored message row whose text contains `text`. */
function row(page: Page, text: string): ReturnType<Page['locator']> {
  return page.locator('#msg-list .msg[data-id]', { has: page.locator('.msg-content', { hasText: text }) });
}

/** Hovers the row and clicks one of its actions. */
async function act(page: Page, text: string, action: string): Promise<void> {
  const r = row(page, text);
  await r.hover();
  await r.locator(`[data-action="${action}"]`).click();
}

describe('web page v2 in chromium', { timeout: 90_000 }, () => {
  it('reply, edit, delete and react: the other page sees each change live and after a reload', async () => {
    const ann = await openPage(await context(), stage.nodeA.url);
    await signIn(ann, 'Ann Lee');
    await joinRoom(ann, 'life');
    const bob = await openPage(await context(), stage.nodeB.url);
    await signIn(bob, 'Bob');
    await joinRoom(bob, 'life');

    // Markdown and links, built from DOM nodes.
    await sendMessage(ann, 'Lunch at **12**? _maybe_ `later` see https://example.com/menu.');
    await row(bob, 'Lunch at').waitFor();
    const r = row(bob, 'Lunch at');
    expect(await r.locator('.msg-text strong').textContent()).toBe('12');
    expect(await r.locator('.msg-text em').textContent()).toBe('maybe');
    expect(await r.locator('.msg-text code').textContent()).toBe('later');
    const link = r.locator('.msg-text a');
    expect(await link.getAttribute('href')).toBe('https://example.com/menu');
    expect(await link.getAttribute('rel')).toBe('noopener noreferrer');

    // Bob answers: the quoted preview above the composer, then on the answer.
    await act(bob, 'Lunch at', 'reply');
    await bob.waitForSelector('#reply-bar:not([hidden]) >> text=Ann Lee');
    await shot(bob, '20-reply-composer');
    await sendMessage(bob, 'Yes, see you there');
    const answer = row(ann, 'Yes, see you there');
    await answer.locator('.msg-quote >> text=Lunch at').waitFor();
    await bob.waitForSelector('#reply-bar', { state: 'hidden' });

    // Ann edits hers (Esc cancels first), both see "(edited)".
    await act(ann, 'Lunch at', 'edit');
    await ann.press('.edit-input', 'Escape');
    await ann.waitForSelector('.edit-input', { state: 'detached' });
    await act(ann, 'Lunch at', 'edit');
    await ann.fill('.edit-input', 'Lunch at **12:30**? see https://example.com/menu');
    await ann.press('.edit-input', 'Enter');
    await row(bob, 'Lunch at 12:30').locator('.msg-edited').waitFor();
    await row(ann, 'Lunch at 12:30').locator('.msg-edited').waitFor();

    // Reactions: Bob picks 👍, Ann toggles the chip on (count 2, hers highlighted), 🎉 from the picker.
    await act(bob, 'Lunch at', 'react');
    await bob.click('#reaction-picker .pick[data-emoji="👍"]');
    const annChip = row(ann, 'Lunch at').locator('.chip[data-emoji="👍"]');
    await annChip.locator('.chip-count >> text=1').waitFor();
    await annChip.click();
    await annChip.locator('.chip-count >> text=2').waitFor();
    expect(await annChip.getAttribute('class')).toContain('mine');
    expect(await annChip.getAttribute('title')).toMatch(/Bob, You/);
    await act(ann, 'Lunch at', 'react');
    await ann.click('#reaction-picker .pick[data-emoji="🎉"]');
    await row(bob, 'Lunch at').locator('.chip[data-emoji="🎉"] .chip-count >> text=1').waitFor();
    const bobThumb = row(bob, 'Lunch at').locator('.chip[data-emoji="👍"]');
    await bobThumb.locator('.chip-count >> text=2').waitFor();
    expect(await bobThumb.getAttribute('class')).toContain('mine');

    // Bob deletes his answer after the in-page confirm.
    await sendMessage(bob, 'Oops, wrong room');
    await row(ann, 'Oops, wrong room').waitFor();
    await act(bob, 'Oops, wrong room', 'delete');
    await bob.waitForSelector('.modal >> text=Delete this message for everyone?');
    await shot(bob, '21-delete-confirm');
    await bob.click('#confirm-ok');
    await ann.waitForSelector('.msg.deleted >> text=This message was deleted');
    await bob.waitForSelector('.msg.deleted >> text=This message was deleted');
    // Others' messages offer no edit or delete to a non-moderator.
    await row(ann, 'Yes, see you there').hover();
    expect(await row(ann, 'Yes, see you there').locator('[data-action="edit"], [data-action="delete"]').count()).toBe(
      0,
    );
    await row(ann, 'Lunch at').hover();
    await shot(ann, '22-message-actions');

    // Clicking the quote scrolls to (and flashes) the original.
    await answer.locator('.msg-quote').click();
    await ann.waitForSelector('.msg.flash');

    // After a reload the page shows the same state.
    await ann.reload();
    await ann.waitForSelector('#composer-input');
    await joinRoom(ann, 'life');
    await row(ann, 'Lunch at 12:30').locator('.msg-edited').waitFor();
    const chip = row(ann, 'Lunch at').locator('.chip[data-emoji="👍"]');
    await chip.locator('.chip-count >> text=2').waitFor();
    expect(await chip.getAttribute('class')).toContain('mine');
    await row(ann, 'Yes, see you there').locator('.msg-quote >> text=Lunch at').waitFor();
    await ann.waitForSelector('.msg.deleted >> text=This message was deleted');
    await shot(ann, '23-after-reload');
    expect(await messageTexts(ann)).not.toContain('Oops, wrong room');
    expect(pageErrors(ann)).toEqual([]);
    expect(pageErrors(bob)).toEqual([]);
  });

  it('DMs appear for the other with a badge that clears on view; browse and join; leave; status survives a reload', async () => {
    const ann = await openPage(await context(), `${stage.nodeA.url}/?poll=1`);
    await signIn(ann, 'Ann Lee');
    const bob = await openPage(await context(), `${stage.nodeB.url}/?poll=1`);
    await signIn(bob, 'Bob');
    await ann.waitForSelector('#people .person[data-name="Bob"]');

    // Ann opens a DM from the People pane: titled with Bob's name, never the room id.
    await ann.click('#people .person[data-name="Bob"] [data-person-action="dm"]');
    await ann.waitForSelector('#room-title >> text=Bob');
    expect(await ann.textContent('#room-title')).toBe('Bob');
    await sendMessage(ann, 'psst, lunch?');
    await row(ann, 'psst, lunch?').waitFor();
    expect(await ann.textContent('#dm-list')).toContain('Bob');
    await ann.waitForSelector('#history-edge >> text=This is the start of your conversation with Bob');
    expect(await ann.locator('#app').innerText()).not.toContain('dm:');

    // Bob never joined it: it appears in his sidebar with an unread badge.
    const bobDm = bob.locator('#dm-list .room', { hasText: 'Ann Lee' });
    await bobDm.locator('.badge >> text=1').waitFor({ timeout: 15_000 });
    await shot(bob, '27-dm-badge');
    await bobDm.click();
    await row(bob, 'psst, lunch?').waitFor();
    await bobDm.locator('.badge').waitFor({ state: 'detached' });
    expect(await bob.textContent('#room-title')).toBe('Ann Lee');
    expect(await bob.locator('#app').innerText()).not.toContain('dm:');
    // Ann sees that Bob read it.
    await ann.waitForSelector('.msg-seen >> text=Seen by Bob');
    await shot(ann, '28-dm-seen');

    // Browse rooms: Ann's room shows up for Bob, who joins it.
    await joinRoom(ann, 'book-club');
    await sendMessage(ann, 'Next book: Dune');
    await row(ann, 'Next book').waitFor();
    await bob.click('#browse-rooms');
    await bob.fill('#browse-filter', 'book');
    await bob.waitForSelector('#browse-list .browse-item[data-room="book-club"]');
    await shot(bob, '29-browse');
    await bob.click('#browse-list .browse-item[data-room="book-club"] button');
    await bob.waitForSelector('.room.active[data-room="book-club"]');
    await row(bob, 'Next book').waitFor();

    // Status is the stored one after a reload; the sidebar is the server's.
    await bob.click('#me');
    await bob.click('.status-option[data-status="busy"]');
    await bob.fill('#status-text', 'Reading');
    await bob.click('#status-save');
    await ann.waitForSelector('#people .person[data-name="Bob"][data-status="busy"]');
    await bob.reload();
    await bob.waitForSelector('#composer-input');
    await bob.waitForSelector('#my-status[data-status="busy"] >> text=Reading');
    await bob.waitForSelector('#room-list .room[data-room="book-club"]');
    await bob.waitForSelector('#dm-list .room >> text=Ann Lee');

    // Leave (forget): gone from the list, also after a reload.
    await bob.click('.room[data-room="book-club"]');
    await bob.click('#leave-room');
    await bob.click('#confirm-ok');
    await bob.waitForSelector('#room-list .room[data-room="book-club"]', { state: 'detached' });
    await bob.reload();
    await bob.waitForSelector('#dm-list .room >> text=Ann Lee');
    expect(await bob.locator('#room-list .room[data-room="book-club"]').count()).toBe(0);
    expect(pageErrors(ann)).toEqual([]);
    expect(pageErrors(bob)).toEqual([]);
  });

  it('dev sign-in takes names in any script; two people with one name stay two; a reload stays the same person', async () => {
    const li1 = await openPage(await context(), stage.nodeA.url);
    await signIn(li1, '李雷');
    const li2 = await openPage(await context(), stage.nodeB.url);
    await signIn(li2, '李雷');
    const eleni = await openPage(await context(), stage.nodeA.url);
    await signIn(eleni, 'Ελένη');
    const people = eleni.locator('#people .person'); // online and offline: a new id would add one
    await waitFor(
      async () => (await eleni.locator('#people .person[data-name="李雷"]').count()) === 2,
      10_000,
      'two 李雷',
    );
    await eleni.waitForSelector('#people .person[data-name="Ελένη"] >> text=(you)');
    await li1.reload();
    await li1.waitForSelector('#composer-input');
    await li1.waitForSelector('#me >> text=李雷');
    await sendMessage(li1, '你好');
    await row(eleni, '你好').waitFor();
    expect(await people.count()).toBe(3);
    await shot(eleni, '30-names-any-script');
    expect(await eleni.locator('#app').innerText()).not.toMatch(/\bu-[0-9a-f]{16}\b/);
  });

  it('a moderator deletes, mutes and bans; the banned user sees why; the topic shows in the header', async () => {
    const res = await fetch(`${stage.nodeA.url}/api/rooms/townhall/settings`, {
      method: 'PUT',
      headers: { Authorization: `Bearer ${API_KEY}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ topic: 'Be kind. Questions for Friday go here.' }),
    });
    expect(res.status).toBeLessThan(300);

    const mod = await openPage(await context(), stage.nodeA.url);
    await mod.fill('#signin-name', 'Mo Derator');
    await mod.check('#signin-moderator');
    await mod.click('#signin-submit');
    await mod.waitForSelector('#composer-input');
    await joinRoom(mod, 'townhall');
    const eve = await openPage(await context(PHONE), stage.nodeB.url);
    await signIn(eve, 'Eve');
    await joinRoom(eve, 'townhall');
    await mod.waitForSelector('#room-topic >> text=Be kind');
    await eve.waitForSelector('#room-topic >> text=Be kind');

    await sendMessage(mod, 'Welcome, everyone');
    await sendMessage(eve, 'buy cheap watches');
    await sendMessage(eve, 'really cheap');
    await row(mod, 'really cheap').waitFor();

    // The moderator's tools on someone else's message; none on Eve's page for the moderator's message.
    await row(mod, 'buy cheap').hover();
    for (const a of ['delete', 'mute', 'ban'])
      expect(await row(mod, 'buy cheap').locator(`[data-action="${a}"]`).count()).toBe(1);
    await shot(mod, '24-moderator-actions');
    expect(await row(eve, 'Welcome').locator('[data-action="delete"], [data-action="ban"]').count()).toBe(0);

    await act(mod, 'buy cheap', 'delete');
    await mod.click('#confirm-ok');
    await eve.waitForSelector('.msg.deleted >> text=This message was deleted');

    await act(mod, 'really cheap', 'mute');
    await mod.click('#confirm-ok');
    await mod.waitForSelector('.toast >> text=muted');
    await sendMessage(eve, 'am I muted?');
    await eve.waitForSelector('.msg.failed >> text=/muted/');

    // The People pane offers the same to a moderator.
    expect(await mod.locator('#people .person[data-name="Eve"] [data-person-action="ban"]').count()).toBe(1);
    await mod.click('#people .person[data-name="Eve"] [data-person-action="ban"]');
    await mod.click('#confirm-ok');
    await eve.waitForSelector('#removed-note >> text=You were banned from #townhall');
    expect(await eve.isVisible('#composer')).toBe(false);
    await shot(eve, '25-banned-phone');
    await waitFor(
      async () => (await mod.locator('#people .person[data-name="Eve"]').getAttribute('data-status')) === 'offline',
      10_000,
      'eve left the room for the others',
    );
    await shot(mod, '26-moderator-after-ban');
    expect(pageErrors(mod)).toEqual([]);
    expect(pageErrors(eve)).toEqual([]);
  });
});
