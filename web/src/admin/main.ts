/**
 * The admin dashboard (/admin/): the API key is asked once and kept in
 * sessionStorage; the page polls /api/admin/overview and /api/admin/history
 * every 5 s and offers two actions (publish to a room, kick a user) through
 * the HTTP API.
 */
import { api, storedKey, storeKey, Unauthorized, type History, type Overview } from './api.js';
import { drawChart } from './chart.js';

const root = document.getElementById('admin')!;
let timer: number | undefined;

function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, text?: string) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function duration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

function signIn(message = ''): void {
  if (timer !== undefined) clearInterval(timer);
  root.replaceChildren();
  const box = el('section', { class: 'signin' });
  box.append(el('h2', {}, 'Parley admin: API key'));
  const form = el('form');
  const input = el('input', { type: 'password', name: 'key', placeholder: 'PARLEY_API_KEY', autocomplete: 'off' });
  form.append(input, el('button', { type: 'submit' }, 'Open'));
  const note = el('p', { class: message ? 'note error' : 'note' }, message || 'Kept for this tab only.');
  box.append(form, note);
  root.append(box);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    storeKey(input.value.trim());
    void dashboard();
  });
  input.focus();
}

function actionForm(
  title: string,
  fields: { name: string; placeholder: string }[],
  submit: (values: Record<string, string>) => Promise<string>,
): HTMLElement {
  const section = el('section');
  section.append(el('h2', {}, title));
  const form = el('form');
  const inputs = fields.map((f) => el('input', { name: f.name, placeholder: f.placeholder, required: '' }));
  form.append(...inputs, el('button', { type: 'submit' }, title.split(' ')[0]!));
  const note = el('p', { class: 'note' });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const values = Object.fromEntries(inputs.map((i) => [i.name, i.value.trim()]));
    submit(values).then(
      (text) => {
        note.className = 'note';
        note.textContent = text;
      },
      (err: Error) => {
        if (err instanceof Unauthorized) return signIn(err.message);
        note.className = 'note error';
        note.textContent = err.message;
      },
    );
  });
  section.append(form, note);
  return section;
}

async function dashboard(): Promise<void> {
  root.replaceChildren();
  const header = el('header');
  const status = el('span', { class: 'status' }, 'loading…');
  const out = el('button', { class: 'plain', type: 'button' }, 'Forget key');
  out.addEventListener('click', () => {
    storeKey(null);
    signIn();
  });
  header.append(el('h1', {}, 'Parley admin'), status, out);
  const main = el('main');
  const tiles = el('section', { class: 'wide' });
  const chartBox = el('section', { class: 'wide' });
  const canvas = el('canvas', { 'aria-label': 'messages and deliveries per second, last 15 minutes' });
  const legend = el('div', { class: 'legend' });
  legend.innerHTML =
    'Last 15 minutes, this node:<i style="background:var(--accent)"></i>messages/s<i style="background:var(--accent2)"></i>deliveries/s';
  chartBox.append(el('h2', {}, 'Traffic'), canvas, legend);
  const nodes = el('section', { class: 'wide' });
  const rooms = el('section');
  const breaches = el('section');
  const publish = actionForm(
    'Publish to a room',
    [
      { name: 'room', placeholder: 'room' },
      { name: 'from', placeholder: 'as user (e.g. admin)' },
      { name: 'text', placeholder: 'text' },
    ],
    async (v) => {
      const r = await api<{ message: { id: string } }>(`/api/rooms/${encodeURIComponent(v.room!)}/messages`, {
        method: 'POST',
        body: { text: v.text, from: v.from },
      });
      return `published ${r.message.id}`;
    },
  );
  const kick = actionForm('Kick a user', [{ name: 'user', placeholder: 'user id' }], async (v) => {
    await api(`/api/users/${encodeURIComponent(v.user!)}/disconnect`, { method: 'POST', body: {} });
    return `${v.user} disconnected on every node`;
  });
  main.append(tiles, chartBox, nodes, rooms, breaches, publish, kick);
  root.append(header, main);

  const refresh = async (): Promise<void> => {
    let o: Overview;
    let h: History;
    try {
      [o, h] = await Promise.all([api<Overview>('/api/admin/overview'), api<History>('/api/admin/history')]);
    } catch (err) {
      if (err instanceof Unauthorized) return signIn(err.message);
      status.textContent = `update failed: ${(err as Error).message}`;
      return;
    }
    status.textContent = `node ${o.node} · updated ${new Date(o.now).toLocaleTimeString()}`;
    const tile = (value: number, label: string): HTMLElement => {
      const t = el('div', { class: 'tile' });
      t.append(el('b', {}, String(value)), el('span', {}, label));
      return t;
    };
    const row = el('div', { class: 'tiles' });
    row.append(
      tile(o.nodes.filter((n) => n.alive).length, 'nodes alive'),
      tile(o.connections, 'connections'),
      tile(o.rooms, 'rooms (this node)'),
      tile(o.presence.online, 'online'),
      tile(o.presence.away, 'away'),
      tile(o.presence.busy, 'busy'),
      tile(o.slowConsumerCloses, 'slow-consumer closes'),
    );
    tiles.replaceChildren(el('h2', {}, 'Now'), row);
    drawChart(canvas, h, o.now);
    const table = el('table');
    const head = el('tr');
    for (const c of ['node', 'engine', 'connections', 'rooms', 'uptime', 'alive']) head.append(el('th', {}, c));
    table.append(head);
    for (const n of o.nodes) {
      const tr = el('tr', n.alive ? {} : { class: 'dead' });
      for (const c of [
        n.id,
        n.engine,
        String(n.connections),
        String(n.rooms),
        duration(n.uptimeMs),
        n.alive ? 'yes' : 'no',
      ])
        tr.append(el('td', {}, c));
      table.append(tr);
    }
    const scroll = el('div', { class: 'scroll' });
    scroll.append(table);
    nodes.replaceChildren(el('h2', {}, 'Nodes'), scroll);
    const list = el('ul');
    for (const r of o.busiestRooms)
      list.append(el('li', {}, `${r.room}: ${r.members} member${r.members === 1 ? '' : 's'}`));
    if (o.busiestRooms.length === 0) list.append(el('li', {}, 'no rooms with members'));
    rooms.replaceChildren(el('h2', {}, 'Busiest rooms'), list);
    const bl = el('ul');
    for (const b of o.breaches.slice(0, 12))
      bl.append(el('li', {}, `${new Date(b.ts).toLocaleTimeString()} ${b.limit} ×${b.count}`));
    if (o.breaches.length === 0) bl.append(el('li', {}, 'none recently'));
    breaches.replaceChildren(el('h2', {}, 'Limit breaches and slow consumers'), bl);
  };
  await refresh();
  timer = window.setInterval(() => void refresh(), 5000);
}

if (storedKey()) void dashboard();
else signIn();
