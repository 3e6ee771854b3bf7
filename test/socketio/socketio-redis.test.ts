import { startRedis, type RedisProcess } from '../support/redis.js';
import { startNode } from '../support/server.js';
import { socketIoSuite } from './socketio-suite.js';

let redis: RedisProcess | null = null;

socketIoSuite('redis engine, two nodes', async () => {
  redis = await startRedis();
  const a = await startNode({ redisUrl: redis.url });
  const b = await startNode({ redisUrl: redis.url });
  return {
    nodes: [a, b],
    async stop() {
      await Promise.all([a.stop(), b.stop()]);
      await redis?.stop();
    },
  };
});
