/**
 * The Parley web chat page: sign in, rooms, messages with infinite scroll back
 * through history, composer, who-is-online, status picker, typing indicator,
 * unread counts, auto-away and a reconnecting banner. Built on the SDK.
 *
 * This file only starts the page and connects the parts; each part lives in
 * its own module. Every piece of user text is put in the page with
 * textContent (see dom.ts): a message such as `<img src=x onerror=alert(1)>`
 * shows as those characters.
 */
import { ParleyClient, ParleyClientError } from '../../src/sdk/index.js';
import { Banner } from './banner.js';
import { $, h, icon } from './dom.js';
import { Messages } from './messages.js';
import { People } from './people.js';
import { Rooms } from './rooms.js';
import { Shell } from './shell.js';
import { showSignIn } from './signin.js';
import { ChatState, DEFAULT_ROOM, loadSession, params, saveSession, type Session } from './state.js';
import { Status } from './status.js';

const root = $('#app');

/** Builds the chat page for a connected client. */
function openChat(session: Session, client: ParleyClient): void {
  const state = new ChatState(session, client);
  const shell = new Shell();
  const banner = new Banner(() => client.reconnectNow());
  // The parts call each other through these arrows, which run only after all are built.
  const status = new Status(state, {
    app: shell.app,
    toast: (text) => shell.toast(text),
    changed: () => people.render(),
  });
  const people = new People(state, {
    drawer: (which) => shell.drawer(which),
    toggleDrawer: (which) => shell.toggleDrawer(which),
    myStatusChanged: () => status.render(),
    roomChanged: () => {
      rooms.renderHeader();
      messages.renderTyping();
    },
    openDm: (user) => void rooms.openDm(user),
    moderate: (what, user) => void messages.actions.moderate(what, state.active, user),
  });
  const messages: Messages = new Messages(state, {
    unread: () => rooms.renderRooms(),
    markRead: (room) => rooms.markRead(room),
    toast: (text) => shell.toast(text),
  });
  const signOutButton = h(
    'button',
    { className: 'icon-btn', type: 'button', title: 'Sign out', 'aria-label': 'Sign out', id: 'sign-out' },
    icon('logout', 18),
  );
  const rooms: Rooms = new Rooms(state, {
    shell,
    messages,
    people,
    footer: h('footer', { className: 'me-row' }, status.card, signOutButton),
  });

  shell.mount(
    root,
    {
      banner: banner.el,
      rooms: rooms.pane,
      chat: h('main', { className: 'chat' }, rooms.head, ...messages.parts()),
      people: people.pane,
      picker: status.picker,
    },
    () => status.closePicker(),
  );
  status.render();

  const offs = [
    client.on('message', (m) => messages.onMessage(m)),
    client.on('updated', (m) => messages.onUpdated(m)),
    client.on('unread', (info) => rooms.onUnread(info)),
    client.on('read', (r) => rooms.onRead(r.room, r.user, r.messageId)),
    client.on('removed', (r) => rooms.onRemoved(r.room, r.reason)),
    client.on('presence', (p) => people.onPresence(p)),
    client.on('typing', (t) => messages.onTyping(t.room, t.user)),
    client.on('joined', (info) => rooms.onJoined(info)),
    client.on('reset', (info) => messages.onReset(info.room)),
    client.on('state', (s) => {
      banner.show(s);
      if (s.state === 'connected') messages.composer.onConnected();
      status.render();
      rooms.renderHeader();
    }),
    client.on('error', (err, ctx) => {
      if (ctx.room) shell.toast(`Left #${ctx.room}: ${err.message}`);
    }),
  ];
  // The sidebar comes from the server's memberships (the saved list is only the first paint).
  rooms.switchTo(state.active);
  void rooms.sync(true);
  void status.loadStored();

  // Auto-away checks, the memberships poll (DMs others start), and a people list redraw so
  // "last seen 5 min ago" keeps ageing.
  const timers = [status.watchIdle(), rooms.watch(), setInterval(() => people.render(), 30_000)];
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') messages.maybeMarkRead();
  });
  window.addEventListener('pagehide', () => client.close());

  signOutButton.addEventListener('click', () => {
    for (const off of offs) off();
    for (const t of timers) clearInterval(t);
    client.close();
    saveSession(null);
    location.reload();
  });
}

let current: ParleyClient | null = null;

/** Connects with `session`; on failure shows the sign-in card again with the reason. */
async function startChat(session: Session): Promise<boolean> {
  current?.close();
  const client = new ParleyClient(
    session.mode === 'token'
      ? { url: location.origin, token: session.token! }
      : session.moderator
        ? { url: location.origin, user: session.user!, name: session.name!, query: { roles: 'moderator' } }
        : { url: location.origin, user: session.user!, name: session.name! },
  );
  current = client;
  try {
    await client.connect();
  } catch (err) {
    const detail = err instanceof ParleyClientError ? err.message : String(err);
    showSignIn(
      root,
      startChat,
      session.mode === 'token'
        ? `The server did not accept this token. ${detail}`
        : `Could not connect. The server may need a token (sign in with a token), or it is down. ${detail}`,
      session,
    );
    return false;
  }
  if (session.mode === 'token' && !client.userId) session.user = undefined;
  saveSession(session);
  openChat(session, client);
  return true;
}

function boot(): void {
  const fromUrl = params.get('token');
  const saved = loadSession();
  if (fromUrl) {
    history.replaceState(null, '', location.pathname);
    void startChat({
      mode: 'token',
      token: fromUrl,
      rooms: saved?.rooms ?? [DEFAULT_ROOM],
      active: saved?.active ?? DEFAULT_ROOM,
    });
  } else if (saved) {
    void startChat(saved);
  } else showSignIn(root, startChat);
}

boot();
