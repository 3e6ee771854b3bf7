/**
 * The node directory on Redis: one hash, `parley:nodeinfo` (field = node id,
 * value = its JSON info). Written by each node every few seconds (never per
 * message), read by the admin dashboard; stale entries are dropped on read.
 */
import type { NodeDirectory, NodeInfo } from '../node-directory.js';
import { call, type RedisCommands } from './client.js';

export const NODE_INFO_KEY = 'parley:nodeinfo';

export class RedisNodeDirectory implements NodeDirectory {
  constructor(private readonly redis: RedisCommands) {}

  async announce(info: NodeInfo): Promise<void> {
    await call(this.redis.hset(NODE_INFO_KEY, info.id, JSON.stringify(info)));
  }

  async list(withinMs: number): Promise<NodeInfo[]> {
    const all = await call(this.redis.hgetall(NODE_INFO_KEY));
    const since = Date.now() - withinMs;
    const nodes: NodeInfo[] = [];
    const stale: string[] = [];
    for (const [id, text] of Object.entries(all)) {
      let info: NodeInfo | null;
      try {
        info = JSON.parse(text) as NodeInfo;
      } catch {
        info = null;
      }
      // Kept an hour after its last announcement (shown as not alive), then dropped.
      if (info === null || info.seenAt < Date.now() - 3600_000) stale.push(id);
      else if (info.seenAt >= since) nodes.push(info);
    }
    if (stale.length > 0) await call(this.redis.hdel(NODE_INFO_KEY, ...stale));
    return nodes.sort((a, b) => a.id.localeCompare(b.id));
  }

  async remove(id: string): Promise<void> {
    await call(this.redis.hdel(NODE_INFO_KEY, id));
  }
}
