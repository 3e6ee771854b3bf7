/**
 * The Parley web chat page: sign in, rooms, messages with infinite scroll back
 * through history, composer, who-is-online, status picker, typing indicator,
 * unread counts, auto-away and a reconnecting banner. Built on the SDK.
 *
 * Every piece of user text is put in the page with textContent (see dom.ts):
 * a message such as `<img src=x onerror=alert(1)>` shows as those characters.
 */
import {
  ParleyClient,
  ParleyClientError,
  compareMessageIds,
  isValidId,
  type ChosenStatus,
  type JoinedInfo,
  type Message,
  type PresenceChange,
  type PresenceEntry,
  type StateChange,
} from '../../src/sdk/index.js';
import { $, h, icon, replace } from './dom.js';
import { ago, dayOf, hueOf, initials, sameDay, shortTimeOf, slugify, timeOf, typingText } from './format.js';

// ---------------------------------------------------------------------------
// settings

const params = new URLSearchParams(location.search);
/** Seconds without input before the status turns to away (`?idle=` overrides, for tests). */
const IDLE_MS = Math.max(1, Number(params.get('idle') ?? 300)) * 1000;
const PAGE_SIZE = Math.min(200, Math.max(5, Number(params.get('page') ?? 50)));
const STORAGE_KEY = 'parley.session.v1';
const DEFAULT_ROOM = 'general';
const GROUP_GAP_MS = 5 * 60_000;
const TYPING_SHOW_MS = 4000;
const MAX_TEXT = 4000;

interface Session {
  mode: 'dev' | 'token';
  user?: string;
  name?: string;
  token?: string;
  rooms: string[];
  active: string;
}

function loadSession(): Session | null {
  try {
    const raw = localStorage.getItem(STORAGE_KEY);
    if (!raw) return null;
    const s = JSON.parse(raw) as Session;
    if (!Array.isArray(s.rooms)) return null;
    s.rooms = s.rooms.filter((r) => typeof r === 'string' && isValidId(r));
    if (!s.rooms.length) s.rooms = [DEFAULT_ROOM];
    if (!s.rooms.includes(s.active)) s.active = s.rooms[0] ?? DEFAULT_ROOM;
    return s;
  } catch {
    return null;
  }
}

function saveSession(s: Session | null): void {
  try {
    if (s) localStorage.setItem(STORAGE_KEY, JSON.stringify(s));
    else localStorage.removeItem(STORAGE_KEY);
  } catch {
    // private mode: nothing to remember
  }
}

const root = $('#app');

// ---------------------------------------------------------------------------
// sign in

function showSignIn(error = '', prefill: Partial<Session> = {}): void {
  document.title = 'Parley';
  let tokenMode = prefill.mode === 'token';
  const nameInput = h('input', {
    id: 'signin-name',
    name: 'name',
    autocomplete: 'nickname',
    maxlength: 64,
    placeholder: 'e.g. Ann Lee',
    value: prefill.name ?? '',
  });
  const tokenInput = h('textarea', {
    id: 'signin-token',
    name: 'token',
    rows: 3,
    placeholder: 'eyJhbGciOi…',
    spellcheck: 'false',
  });
  if (prefill.token) tokenInput.value = prefill.token;
  const nameField = h('label', { className: 'field' }, h('span', {}, 'Your name'), nameInput);
  const tokenField = h('label', { className: 'field' }, h('span', {}, 'Access token'), tokenInput);
  const errorBox = h('p', { className: 'form-error', id: 'signin-error', role: 'alert' }, error);
  const submit = h('button', { className: 'primary wide', id: 'signin-submit', type: 'submit' }, 'Join the chat');
  const modeToggle = h('button', { className: 'link', type: 'button', id: 'signin-mode' });
  const applyMode = (): void => {
    nameField.hidden = tokenMode;
    tokenField.hidden = !tokenMode;
    modeToggle.textContent = tokenMode ? 'Sign in with a name instead' : 'Sign in with a token instead';
    (tokenMode ? tokenInput : nameInput).focus();
  };
  modeToggle.addEventListener('click', () => {
    tokenMode = !tokenMode;
    errorBox.textContent = '';
    applyMode();
  });

  const form = h(
    'form',
    { className: 'signin-card', novalidate: true },
    h('div', { className: 'brand' }, h('div', { className: 'logo' }, 'P'), h('h1', {}, 'Parley')),
    h('p', { className: 'muted tagline' }, 'Chat and presence, in real time.'),
    nameField,
    tokenField,
    errorBox,
    submit,
    modeToggle,
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    errorBox.textContent = '';
    const previous = loadSession();
    const rooms = previous?.rooms ?? [DEFAULT_ROOM];
    const active = previous?.active ?? DEFAULT_ROOM;
    let session: Session;
    if (tokenMode) {
      const token = tokenInput.value.trim();
      if (!token) {
        errorBox.textContent = 'Paste the access token you were given.';
        return;
      }
      session = { mode: 'token', token, rooms, active };
    } else {
      const name = nameInput.value.trim().replace(/\s+/g, ' ');
      const user = slugify(name);
      if (!name || !user) {
        errorBox.textContent = 'Type a name with at least one letter or digit.';
        nameInput.focus();
        return;
      }
      session = { mode: 'dev', user, name, rooms, active };
    }
    submit.disabled = true;
    submit.textContent = 'Connecting…';
    void startChat(session).then((ok) => {
      if (!ok) {
        submit.disabled = false;
        submit.textContent = 'Join the chat';
      }
    });
  });

  replace(
    root,
    h(
      'main',
      { className: 'signin' },
      form,
      h('p', { className: 'signin-foot muted' }, 'Your name is shown to everyone in the rooms you join.'),
    ),
  );
  applyMode();
}

