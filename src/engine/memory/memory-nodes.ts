/** The node directory of the memory engine (one process: at most this node). */
import type { NodeDirectory, NodeInfo } from '../node-directory.js';
import type { StateSizes } from '../../state-sizes.js';

export class MemoryNodeDirectory implements NodeDirectory {
  private readonly nodes = new Map<string, NodeInfo>();

  async announce(info: NodeInfo): Promise<void> {
    this.nodes.set(info.id, { ...info });
  }

  async list(withinMs: number): Promise<NodeInfo[]> {
    const since = Date.now() - withinMs;
    return [...this.nodes.values()].filter((n) => n.seenAt >= since).sort((a, b) => a.id.localeCompare(b.id));
  }

  async remove(id: string): Promise<void> {
    this.nodes.delete(id);
  }

  /** Nodes known (parley_state_entries). */
  stateSizes(): StateSizes {
    return { 'memoryNodes.nodes': this.nodes.size };
  }
}
