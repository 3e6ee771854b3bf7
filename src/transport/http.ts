/**
 * The HTTP edge: health, readiness, metrics, the /api routes and the web
 * page. Errors become `{"error":{"code","message"}}` with a fitting status here.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Engine } from '../engine/engine.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { httpStatusOf, ParleyError, toErrorBody } from '../protocol/errors.js';
import { serveStatic } from './static.js';

/** A handler for /api/* requests; resolves false when no route matched. */
export type ApiHandler = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean>;

export interface HttpDeps {
  engine: Engine;
  metrics: Metrics;
  log: Logger;
  api: ApiHandler;
  webRoot: string | null;
  isShuttingDown(): boolean;
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

export function sendError(res: ServerResponse, err: unknown): void {
  const body = toErrorBody(err);
  sendJson(res, httpStatusOf[body.code], { error: body });
}

export function createHttpServer(deps: HttpDeps): Server {
  return createServer((req, res) => {
    handle(deps, req, res).catch((err: unknown) => {
      if (!(err instanceof ParleyError)) deps.log.error({ err, url: req.url }, 'http request failed');
      if (!res.headersSent) sendError(res, err);
      else res.destroy();
    });
  });
}

async function handle(deps: HttpDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const path = url.pathname;
  if (path === '/healthz') {
    sendJson(res, 200, { status: 'ok' });
    return;
  }
  if (path === '/readyz') {
    const ok = !deps.isShuttingDown() && (await deps.engine.ready());
    sendJson(res, ok ? 200 : 503, { status: ok ? 'ready' : 'unavailable', engine: deps.engine.kind });
    return;
  }
  if (path === '/metrics') {
    const text = await deps.metrics.registry.metrics();
    res.writeHead(200, { 'Content-Type': deps.metrics.registry.contentType });
    res.end(text);
    return;
  }
  if (path === '/api' || path.startsWith('/api/')) {
    if (!(await deps.api(req, res, url))) throw new ParleyError('NOT_FOUND', `no route ${req.method} ${path}`);
    return;
  }
  if ((req.method === 'GET' || req.method === 'HEAD') && (await serveStatic(deps.webRoot, path, res))) return;
  throw new ParleyError('NOT_FOUND', `not found: ${path}`);
}