// ---------------------------------------------------------------------------
// chat

interface Pending {
  clientMsgId: string;
  text: string;
  ts: number;
  failed?: string;
}

interface RoomView {
  name: string;
  messages: Message[];
  ids: Set<string>;
  pending: Map<string, Pending>;
  hasMore: boolean;
  loaded: boolean;
  loading: boolean;
  loadError: string;
  unread: number;
  members: Map<string, PresenceEntry>;
  typing: Map<string, number>;
  joined: boolean;
}

function newRoomView(name: string): RoomView {
  return {
    name,
    messages: [],
    ids: new Set(),
    pending: new Map(),
    hasMore: true,
    loaded: false,
    loading: false,
    loadError: '',
    unread: 0,
    members: new Map(),
    typing: new Map(),
    joined: false,
  };
}

const STATUS_LABEL: Record<string, string> = {
  online: 'Online',
  away: 'Away',
  busy: 'Busy',
  invisible: 'Invisible',
  offline: 'Offline',
};
const STATUS_HINT: Record<ChosenStatus, string> = {
  online: 'Available',
  away: 'Stepped away',
  busy: 'Do not disturb',
  invisible: 'Appear offline to others',
};
const STATUS_ORDER: Record<string, number> = { online: 0, busy: 1, away: 2, offline: 3 };

class ChatApp {
  private readonly client: ParleyClient;
  private readonly me: string;
  private myName: string;
  private rooms = new Map<string, RoomView>();
  private active: string;
  private names = new Map<string, string>();
  private myStatus: ChosenStatus = 'online';
  private myText = '';
  private autoAway = false;
  private lastActivity = Date.now();
  private timers: ReturnType<typeof setInterval>[] = [];
  private wasReconnecting = false;
  private readonly el: Record<string, HTMLElement> = {};
  private readonly offs: (() => void)[] = [];

  constructor(
    private readonly session: Session,
    client: ParleyClient,
  ) {
    this.client = client;
    this.me = client.userId ?? session.user ?? 'me';
    this.myName = session.name ?? client.userName ?? this.me;
    this.names.set(this.me, this.myName);
    this.active = session.active;
    for (const r of session.rooms) this.rooms.set(r, newRoomView(r));
    if (!this.rooms.has(this.active)) this.rooms.set(this.active, newRoomView(this.active));
  }

  // ---- lifecycle -------------------------------------------------------------

