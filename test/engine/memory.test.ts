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
