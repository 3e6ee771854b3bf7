import { startNode } from '../support/server.js';
import { MESSAGES_KEY, messagesSuite } from './messages-suite.js';

messagesSuite('memory engine, one node', async () => {
  const node = await startNode({ env: { PARLEY_API_KEY: MESSAGES_KEY, PARLEY_RECOVERY_MAX: '8' } });
  return { nodes: [node], stop: () => node.stop() };
});
