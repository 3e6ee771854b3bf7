import { startNode } from '../support/server.js';
import { JWT_ENV, SUITE_ENV, roomsSuite } from './rooms-suite.js';

roomsSuite(
  'memory engine, one node',
  async () => {
    const a = await startNode({ env: SUITE_ENV });
    return { nodes: [a], stop: () => a.stop() };
  },
  async () => {
    const a = await startNode({ env: JWT_ENV });
    return { nodes: [a], stop: () => a.stop() };
  },
);
