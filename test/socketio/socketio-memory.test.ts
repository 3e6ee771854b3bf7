import { startNode } from '../support/server.js';
import { socketIoSuite } from './socketio-suite.js';

socketIoSuite('memory engine, one node', async () => {
  const a = await startNode();
  return { nodes: [a], stop: () => a.stop() };
});
