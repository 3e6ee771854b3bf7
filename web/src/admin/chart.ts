/** A small line chart on a canvas: messages/s and deliveries/s over the window. */
import type { History } from './api.js';

const WINDOW_MS = 15 * 60_000;

function cssVar(el: Element, name: string): string {
  return getComputedStyle(el).getPropertyValue(name).trim() || '#888';
}

/** Draws the samples (oldest first) into the canvas at its CSS size and device pixel ratio. */
export function drawChart(canvas: HTMLCanvasElement, history: History, now: number): void {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth;
  const h = canvas.clientHeight;
  canvas.width = Math.round(w * dpr);
  canvas.height = Math.round(h * dpr);
  const g = canvas.getContext('2d');
  if (!g) return;
  g.scale(dpr, dpr);
  g.clearRect(0, 0, w, h);
  const pad = { l: 40, r: 8, t: 8, b: 18 };
  const max = Math.max(1, ...history.samples.flatMap((s) => [s.messagesPerSec, s.deliveriesPerSec]));
  const x = (ts: number): number => pad.l + ((ts - (now - WINDOW_MS)) / WINDOW_MS) * (w - pad.l - pad.r);
  const y = (v: number): number => h - pad.b - (v / max) * (h - pad.t - pad.b);
  g.strokeStyle = cssVar(canvas, '--line');
  g.fillStyle = cssVar(canvas, '--muted');
  g.font = '11px system-ui, sans-serif';
  g.lineWidth = 1;
  for (const frac of [0, 0.5, 1]) {
    const v = max * frac;
    g.beginPath();
    g.moveTo(pad.l, y(v));
    g.lineTo(w - pad.r, y(v));
    g.stroke();
    g.fillText(v >= 10 ? v.toFixed(0) : v.toFixed(1), 4, y(v) + 4);
  }
  for (const mins of [15, 10, 5, 0]) {
    g.fillText(mins === 0 ? 'now' : `-${mins}m`, x(now - mins * 60_000) - (mins === 0 ? 20 : 8), h - 4);
  }
  const line = (pick: (s: History['samples'][number]) => number, color: string): void => {
    g.strokeStyle = color;
    g.lineWidth = 2;
    g.beginPath();
    history.samples.forEach((s, i) => (i === 0 ? g.moveTo(x(s.ts), y(pick(s))) : g.lineTo(x(s.ts), y(pick(s)))));
    g.stroke();
    g.fillStyle = color;
    for (const s of history.samples) g.fillRect(x(s.ts) - 1.5, y(pick(s)) - 1.5, 3, 3);
  };
  line((s) => s.deliveriesPerSec, cssVar(canvas, '--accent2'));
  line((s) => s.messagesPerSec, cssVar(canvas, '--accent'));
}
