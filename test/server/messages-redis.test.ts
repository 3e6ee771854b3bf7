import { startRedis, type RedisProcess } from '../support/redis.js';
import { startNode } from '../support/server.js';
import { MESSAGES_KEY, messagesSuite } from './messages-suite.js';

let redis: RedisProcess | null = null;

messagesSuite('redis engine, two nodes (clients alternate between them)', async () => {
  redis = await startRedis();
  const env = { PARLEY_API_KEY: MESSAGES_KEY, PARLEY_RECOVERY_MAX: '8' };
  const a = await startNode({ redisUrl: redis.url, env });
  const b = await startNode({ redisUrl: redis.url, env });
  return {
    nodes: [a, b],
    async stop() {
      await Promise.all([a.stop(), b.stop()]);
      await redis?.stop();
    },
  };
});
