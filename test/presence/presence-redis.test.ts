import { startRedis } from '../support/redis.js';
import { startNode } from '../support/server.js';
import { API_KEY, presenceSuite } from './presence-suite.js';

presenceSuite('Redis engine, two nodes', async () => {
  const redis = await startRedis();
  const env = { PARLEY_API_KEY: API_KEY };
  const nodes = [await startNode({ redisUrl: redis.url, env }), await startNode({ redisUrl: redis.url, env })];
  return {
    nodes,
    async stop() {
      await Promise.all(nodes.map((n) => n.stop()));
      await redis.stop();
    },
  };
});
