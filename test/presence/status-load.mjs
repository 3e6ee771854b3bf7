// Load generator for presence-throughput.test.ts, run as its own process so
// the clients do not share the server's event loop. Opens CLIENTS sockets
// (one user each, each in a room of its own), sends PER_CLIENT `status`
// commands per socket (online <-> away, at most WINDOW unanswered), and
// prints one JSON line: {"total","secs","events"}.
// Usage: node status-load.mjs <ws-url-prefix> <clients> <perClient> <window>
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';

const [base, clientsArg, perArg, windowArg] = process.argv.slice(2);
const CLIENTS = Number(clientsArg);
const PER_CLIENT = Number(perArg);
const WINDOW = Number(windowArg);
const tag = `${process.pid}-${Date.now().toString(36)}`;

function open(i) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${base}?user=load-${tag}-${i}`);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

function once(ws, id, frame) {
  return new Promise((resolve, reject) => {
    const on = (data) => {
      const f = JSON.parse(data.toString());
      if (f.type === 'reply' && f.id === id) {
        ws.off('message', on);
        if (f.ok) resolve();
        else reject(new Error(JSON.stringify(f)));
      }
    };
    ws.on('message', on);
    ws.send(JSON.stringify({ ...frame, id }));
  });
}

function drive(ws, count) {
  return new Promise((resolve, reject) => {
    let sent = 0;
    let answered = 0;
    let events = 0;
    const send = () => {
      sent++;
      ws.send(`{"type":"status","id":${sent},"status":"${sent % 2 ? 'away' : 'online'}"}`);
    };
    const on = (data) => {
      const s = data.toString();
      if (!s.startsWith('{"type":"reply"')) {
        events++;
        return;
      }
      if (!s.includes('"ok":true')) {
        ws.off('message', on);
        reject(new Error(s));
        return;
      }
      answered++;
      if (sent < count) send();
      else if (answered === count) {
        ws.off('message', on);
        resolve(events);
      }
    };
    ws.on('message', on);
    for (let i = 0; i < Math.min(WINDOW, count); i++) send();
  });
}

const sockets = await Promise.all(Array.from({ length: CLIENTS }, (_, i) => open(i)));
await Promise.all(sockets.map((ws, i) => once(ws, 1e6, { type: 'join', room: `load-${tag}-${i}` })));
await Promise.all(sockets.map((ws) => drive(ws, 20))); // warm-up
const t0 = performance.now();
const events = await Promise.all(sockets.map((ws) => drive(ws, PER_CLIENT)));
const secs = (performance.now() - t0) / 1000;
for (const ws of sockets) ws.close();
process.stdout.write(
  `${JSON.stringify({ total: CLIENTS * PER_CLIENT, secs, events: events.reduce((a, b) => a + b, 0) })}\n`,
);
process.exit(0);
