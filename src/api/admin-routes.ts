/**
 * Read routes of the admin dashboard (/admin): what the cluster and this
 * node look like now, and this node's last 15 minutes. The data comes from
 * an AdminSource (src/server/stats.ts); actions use the existing routes
 * (publish, disconnect).
 */
import { Type, type TSchema } from '@sinclair/typebox';
import type { ApiRoute } from './router.js';

const Num = Type.Number();
const NodeSchema = Type.Object({
  id: Type.String(),
  engine: Type.String(),
  connections: Num,
  rooms: Num,
  startedAt: Num,
  seenAt: Num,
  uptimeMs: Num,
  alive: Type.Boolean({ description: 'Announced itself within the node timeout' }),
});
const OverviewSchema = Type.Object({
  node: Type.String({ description: 'The node that answered' }),
  now: Num,
  nodes: Type.Array(NodeSchema),
  connections: Type.Number({ description: 'Live connections, all alive nodes' }),
  rooms: Type.Number({ description: 'Rooms with members on this node' }),
  presence: Type.Object({ online: Num, away: Num, busy: Num }, { description: 'Users by public status' }),
  busiestRooms: Type.Array(Type.Object({ room: Type.String(), members: Num })),
  breaches: Type.Array(Type.Object({ ts: Num, limit: Type.String(), count: Num }), {
    description: 'Recent limit breaches on this node (slow-consumer closes have limit "slow_consumer")',
  }),
  slowConsumerCloses: Type.Number({ description: 'Slow-consumer closes on this node since it started' }),
});
const HistorySchema = Type.Object({
  node: Type.String(),
  intervalMs: Num,
  samples: Type.Array(Type.Object({ ts: Num, messagesPerSec: Num, deliveriesPerSec: Num, connections: Num }), {
    description: 'Oldest first, one per interval, the last 15 minutes',
  }),
});

export type AdminOverview = (typeof OverviewSchema)['static'];
export type AdminHistory = (typeof HistorySchema)['static'];

/** What the admin routes read. */
export interface AdminSource {
  overview(): Promise<AdminOverview>;
  history(): AdminHistory;
}

/**
 * The admin read routes (API key like every /api route).
 *
 * @example
 * routes.push(...adminRoutes(stats));
 */
export function adminRoutes(source: AdminSource): ApiRoute[] {
  return [
    {
      method: 'GET',
      path: '/api/admin/overview',
      operationId: 'adminOverview',
      summary: 'Cluster overview for the admin dashboard',
      description:
        'Nodes (from their announcements: id, engine, connections, uptime, alive), connections, rooms, presence counts by status, the busiest rooms of this node, recent limit breaches and slow-consumer closes.',
      tags: ['admin'],
      status: 200,
      result: OverviewSchema as TSchema,
      errors: [],
      handle: () => source.overview(),
    },
    {
      method: 'GET',
      path: '/api/admin/history',
      operationId: 'adminHistory',
      summary: "This node's messages and deliveries per second, last 15 minutes",
      tags: ['admin'],
      status: 200,
      result: HistorySchema as TSchema,
      errors: [],
      handle: async () => source.history(),
    },
  ];
}
