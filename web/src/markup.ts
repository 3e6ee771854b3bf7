/**
 * A small, safe subset of markdown for message text, built from DOM nodes:
 * code blocks (```), `code`, **bold**, _italic_, and http(s) links. Nothing is
 * ever parsed as HTML: every piece of user text becomes a text node, so
 * `<img onerror=…>` shows as those characters.
 */
import { h } from './dom.js';

const INLINE =
  /(`[^`\n]+`)|(\*\*[^*\n]+?\*\*)|((?<![\p{L}\p{N}_])_[^_\n]+?_(?![\p{L}\p{N}_]))|(https?:\/\/[^\s<>"'`]+)/gu;
const TRAILING = /[.,!?;:)\]}'"]+$/;

/** The nodes of a message text. */
export function renderMarkup(text: string): Node[] {
  const out: Node[] = [];
  const parts = text.split('```');
  // Odd parts are inside a fence (an unclosed fence is text).
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    const fenced = i % 2 === 1 && i < parts.length - 1;
    if (fenced) {
      const code = part.replace(/^[\w+-]*\n/, '').replace(/\n$/, '');
      out.push(h('pre', { className: 'md-pre' }, h('code', {}, code)));
    } else {
      let chunk = i % 2 === 1 ? '```' + part : part; // an unclosed fence stays text
      if (i > 0 && i % 2 === 0) chunk = chunk.replace(/^\n/, ''); // the line break after a closing fence
      if (i % 2 === 0 && i + 2 < parts.length) chunk = chunk.replace(/\n$/, ''); // before an opening fence
      out.push(...inline(chunk));
    }
  }
  return out;
}

function inline(text: string, depth = 0): Node[] {
  const out: Node[] = [];
  let last = 0;
  INLINE.lastIndex = 0;
  const matches = [...text.matchAll(INLINE)];
  for (const m of matches) {
    const start = m.index ?? 0;
    if (start < last) continue;
    let token = m[0];
    let end = start + token.length;
    if (start > last) out.push(document.createTextNode(text.slice(last, start)));
    if (m[1]) out.push(h('code', { className: 'md-code' }, token.slice(1, -1)));
    else if (m[2]) out.push(wrap('strong', token.slice(2, -2), depth));
    else if (m[3]) out.push(wrap('em', token.slice(1, -1), depth));
    else {
      const trail = TRAILING.exec(token)?.[0] ?? '';
      if (trail) {
        token = token.slice(0, -trail.length);
        end -= trail.length;
      }
      out.push(link(token));
    }
    last = end;
  }
  if (last < text.length) out.push(document.createTextNode(text.slice(last)));
  return out;
}

function wrap(tag: 'strong' | 'em', inner: string, depth: number): HTMLElement {
  const el = document.createElement(tag);
  for (const n of depth < 2 ? inline(inner, depth + 1) : [document.createTextNode(inner)]) el.appendChild(n);
  return el;
}

function link(url: string): Node {
  let href: URL;
  try {
    href = new URL(url);
  } catch {
    return document.createTextNode(url);
  }
  if (href.protocol !== 'http:' && href.protocol !== 'https:') return document.createTextNode(url);
  return h('a', { href: href.toString(), target: '_blank', rel: 'noopener noreferrer' }, url);
}

/** A one-line plain preview of a message text (reply quotes, the directory): markers dropped, shortened. */
export function snippet(text: string, max = 80): string {
  const one = text
    .replace(/```[\w+-]*/g, '')
    .replace(/\*\*([^*\n]+?)\*\*/g, '$1')
    .replace(/`([^`\n]+)`/g, '$1')
    .replace(/(?<![\p{L}\p{N}_])_([^_\n]+?)_(?![\p{L}\p{N}_])/gu, '$1')
    .replace(/\s+/g, ' ')
    .trim();
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}
