/**
 * The memory engine against the shared conformance suite. One MemoryEngine is
 * the whole cluster (no storage shared between instances), so the cases that
 * need two nodes on one store (`multiNode`) run on the Redis engines only:
 * bus order across nodes, presence across nodes, the dead-node sweep, shared
 * memberships, shared moderation and its shard hand-over (6 cases).
 */
import { MemoryEngine } from '../../src/engine/memory/memory-engine.js';
import { engineConformance } from './conformance.js';

let n = 0;
engineConformance('memory', {
  multiNode: false,
  async make(options) {
    const e = new MemoryEngine({ nodeId: `mem-${++n}`, ...options });
    await e.start();
    return e;
  },
});