  start(): void {
    this.buildLayout();
    const c = this.client;
    this.offs.push(
      c.on('message', (m) => this.onMessage(m)),
      c.on('presence', (p) => this.onPresence(p)),
      c.on('typing', (t) => this.onTyping(t.room, t.user)),
      c.on('joined', (info) => this.onJoined(info)),
      c.on('reset', (info) => this.onReset(info.room)),
      c.on('state', (s) => this.onState(s)),
      c.on('error', (err, ctx) => {
        if (ctx.room) this.toast(`Left #${ctx.room}: ${err.message}`);
      }),
    );
    for (const room of this.rooms.keys()) void this.joinRoom(room, false);
    this.switchTo(this.active);

    // auto-away after inactivity
    const activity = (): void => this.onActivity();
    for (const type of ['pointermove', 'pointerdown', 'keydown', 'wheel', 'touchstart', 'focus']) {
      window.addEventListener(type, activity, { passive: true });
    }
    this.timers.push(setInterval(() => this.checkIdle(), Math.min(5000, Math.max(250, IDLE_MS / 4))));
    this.timers.push(setInterval(() => this.renderPeople(), 30_000));
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible') this.markRead(this.active);
    });
    window.addEventListener('pagehide', () => this.client.close());
  }

  private signOut(): void {
    for (const off of this.offs) off();
    for (const t of this.timers) clearInterval(t);
    this.client.close();
    saveSession(null);
    location.reload();
  }

  // ---- layout ---------------------------------------------------------------

  private buildLayout(): void {
    const e = this.el;
    e.banner = h('div', { id: 'banner', className: 'banner', role: 'status', hidden: true });
    e.roomList = h('nav', { id: 'room-list', className: 'room-list', 'aria-label': 'Rooms' });
    e.joinInput = h('input', {
      id: 'join-input',
      placeholder: 'Join or create a room',
      maxlength: 128,
      autocomplete: 'off',
      'aria-label': 'Room name',
    });
    e.joinError = h('p', { className: 'join-error', role: 'alert' });
    const joinForm = h(
      'form',
      { className: 'join-form', id: 'join-form' },
      e.joinInput,
      h(
        'button',
        { type: 'submit', className: 'icon-btn', title: 'Join room', 'aria-label': 'Join room' },
        icon('plus', 18),
      ),
    );
    joinForm.addEventListener('submit', (ev) => {
      ev.preventDefault();
      void this.joinFromForm();
    });
    e.meCard = h('button', { id: 'me', className: 'me', type: 'button', title: 'Set your status' });
    e.meCard.addEventListener('click', () => this.toggleStatusPicker());
    const signOut = h(
      'button',
      { className: 'icon-btn', type: 'button', title: 'Sign out', 'aria-label': 'Sign out', id: 'sign-out' },
      icon('logout', 18),
    );
    signOut.addEventListener('click', () => this.signOut());

    const closeRooms = h(
      'button',
      { className: 'icon-btn only-mobile', type: 'button', 'aria-label': 'Close' },
      icon('close'),
    );
    closeRooms.addEventListener('click', () => this.drawer(null));
    e.roomsPane = h(
      'aside',
      { className: 'rooms-pane', id: 'rooms-pane' },
      h(
        'header',
        { className: 'pane-head' },
        h('div', { className: 'brand small' }, h('div', { className: 'logo' }, 'P'), h('span', {}, 'Parley')),
        closeRooms,
      ),
      h('div', { className: 'section-label' }, 'Rooms'),
      e.roomList,
      joinForm,
      e.joinError,
      h('footer', { className: 'me-row' }, e.meCard, signOut),
    );

    e.roomTitle = h('h2', { id: 'room-title' });
    e.roomSub = h('span', { id: 'room-sub', className: 'muted' });
    e.menuBadge = h('span', { className: 'badge dot-badge', hidden: true });
    const menuBtn = h(
      'button',
      { className: 'icon-btn only-mobile', type: 'button', 'aria-label': 'Rooms', id: 'open-rooms' },
      icon('menu'),
      e.menuBadge,
    );
    menuBtn.addEventListener('click', () => this.drawer('rooms'));
    const peopleBtn = h(
      'button',
      { className: 'icon-btn people-btn', type: 'button', 'aria-label': 'People', id: 'open-people' },
      icon('people'),
    );
    peopleBtn.addEventListener('click', () => this.drawer(this.el.app?.dataset.drawer === 'people' ? null : 'people'));

    e.msgList = h('div', { id: 'msg-list', className: 'msg-list' });
    e.historyEdge = h('div', { className: 'history-edge', id: 'history-edge' });
    e.messages = h(
      'div',
      { id: 'messages', className: 'messages', role: 'log', 'aria-live': 'polite' },
      h('div', { className: 'messages-inner' }, e.historyEdge, e.msgList),
    );
    e.messages.addEventListener('scroll', () => this.onScroll(), { passive: true });
    e.newPill = h('button', { className: 'new-pill', type: 'button', hidden: true }, icon('down', 16), 'New messages');
    e.newPill.addEventListener('click', () => this.scrollToBottom());
    e.typing = h('div', { id: 'typing', className: 'typing', 'aria-live': 'polite' });
    e.input = h('textarea', {
      id: 'composer-input',
      rows: 1,
      maxlength: MAX_TEXT,
      placeholder: 'Message',
      'aria-label': 'Message',
      enterkeyhint: 'send',
    });
    e.input.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
        ev.preventDefault();
        void this.sendFromComposer();
      }
    });
    e.input.addEventListener('input', () => {
      this.autosize();
      if ((e.input as HTMLTextAreaElement).value.trim()) void this.client.typing(this.active);
    });
    e.sendBtn = h(
      'button',
      { id: 'composer-send', className: 'send-btn', type: 'submit', 'aria-label': 'Send', title: 'Send (Enter)' },
      icon('send', 18),
    );
    const composer = h('form', { className: 'composer', id: 'composer' }, e.input, e.sendBtn);
    composer.addEventListener('submit', (ev) => {
      ev.preventDefault();
      void this.sendFromComposer();
    });

    const chat = h(
      'main',
      { className: 'chat' },
      h(
        'header',
        { className: 'chat-head' },
        menuBtn,
        h('div', { className: 'title' }, e.roomTitle, e.roomSub),
        peopleBtn,
      ),
      h('div', { className: 'messages-wrap' }, e.messages, e.newPill),
      e.typing,
      composer,
    );

    e.people = h('div', { id: 'people', className: 'people' });
    const closePeople = h('button', { className: 'icon-btn', type: 'button', 'aria-label': 'Close' }, icon('close'));
    closePeople.addEventListener('click', () => this.drawer(null));
    e.peoplePane = h(
      'aside',
      { className: 'people-pane', id: 'people-pane' },
      h('header', { className: 'pane-head' }, h('span', { className: 'pane-title' }, 'People'), closePeople),
      e.people,
    );
    const scrim = h('div', { className: 'scrim' });
    scrim.addEventListener('click', () => {
      this.drawer(null);
      this.closeStatusPicker();
    });
    e.picker = h('div', {
      className: 'status-picker',
      id: 'status-picker',
      hidden: true,
      role: 'dialog',
      'aria-label': 'Set your status',
    });
    e.toast = h('div', { className: 'toast', role: 'alert', hidden: true });
    e.app = h(
      'div',
      { className: 'app' },
      e.banner,
      h('div', { className: 'panes' }, e.roomsPane, chat, e.peoplePane),
      scrim,
      e.picker,
      e.toast,
    );
    replace(root, e.app);
    this.renderMe();
  }

  private drawer(which: 'rooms' | 'people' | null): void {
    const app = this.el.app;
    if (!app) return;
    if (which) app.dataset.drawer = which;
    else delete app.dataset.drawer;
  }

  private toastTimer: ReturnType<typeof setTimeout> | undefined;
  private toast(text: string): void {
    const t = this.el.toast;
    if (!t) return;
    t.textContent = text;
    t.hidden = false;
    clearTimeout(this.toastTimer);
    this.toastTimer = setTimeout(() => (t.hidden = true), 5000);
  }

  // ---- rooms ----------------------------------------------------------------

  private async joinFromForm(): Promise<void> {
    const input = this.el.joinInput as HTMLInputElement;
    const name = input.value.trim().replace(/^#/, '');
    const errBox = this.el.joinError!;
    errBox.textContent = '';
    if (!name) return;
    if (!isValidId(name)) {
      errBox.textContent = 'Use letters, digits and _ . : @ - only.';
      return;
    }
    input.value = '';
    if (!this.rooms.has(name)) {
      this.rooms.set(name, newRoomView(name));
      this.saveRooms();
    }
    this.switchTo(name);
    this.drawer(null);
    await this.joinRoom(name, true);
  }

  private async joinRoom(name: string, explicit: boolean): Promise<void> {
    try {
      await this.client.join(name);
    } catch (err) {
      const view = this.rooms.get(name);
      const code = err instanceof ParleyClientError ? err.code : 'INTERNAL';
      if (code === 'TIMEOUT' || code === 'CLOSED') return; // still trying / signing out
      if (view && !view.joined) {
        this.rooms.delete(name);
        this.saveRooms();
        if (this.active === name) this.switchTo(this.rooms.keys().next().value ?? DEFAULT_ROOM);
        else this.renderRooms();
      }
      const msg =
        code === 'FORBIDDEN' ? `You may not join #${name}.` : `Could not join #${name}: ${(err as Error).message}`;
      if (explicit) this.el.joinError!.textContent = msg;
      else this.toast(msg);
    }
  }

  private onJoined(info: JoinedInfo): void {
    const view = this.rooms.get(info.room);
    if (!view) return;
    view.joined = true;
    const fresh = new Map<string, PresenceEntry>();
    for (const m of info.members) {
      fresh.set(m.user, m);
      if (m.name) this.names.set(m.user, m.name);
    }
    // People who were listed and are gone now stay listed as offline.
    for (const [user, old] of view.members) {
      if (!fresh.has(user)) fresh.set(user, { ...old, status: 'offline', lastSeen: old.lastSeen ?? Date.now() });
    }
    view.members = fresh;
    if (info.room === this.active) {
      this.renderPeople();
      this.renderHeader();
      if (!view.loaded && !view.loading) void this.loadLatest(view);
    }
  }

  private onReset(room: string): void {
    const view = this.rooms.get(room);
    if (!view) return;
    view.messages = [];
    view.ids.clear();
    view.hasMore = true;
    view.loaded = false;
    if (room === this.active) void this.loadLatest(view);
  }

  private saveRooms(): void {
    this.session.rooms = [...this.rooms.keys()];
    this.session.active = this.active;
    saveSession(this.session);
  }

  private switchTo(name: string): void {
    if (!this.rooms.has(name)) this.rooms.set(name, newRoomView(name));
    this.active = name;
    this.saveRooms();
    const view = this.rooms.get(name)!;
    this.markRead(name);
    (this.el.input as HTMLTextAreaElement).placeholder = `Message #${name}`;
    this.renderRooms();
    this.renderHeader();
    this.renderMessages('bottom');
    this.renderTyping();
    this.renderPeople();
    this.drawer(null);
    if (view.joined && !view.loaded && !view.loading) void this.loadLatest(view);
    if (matchMedia('(min-width: 721px)').matches) this.el.input?.focus();
  }

  private markRead(room: string): void {
    const view = this.rooms.get(room);
    if (!view || document.visibilityState === 'hidden') return;
    if (view.unread) {
      view.unread = 0;
      this.renderRooms();
    }
    this.renderTitle();
  }

  // ---- history --------------------------------------------------------------

  private async loadLatest(view: RoomView): Promise<void> {
    if (view.loading) return;
    view.loading = true;
    view.loadError = '';
    this.renderEdge();
    try {
      const page = await this.client.history(view.name, { limit: PAGE_SIZE });
      this.merge(view, page.messages);
      view.hasMore = page.hasMore;
      view.loaded = true;
    } catch (err) {
      view.loadError = `Could not load messages: ${(err as Error).message}`;
    } finally {
      view.loading = false;
    }
    if (view.name === this.active) {
      this.renderMessages('bottom');
      this.fillViewport(view);
    }
  }

  private async loadOlder(view: RoomView): Promise<void> {
    if (view.loading || !view.loaded || !view.hasMore) return;
    const oldest = view.messages[0];
    if (!oldest) {
      view.hasMore = false;
      this.renderEdge();
      return;
    }
    view.loading = true;
    view.loadError = '';
    this.renderEdge();
    try {
      const page = await this.client.history(view.name, { before: oldest.id, limit: PAGE_SIZE });
      this.merge(view, page.messages);
      view.hasMore = page.hasMore;
    } catch (err) {
      view.loadError = `Could not load earlier messages: ${(err as Error).message}`;
    } finally {
      view.loading = false;
    }
    if (view.name === this.active) {
      this.renderMessages('keep');
      this.fillViewport(view);
    }
  }

  /** Keeps loading older pages until the list can scroll (so scrolling up can trigger more). */
  private fillViewport(view: RoomView): void {
    const box = this.el.messages!;
    if (view.hasMore && view.loaded && !view.loadError && box.scrollHeight <= box.clientHeight + 40) {
      void this.loadOlder(view);
    }
  }

  private onScroll(): void {
    const box = this.el.messages!;
    const view = this.rooms.get(this.active);
    if (view && box.scrollTop < 150) void this.loadOlder(view);
    if (this.atBottom()) this.el.newPill!.hidden = true;
  }

  /** Adds messages to a room (sorted by id, each once). Returns how many were new. */
  private merge(view: RoomView, messages: Message[]): number {
    let added = 0;
    for (const m of messages) {
      if (view.ids.has(m.id)) continue;
      view.ids.add(m.id);
      if (m.name) this.names.set(m.from, m.name);
      if (m.clientMsgId && m.from === this.me) view.pending.delete(m.clientMsgId);
      const list = view.messages;
      const last = list[list.length - 1];
      if (!last || compareMessageIds(m.id, last.id) > 0) list.push(m);
      else {
        let i = list.length - 1;
        while (i >= 0 && compareMessageIds(list[i]!.id, m.id) > 0) i--;
        list.splice(i + 1, 0, m);
      }
      added++;
    }
    return added;
  }

  // ---- live events ------------------------------------------------------------

  private onMessage(m: Message): void {
    const view = this.rooms.get(m.room);
    if (!view) return;
    view.typing.delete(m.from);
    if (!this.merge(view, [m])) return;
    const mine = m.from === this.me;
    const visible = m.room === this.active && document.visibilityState === 'visible';
    if (!mine && !visible) {
      view.unread++;
      this.renderRooms();
      this.renderTitle();
    }
    if (m.room === this.active) {
      const stick = mine || this.atBottom();
      this.renderMessages(stick ? 'bottom' : 'keep');
      if (!stick) this.el.newPill!.hidden = false;
      this.renderTyping();
    }
  }

  private onPresence(p: PresenceChange): void {
    const entry = { ...p.member };
    if (entry.name) this.names.set(entry.user, entry.name);
    if (p.event === 'leave') {
      entry.status = 'offline';
      entry.lastSeen ??= Date.now();
    }
    const targets = p.room ? [this.rooms.get(p.room)] : [...this.rooms.values()];
    for (const view of targets) {
      if (!view) continue;
      if (!p.room && !view.members.has(entry.user)) continue;
      const prev = view.members.get(entry.user);
      view.members.set(entry.user, prev ? { ...prev, ...entry } : entry);
      if (entry.status === 'offline') view.typing.delete(entry.user);
    }
    if (entry.user === this.me && !p.room && p.event === 'update') {
      // Own status changed from another device.
      const s = entry.status === 'offline' ? 'invisible' : entry.status;
      this.myStatus = s;
      this.myText = entry.text ?? '';
      this.renderMe();
    }
    if (!p.room || p.room === this.active) {
      this.renderPeople();
      this.renderHeader();
      this.renderTyping();
    }
  }

  private typingTimer: ReturnType<typeof setTimeout> | undefined;
  private onTyping(room: string, user: string): void {
    if (user === this.me) return;
    const view = this.rooms.get(room);
    if (!view) return;
    view.typing.set(user, Date.now() + TYPING_SHOW_MS);
    if (room === this.active) this.renderTyping();
  }

  private onState(s: StateChange): void {
    const banner = this.el.banner!;
    banner.className = 'banner';
    if (s.state === 'reconnecting') {
      this.wasReconnecting = true;
      const retry = h('button', { className: 'link', type: 'button' }, 'Retry now');
      retry.addEventListener('click', () => this.client.reconnectNow());
      const secs = Math.ceil((s.delayMs ?? 0) / 1000);
      replace(
        banner,
        h('span', { className: 'spinner', 'aria-hidden': 'true' }),
        h(
          'span',
          {},
          s.attempt && s.attempt > 1
            ? `Reconnecting… (attempt ${s.attempt}${secs > 1 ? `, next in ${secs}s` : ''})`
            : 'Connection lost. Reconnecting…',
        ),
        retry,
      );
      banner.classList.add('warn');
      banner.dataset.state = 'reconnecting';
      banner.hidden = false;
    } else if (s.state === 'connected') {
      if (this.wasReconnecting) {
        this.wasReconnecting = false;
        replace(banner, h('span', {}, 'Back online'));
        banner.classList.add('ok');
        banner.dataset.state = 'connected';
        banner.hidden = false;
        setTimeout(() => {
          if (banner.dataset.state === 'connected') banner.hidden = true;
        }, 2000);
      } else banner.hidden = true;
      for (const view of this.rooms.values()) for (const p of view.pending.values()) delete p.failed;
    } else if (s.state === 'closed' && s.error) {
      const again = h('button', { className: 'link', type: 'button' }, 'Sign in again');
      again.addEventListener('click', () => location.reload());
      replace(banner, h('span', {}, `Disconnected: ${s.error.message}`), again);
      banner.classList.add('error');
      banner.dataset.state = 'closed';
      banner.hidden = false;
    }
    this.renderMe();
    this.renderHeader();
  }

  // ---- sending ----------------------------------------------------------------

  private async sendFromComposer(): Promise<void> {
    const input = this.el.input as HTMLTextAreaElement;
    const text = input.value.trim();
    if (!text) return;
    const view = this.rooms.get(this.active);
    if (!view) return;
    input.value = '';
    this.autosize();
    const pending: Pending = { clientMsgId: randomKey(), text, ts: Date.now() };
    view.pending.set(pending.clientMsgId, pending);
    this.renderMessages('bottom');
    await this.deliver(view, pending);
  }

  private async deliver(view: RoomView, pending: Pending): Promise<void> {
    try {
      const message = await this.client.send(view.name, pending.text, { clientMsgId: pending.clientMsgId });
      view.pending.delete(pending.clientMsgId);
      this.merge(view, [message]);
    } catch (err) {
      if (!view.pending.has(pending.clientMsgId)) return;
      const code = err instanceof ParleyClientError ? err.code : '';
      pending.failed =
        code === 'RATE_LIMITED'
          ? 'Slow down a little'
          : code === 'TOO_LARGE'
            ? 'Too long'
            : (err as Error).message || 'Not sent';
    }
    if (view.name === this.active) this.renderMessages('keep');
  }

  private autosize(): void {
    const input = this.el.input as HTMLTextAreaElement;
    input.style.height = 'auto';
    input.style.height = `${Math.min(160, input.scrollHeight)}px`;
  }

  // ---- status -----------------------------------------------------------------

  private onActivity(): void {
    this.lastActivity = Date.now();
    if (this.autoAway) {
      this.autoAway = false;
      this.myStatus = 'online';
      this.renderMe();
      void this.client.setStatus('online', this.myText || undefined).catch(() => undefined);
    }
  }

  private checkIdle(): void {
    if (this.autoAway || this.myStatus !== 'online') return;
    if (Date.now() - this.lastActivity < IDLE_MS) return;
    this.autoAway = true;
    this.myStatus = 'away';
    this.renderMe();
    void this.client.setStatus('away', this.myText || undefined).catch(() => undefined);
  }

  private async applyStatus(status: ChosenStatus, text: string): Promise<void> {
    this.autoAway = false;
    const prev = { status: this.myStatus, text: this.myText };
    this.myStatus = status;
    this.myText = text;
    this.renderMe();
    try {
      const entry = await this.client.setStatus(status, text);
      this.myText = entry.text ?? text;
    } catch (err) {
      this.myStatus = prev.status;
      this.myText = prev.text;
      this.toast(`Could not set status: ${(err as Error).message}`);
    }
    this.renderMe();
    this.renderPeople();
  }

  private toggleStatusPicker(): void {
    if (!this.el.picker!.hidden) this.closeStatusPicker();
    else this.openStatusPicker();
  }

  private closeStatusPicker(): void {
    this.el.picker!.hidden = true;
    delete this.el.app!.dataset.picker;
  }

  private openStatusPicker(): void {
    const picker = this.el.picker!;
    let chosen: ChosenStatus = this.myStatus;
    const options = (['online', 'away', 'busy', 'invisible'] as const).map((s) => {
      const btn = h(
        'button',
        {
          type: 'button',
          className: 'status-option',
          'data-status': s,
          role: 'radio',
          'aria-checked': String(s === chosen),
        },
        h('span', { className: 'dot', 'data-status': s === 'invisible' ? 'offline' : s }),
        h('span', { className: 'status-name' }, STATUS_LABEL[s] ?? s),
        h('span', { className: 'muted small' }, STATUS_HINT[s]),
      );
      btn.addEventListener('click', () => {
        chosen = s;
        for (const o of options) o.setAttribute('aria-checked', String(o.dataset.status === s));
      });
      return btn;
    });
    const text = h('input', {
      id: 'status-text',
      maxlength: 140,
      placeholder: "What's your status?",
      value: this.myText,
    });
    const form = h(
      'form',
      {},
      h('div', { className: 'picker-title' }, 'Set your status'),
      h('div', { className: 'status-options', role: 'radiogroup' }, ...options),
      text,
      h(
        'div',
        { className: 'picker-actions' },
        h('button', { type: 'button', className: 'ghost', id: 'status-clear' }, 'Clear text'),
        h('button', { type: 'submit', className: 'primary', id: 'status-save' }, 'Save'),
      ),
    );
    form.querySelector('#status-clear')!.addEventListener('click', () => {
      (text as HTMLInputElement).value = '';
      text.focus();
    });
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.closeStatusPicker();
      void this.applyStatus(chosen, (text as HTMLInputElement).value.trim());
    });
    replace(picker, form);
    picker.hidden = false;
    this.el.app!.dataset.picker = 'open';
    text.focus();
  }

  // ---- rendering ----------------------------------------------------------------

  private nameOf(user: string): string {
    return this.names.get(user) ?? user;
  }

  private avatar(user: string, name: string, status?: string): HTMLElement {
    const a = h('span', { className: 'avatar', style: `--hue:${hueOf(user)}`, 'aria-hidden': 'true' }, initials(name));
    if (status) a.appendChild(h('span', { className: 'dot', 'data-status': status }));
    return a;
  }

  private renderTitle(): void {
    let total = 0;
    for (const v of this.rooms.values()) total += v.unread;
    document.title = `${total ? `(${total}) ` : ''}#${this.active} · Parley`;
    const badge = this.el.menuBadge!;
    badge.hidden = total === 0;
  }

  private renderRooms(): void {
    const items = [...this.rooms.values()].map((v) => {
      const btn = h(
        'button',
        {
          type: 'button',
          className: `room${v.name === this.active ? ' active' : ''}${v.unread ? ' has-unread' : ''}`,
          'data-room': v.name,
          'aria-current': v.name === this.active ? 'page' : null,
        },
        icon('hash', 16),
        h('span', { className: 'room-name' }, v.name),
        v.unread
          ? h('span', { className: 'badge', 'data-unread': v.unread }, v.unread > 99 ? '99+' : String(v.unread))
          : null,
      );
      btn.addEventListener('click', () => this.switchTo(v.name));
      return btn;
    });
    replace(this.el.roomList!, ...items);
    this.renderTitle();
  }

  private renderHeader(): void {
    const view = this.rooms.get(this.active);
    replace(this.el.roomTitle!, h('span', { className: 'hash' }, '#'), this.active);
    if (!view) return;
    let online = 0;
    for (const m of view.members.values()) if (m.status !== 'offline') online++;
    const conn = this.client.state;
    this.el.roomSub!.textContent =
      conn === 'reconnecting' ? 'offline, reconnecting…' : view.joined ? `${online} online` : 'joining…';
  }

  private renderMe(): void {
    const card = this.el.meCard;
    if (!card) return;
    const shown = this.myStatus === 'invisible' ? 'offline' : this.myStatus;
    const conn = this.client.state;
    const label =
      conn === 'reconnecting' ? 'Reconnecting…' : `${STATUS_LABEL[this.myStatus]}${this.autoAway ? ' (idle)' : ''}`;
    replace(
      card,
      this.avatar(this.me, this.myName, conn === 'connected' ? shown : 'offline'),
      h(
        'span',
        { className: 'me-text' },
        h('span', { className: 'me-name' }, this.myName),
        h(
          'span',
          { className: 'me-status muted', id: 'my-status', 'data-status': this.myStatus },
          this.myText ? `${label} · ${this.myText}` : label,
        ),
      ),
    );
  }

  private renderPeople(): void {
    const view = this.rooms.get(this.active);
    const box = this.el.people;
    if (!box || !view) return;
    const entries = [...view.members.values()];
    if (!view.members.has(this.me)) entries.push({ user: this.me, name: this.myName, status: 'online' });
    const mine = (e: PresenceEntry): PresenceEntry =>
      e.user === this.me
        ? {
            ...e,
            name: this.myName,
            status: this.myStatus === 'invisible' ? 'offline' : this.myStatus,
            text: this.myText || undefined,
          }
        : e;
    const list = entries
      .map(mine)
      .sort(
        (a, b) =>
          (STATUS_ORDER[a.status] ?? 9) - (STATUS_ORDER[b.status] ?? 9) ||
          this.nameOf(a.user).localeCompare(this.nameOf(b.user)),
      );
    const online = list.filter((e) => e.status !== 'offline');
    const offline = list.filter((e) => e.status === 'offline');
    const row = (e: PresenceEntry): HTMLElement => {
      const name = e.name ?? this.nameOf(e.user);
      const detail =
        e.status === 'offline'
          ? e.user === this.me && this.myStatus === 'invisible'
            ? 'Invisible'
            : e.lastSeen
              ? `Last seen ${ago(e.lastSeen)}`
              : 'Offline'
          : (e.text ?? (e.status === 'online' ? '' : STATUS_LABEL[e.status]));
      return h(
        'li',
        {
          className: `person${e.status === 'offline' ? ' is-offline' : ''}`,
          'data-user': e.user,
          'data-status': e.status,
        },
        this.avatar(e.user, name, e.status),
        h(
          'span',
          { className: 'person-text' },
          h(
            'span',
            { className: 'person-name' },
            name,
            e.user === this.me ? h('span', { className: 'muted' }, ' (you)') : null,
          ),
          detail ? h('span', { className: 'person-status muted' }, detail) : null,
        ),
      );
    };
    replace(
      box,
      h('div', { className: 'section-label' }, `Online — ${online.length}`),
      h('ul', { className: 'people-list' }, ...online.map(row)),
      offline.length ? h('div', { className: 'section-label' }, `Offline — ${offline.length}`) : null,
      offline.length ? h('ul', { className: 'people-list' }, ...offline.map(row)) : null,
    );
  }

  private renderTyping(): void {
    const view = this.rooms.get(this.active);
    const el = this.el.typing!;
    if (!view) return;
    const now = Date.now();
    const names: string[] = [];
    for (const [user, until] of view.typing) {
      if (until <= now) view.typing.delete(user);
      else names.push(this.nameOf(user));
    }
    el.textContent = typingText(names);
    el.classList.toggle('on', names.length > 0);
    clearTimeout(this.typingTimer);
    if (names.length) this.typingTimer = setTimeout(() => this.renderTyping(), 1000);
  }

  private renderEdge(): void {
    const view = this.rooms.get(this.active);
    const edge = this.el.historyEdge!;
    if (!view) return;
    if (view.loadError) {
      const retry = h('button', { type: 'button', className: 'link' }, 'Try again');
      retry.addEventListener('click', () => void (view.loaded ? this.loadOlder(view) : this.loadLatest(view)));
      replace(edge, h('span', {}, view.loadError, ' '), retry);
    } else if (view.loading)
      replace(edge, h('span', { className: 'spinner', 'aria-hidden': 'true' }), 'Loading messages…');
    else if (view.loaded && !view.hasMore)
      replace(
        edge,
        h(
          'div',
          { className: 'room-start' },
          h('div', { className: 'room-start-icon' }, icon('hash', 28)),
          h('strong', {}, `This is the start of #${view.name}`),
          h('span', { className: 'muted' }, view.messages.length ? 'Everything said here is below.' : 'Say hello!'),
        ),
      );
    else edge.replaceChildren();
    edge.dataset.state = view.loadError
      ? 'error'
      : view.loading
        ? 'loading'
        : view.loaded && !view.hasMore
          ? 'start'
          : 'more';
  }

  private atBottom(): boolean {
    const box = this.el.messages!;
    return box.scrollHeight - box.scrollTop - box.clientHeight < 60;
  }

  private scrollToBottom(): void {
    const box = this.el.messages!;
    box.scrollTop = box.scrollHeight;
    this.el.newPill!.hidden = true;
  }

  /** Re-renders the active room's messages; `keep` holds the view still (prepends keep the reading position). */
  private renderMessages(mode: 'bottom' | 'keep'): void {
    const view = this.rooms.get(this.active);
    const box = this.el.messages!;
    if (!view) return;
    const fromBottom = box.scrollHeight - box.scrollTop;
    const frag = document.createDocumentFragment();
    let prev: { from: string; ts: number } | null = null;
    for (const m of view.messages) {
      if (!prev || !sameDay(prev.ts, m.ts)) {
        frag.appendChild(h('div', { className: 'day' }, h('span', {}, dayOf(m.ts))));
        prev = null;
      }
      const grouped = prev !== null && prev.from === m.from && m.ts - prev.ts < GROUP_GAP_MS;
      frag.appendChild(this.messageRow(m.id, m.from, m.name ?? this.nameOf(m.from), m.text, m.ts, grouped, null));
      prev = { from: m.from, ts: m.ts };
    }
    for (const p of view.pending.values()) {
      const grouped = prev !== null && prev.from === this.me && p.ts - prev.ts < GROUP_GAP_MS;
      frag.appendChild(this.messageRow(null, this.me, this.myName, p.text, p.ts, grouped, p));
      prev = { from: this.me, ts: p.ts };
    }
    if (!view.messages.length && !view.pending.size && view.loaded) {
      frag.appendChild(h('div', { className: 'empty muted' }, 'No messages yet.'));
    }
    this.el.msgList!.replaceChildren(frag);
    this.renderEdge();
    if (mode === 'bottom') this.scrollToBottom();
    else box.scrollTop = box.scrollHeight - fromBottom;
  }

  private messageRow(
    id: string | null,
    from: string,
    name: string,
    text: string,
    ts: number,
    grouped: boolean,
    pending: Pending | null,
  ): HTMLElement {
    const body = h('div', { className: 'msg-body' });
    if (!grouped) {
      body.appendChild(
        h(
          'div',
          { className: 'msg-head' },
          h('span', { className: 'msg-name' }, name),
          h('time', { className: 'msg-time muted', datetime: new Date(ts).toISOString() }, timeOf(ts)),
        ),
      );
    }
    body.appendChild(h('div', { className: 'msg-text' }, text));
    if (pending) {
      if (pending.failed) {
        const retry = h('button', { type: 'button', className: 'link' }, 'Retry');
        const view = this.rooms.get(this.active)!;
        retry.addEventListener('click', () => {
          delete pending.failed;
          this.renderMessages('keep');
          void this.deliver(view, pending);
        });
        const discard = h('button', { type: 'button', className: 'link' }, 'Discard');
        discard.addEventListener('click', () => {
          view.pending.delete(pending.clientMsgId);
          this.renderMessages('keep');
        });
        body.appendChild(
          h('div', { className: 'msg-note error-text' }, `Not sent: ${pending.failed} · `, retry, ' · ', discard),
        );
      } else body.appendChild(h('div', { className: 'msg-note muted' }, 'Sending…'));
    }
    const gutter = grouped
      ? h(
          'div',
          { className: 'msg-gutter' },
          h('time', { className: 'msg-time-hover muted', title: timeOf(ts) }, shortTimeOf(ts)),
        )
      : h('div', { className: 'msg-gutter' }, this.avatar(from, name));
    return h(
      'div',
      {
        className: `msg${grouped ? ' grouped' : ''}${from === this.me ? ' mine' : ''}${pending ? ' pending' : ''}${pending?.failed ? ' failed' : ''}`,
        'data-id': id,
        'data-from': from,
        'data-client-msg-id': pending?.clientMsgId,
      },
      gutter,
      body,
    );
  }
}

function randomKey(): string {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

// ---------------------------------------------------------------------------
// start

let current: ParleyClient | null = null;

async function startChat(session: Session): Promise<boolean> {
  current?.close();
  const client = new ParleyClient(
    session.mode === 'token'
      ? { url: location.origin, token: session.token! }
      : { url: location.origin, user: session.user!, name: session.name! },
  );
  current = client;
  try {
    await client.connect();
  } catch (err) {
    const detail = err instanceof ParleyClientError ? err.message : String(err);
    showSignIn(
      session.mode === 'token'
        ? `The server did not accept this token. ${detail}`
        : `Could not connect. The server may need a token (sign in with a token), or it is down. ${detail}`,
      session,
    );
    return false;
  }
  if (session.mode === 'token' && !client.userId) session.user = undefined;
  saveSession(session);
  new ChatApp(session, client).start();
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
  } else showSignIn();
}

boot();
