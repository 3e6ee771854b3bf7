import { startNode } from '../support/server.js';
import { KEY, moderationSuite } from './moderation-suite.js';

moderationSuite('memory engine, one node', async () => {
  const node = await startNode({ env: { PARLEY_API_KEY: KEY } });
  return { nodes: [node], stop: () => node.stop() };
});
