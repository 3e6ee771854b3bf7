/**
 * An existing web app that embeds Parley on its own HTTP server: the app
 * keeps its routes and its port; Parley adds WebSocket clients at /ws and
 * the HTTP API at /api (with an API key). Ctrl-C stops Parley gracefully
 * (clients get 1001 and reconnect elsewhere), then the server.
 *
 * The app here is a plain node:http handler, so the example runs without
 * extra packages. An Express app is such a handler: with Express, write
 * `const app = express(); app.get('/hello', ...)` and `createServer(app)`
 * (or `const server = app.listen(port)`) and keep the rest as it is.
 *
 *   npm run build
 *   PORT=3000 PARLEY_API_KEY=dev-key node examples/http-app.mjs
 *   curl localhost:3000/hello
 *   curl -H 'Authorization: Bearer dev-key' localhost:3000/api/presence
 */
import { createServer } from 'node:http';
import { attachParley } from 'parley';

/** The app's own routes (an Express app would do the same). */
function app(req, res) {
  if (req.url === '/hello') {
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.end('hello from the app\n');
    return;
  }
  res.writeHead(404, { 'Content-Type': 'text/plain' });
  res.end('not found\n');
}

const server = createServer(app);
const parley = await attachParley(server, {
  apiKey: process.env.PARLEY_API_KEY, // no key: no /api
  redisUrl: process.env.REDIS_URL, // no Redis: one node, in memory
  logLevel: process.env.LOG_LEVEL ?? 'warn',
  health: true, // /healthz and /readyz for the load balancer
});
const port = Number(process.env.PORT ?? 3000);
server.listen(port, '127.0.0.1', () => {
  console.log(`app on http://127.0.0.1:${server.address().port} (Parley at /ws and /api)`);
});

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  await parley.close(); // Parley's clients and storage; the server is still the app's
  server.close(() => process.exit(0));
  server.closeAllConnections();
}
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
