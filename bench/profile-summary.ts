/**
 * Summarizes V8 .cpuprofile files (from `npm run bench -- --profile` or
 * `node --cpu-prof`): self time by function and by package, and total
 * (inclusive) time of the heaviest functions.
 *
 *   node dist/bench/profile-summary.js <file.cpuprofile> [more files] [--top N]
 */
import { readFileSync } from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

function shortUrl(url: string): string {
  if (!url) return '';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) return url.slice(nm + 'node_modules/'.length);
  const d = url.indexOf('/dist/');
  if (d >= 0) return url.slice(d + 1);
  return url.replace(/^file:\/\//, '');
}

function bucket(url: string, name: string): string {
  if (!url) return name.startsWith('(') ? name : '(native/V8)';
  if (url.startsWith('node:')) return 'node core';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return (rest[0] ?? '').startsWith('@') ? `${rest[0]}/${rest[1]}` : (rest[0] ?? '');
  }
  const d = url.indexOf('/dist/');
  if (d >= 0)
    return url
      .slice(d + 1)
      .split('/')
      .slice(0, 3)
      .join('/');
  return url;
}

function summarize(file: string, top: number): void {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of p.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const selfUs = new Map<number, number>();
  p.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)));
  const total = p.endTime - p.startTime;
  const key = (f: CallFrame): string => `${f.functionName || '(anonymous)'} ${shortUrl(f.url)}:${f.lineNumber + 1}`;

  const self = new Map<string, number>();
  const pkgs = new Map<string, number>();
  const incl = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const n = byId.get(id) as ProfileNode;
    const k = key(n.callFrame);
    self.set(k, (self.get(k) ?? 0) + us);
    const b = bucket(n.callFrame.url, n.callFrame.functionName);
    pkgs.set(b, (pkgs.get(b) ?? 0) + us);
    // Inclusive: count once per distinct function on the stack.
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const ck = key((byId.get(cur) as ProfileNode).callFrame);
      if (seen.has(ck)) continue;
      seen.add(ck);
      incl.set(ck, (incl.get(ck) ?? 0) + us);
    }
  }
  const pct = (us: number): string => `${((100 * us) / total).toFixed(1).padStart(5)}%`;
  const print = (title: string, m: Map<string, number>, n: number): void => {
    console.log(`\n${title}`);
    for (const [k, us] of [...m].sort((a, b) => b[1] - a[1]).slice(0, n))
      console.log(`${pct(us)}  ${(us / 1000).toFixed(0).padStart(6)} ms  ${k}`);
  };
  console.log(`== ${file}: ${(total / 1e6).toFixed(2)} s profiled, ${p.samples.length} samples`);
  print('self time by package', pkgs, 15);
  print('self time by function', self, top);
  print('total time (inclusive) by function', incl, top);
}

const args = process.argv.slice(2);
let top = 30;
const files: string[] = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--top') top = Number(args[++i]);
  else files.push(args[i] as string);
}
if (files.length === 0) {
  console.error('usage: node dist/bench/profile-summary.js <file.cpuprofile>... [--top N]');
  process.exit(2);
}
for (const f of files) summarize(f, top);
