/**
 * Summarizes a V8 .heapsnapshot (from `npm run bench -- --profile --only idle`):
 * self size and count by constructor name, optionally per connection.
 *
 *   node dist/bench/heap-summary.js <file.heapsnapshot> [--per N] [--top N]
 */
import { readFileSync } from 'node:fs';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

const args = process.argv.slice(2);
let per = 1;
let top = 30;
const files: string[] = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--per') per = Number(args[++i]);
  else if (args[i] === '--top') top = Number(args[++i]);
  else files.push(args[i] as string);
}
if (files.length === 0) {
  console.error('usage: node dist/bench/heap-summary.js <file.heapsnapshot>... [--per N] [--top N]');
  process.exit(2);
}

for (const file of files) {
  const snap = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const width = fields.length;
  const iType = fields.indexOf('type');
  const iName = fields.indexOf('name');
  const iSize = fields.indexOf('self_size');
  const groups = new Map<string, { size: number; count: number }>();
  let total = 0;
  for (let o = 0; o < snap.nodes.length; o += width) {
    const type = types[snap.nodes[o + iType] as number] ?? '?';
    const size = snap.nodes[o + iSize] as number;
    total += size;
    let name = type;
    if (type === 'object' || type === 'closure' || type === 'native')
      name = `${type} ${snap.strings[snap.nodes[o + iName] as number]}`;
    const g = groups.get(name);
    if (g) {
      g.size += size;
      g.count++;
    } else groups.set(name, { size, count: 1 });
  }
  const unit = per === 1 ? 'bytes' : `bytes per ${per === 1 ? '' : 'connection'}`;
  console.log(
    `== ${file}: ${(total / 2 ** 20).toFixed(1)} MB self size in all; ${unit}${per === 1 ? '' : ` (÷ ${per})`}`,
  );
  for (const [name, g] of [...groups].sort((a, b) => b[1].size - a[1].size).slice(0, top)) {
    console.log(
      `${(g.size / per).toFixed(0).padStart(9)}  ${(g.count / per).toFixed(2).padStart(8)} objs  ${name.slice(0, 100)}`,
    );
  }
}
