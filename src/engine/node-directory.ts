/**
 * The nodes of the cluster as the admin dashboard shows them: each node
 * announces itself every few seconds (id, engine, connections, rooms, start
 * time); a node that stopped announcing for longer than the node timeout is
 * shown as not alive. Not on any hot path (one write per node per interval).
 */

/** One node's last announcement. */
export interface NodeInfo {
  id: string;
  engine: 'memory' | 'redis';
  /** Live connections on the node. */
  connections: number;
  /** Rooms the node is subscribed to (rooms with local members). */
  rooms: number;
  /** When the node started (ms). */
  startedAt: number;
  /** When it last announced itself (ms, the node's clock). */
  seenAt: number;
}

export interface NodeDirectory {
  /** Records this node's info (replacing its previous announcement). */
  announce(info: NodeInfo): Promise<void>;
  /** Every node that announced itself in the last `withinMs`, by id. */
  list(withinMs: number): Promise<NodeInfo[]>;
  /** Removes a node's entry (clean stop). */
  remove(id: string): Promise<void>;
}
