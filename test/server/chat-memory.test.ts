import { startNode } from '../support/server.js';
import { chatSuite } from './chat-suite.js';

chatSuite('memory engine, one node', async () => {
  const node = await startNode();
  return { nodes: [node], stop: () => node.stop() };
});
