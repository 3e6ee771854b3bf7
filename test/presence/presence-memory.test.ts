import { startNode } from '../support/server.js';
import { API_KEY, presenceSuite } from './presence-suite.js';

presenceSuite('memory engine, one node', async () => {
  const node = await startNode({ env: { PARLEY_API_KEY: API_KEY } });
  return { nodes: [node], stop: () => node.stop() };
});
