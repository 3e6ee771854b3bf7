/**
 * The HTTP edge: health, readiness, metrics, the /api routes and the web
 * page. Errors become `{"error":{"code","message"}}` with a fitting status here.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Engine } from '../engine/engine.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { ErrorCode } from '../protocol/codes.js';
import { httpStatusOf, ParleyError, toErrorBody } from '../protocol/errors.js';
import { serveStatic } from './static.js';

/**
 * A handler for /api/* requests: writes the answer and resolves with the
 * route template it served (a metrics label), or null when no route matched.
 */
export type ApiHandler = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<string | null>;

/**
 * A ParleyError with an HTTP status other than its code's usual one, and
 * extra headers (e.g. 405 with `Allow`).
 *
 * @example
 * throw new HttpError('BAD_REQUEST', 'use POST', 405, { Allow: 'POST' });
 */
export class HttpError extends ParleyError {
  constructor(
    code: ErrorCode,
    message: string,
    readonly status: number,
    readonly headers: Record<string, string> = {},
  ) {
    super(code, message);
  }
}

export interface HttpDeps {
  engine: Engine;
  metrics: Metrics;
  log: Logger;
  api: ApiHandler;
  webRoot: string | null;
  isShuttingDown(): boolean;
  /** Which route groups are served (all by default; an embedding app picks). */
  routes?: Partial<HttpRoutes>;
}

/** The route groups of the HTTP edge. */
export interface HttpRoutes {
  /** /healthz and /readyz. */
  health: boolean;
  /** /metrics (Prometheus). */
  metrics: boolean;
  /** /api/* (the HTTP API, API key). */
  api: boolean;
  /** Everything else: the web page from webRoot (404 when absent). */
  web: boolean;
}

const allRoutes: HttpRoutes = { health: true, metrics: true, api: true, web: true };

/**
 * Whether the HTTP edge answers `path` with these routes; an embedding app's
 * own handler gets the other requests.
 *
 * @example
 * if (!servesPath({ api: true }, '/api/presence')) appHandler(req, res);
 */
export function servesPath(routes: Partial<HttpRoutes>, path: string): boolean {
  const r = { ...allRoutes, ...routes };
  if (path === '/healthz' || path === '/readyz') return r.health;
  if (path === '/metrics') return r.metrics;
  if (path === '/api' || path.startsWith('/api/')) return r.api;
  return r.web;
}

/**
 * Writes a JSON answer.
 *
 * @example
 * sendJson(res, 201, { message });
 */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
  });
  res.end(text);
}

/**
 * Writes `{"error":{"code","message"}}` with the status of the error's code
 * (unknown errors: 500 INTERNAL, details only in the log).
 *
 * @example
 * sendError(res, new ParleyError('NOT_FOUND', 'no such route')); // 404
 */
export function sendError(res: ServerResponse, err: unknown): void {
  const body = toErrorBody(err);
  const headers: Record<string, string> = err instanceof HttpError ? { ...err.headers } : {};
  if (body.code === 'UNAUTHORIZED') headers['WWW-Authenticate'] = 'Bearer realm="parley"';
  if (body.code === 'UNAVAILABLE') headers['Retry-After'] = '1';
  sendJson(res, err instanceof HttpError ? err.status : httpStatusOf[body.code], { error: body }, headers);
}

/** Route label of each answered request, for parley_http_requests_total. */
const routeOf = new WeakMap<ServerResponse, string>();

/**
 * Sets the `route` label under which the request is counted (a route
 * template, never the raw path: label values must stay few).
 *
 * @example
 * labelRoute(res, '/api/rooms/{room}/messages');
 */
export function labelRoute(res: ServerResponse, route: string): void {
  routeOf.set(res, route);
}

/**
 * Creates the node's HTTP server (not yet listening).
 *
 * @example
 * const server = createHttpServer({ engine, metrics, log, api, webRoot: null, isShuttingDown: () => false });
 * server.listen(3000);
 */
export function createHttpServer(deps: HttpDeps): Server {
  return createServer(createRequestListener(deps));
}

/**
 * The HTTP edge as a request listener, for a server Parley does not own
 * (pair it with servesPath to leave other paths to the app).
 *
 * @example
 * const listener = createRequestListener({ ...deps, routes: { api: true, health: false, metrics: false, web: false } });
 */
export function createRequestListener(deps: HttpDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const routes = { ...allRoutes, ...deps.routes };
  return (req, res) => {
    res.once('finish', () => {
      deps.metrics.httpRequests.inc({ route: routeOf.get(res) ?? 'other', status: String(res.statusCode) });
    });
    handle(deps, routes, req, res).catch((err: unknown) => {
      if (!(err instanceof ParleyError)) deps.log.error({ err, url: req.url }, 'http request failed');
      else deps.log.debug({ code: err.code, method: req.method, url: req.url }, 'http request refused');
      if (!res.headersSent) sendError(res, err);
      else res.destroy();
    });
  };
}

async function handle(deps: HttpDeps, routes: HttpRoutes, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const path = url.pathname;
  if (!servesPath(routes, path)) throw new ParleyError('NOT_FOUND', `not found: ${path}`);
  if (path === '/healthz') {
    routeOf.set(res, path);
    sendJson(res, 200, { status: 'ok' });
    return;
  }
  if (path === '/readyz') {
    routeOf.set(res, path);
    const ok = !deps.isShuttingDown() && (await deps.engine.ready());
    sendJson(res, ok ? 200 : 503, { status: ok ? 'ready' : 'unavailable', engine: deps.engine.kind });
    return;
  }
  if (path === '/metrics') {
    routeOf.set(res, path);
    const text = await deps.metrics.registry.metrics();
    res.writeHead(200, { 'Content-Type': deps.metrics.registry.contentType, 'Cache-Control': 'no-store' });
    res.end(text);
    return;
  }
  if (path === '/api' || path.startsWith('/api/')) {
    routeOf.set(res, '/api/*');
    const route = await deps.api(req, res, url);
    if (route === null) throw new ParleyError('NOT_FOUND', `no route ${req.method ?? 'GET'} ${path}`);
    routeOf.set(res, route);
    return;
  }
  if (path === '/admin') {
    // The admin dashboard is a folder of the web page (its relative asset paths need the slash).
    routeOf.set(res, 'static');
    res.writeHead(308, { Location: '/admin/' });
    res.end();
    return;
  }
  routeOf.set(res, 'static');
  if ((req.method === 'GET' || req.method === 'HEAD') && (await serveStatic(deps.webRoot, path, res))) return;
  throw new ParleyError('NOT_FOUND', `not found: ${path}`);
}
