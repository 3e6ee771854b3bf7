/**
 * The OpenAPI 3.1 document of the HTTP API, built from the route table and
 * the TypeBox schemas the server validates with (served at
 * `GET /api/openapi.json`, behind the API key like every /api route).
 */
import { readFileSync } from 'node:fs';
import type { TSchema } from '@sinclair/typebox';
import type { ApiRoute } from './router.js';
import {
  ErrorSchema,
  HealthSchema,
  IdSchema,
  MessageIdSchema,
  MessageSchema,
  PresenceEntrySchema,
  ReadySchema,
} from './schemas.js';

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/** A TypeBox schema as plain JSON (TypeBox's symbol keys dropped). */
function plain(schema: TSchema): Record<string, unknown> {
  return JSON.parse(JSON.stringify(schema)) as Record<string, unknown>;
}

const STATUS_TEXT: Record<number, string> = {
  200: 'OK',
  201: 'Created',
  400: 'Bad request: malformed JSON, a missing or wrong-typed field, a bad id (BAD_REQUEST)',
  401: 'Missing or wrong API key, or no PARLEY_API_KEY configured (UNAUTHORIZED)',
  403: 'Not allowed (FORBIDDEN)',
  404: 'No such route, or no such message (NOT_FOUND)',
  405: 'Method not allowed on this path (BAD_REQUEST; see the Allow header)',
  413: 'Text or body too large (TOO_LARGE)',
  500: 'Internal error (INTERNAL)',
  503: 'Storage unreachable: nothing was stored, a retry is safe (UNAVAILABLE)',
};

function errorResponse(status: number): Record<string, unknown> {
  return {
    description: STATUS_TEXT[status] ?? 'Error',
    content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
  };
}

/**
 * Builds the OpenAPI 3.1 document for the given routes.
 *
 * @example
 * const doc = buildOpenApi(apiRoutes(deps));
 * doc.openapi; // '3.1.0'
 */
export function buildOpenApi(routes: ApiRoute[]): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const names = [...r.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);
    const parameters: unknown[] = names.map((name) => ({
      name,
      in: 'path',
      required: true,
      description:
        name === 'messageId'
          ? 'The message id'
          : `The ${name} id (percent-encode \`:\` and \`@\` if your client needs to)`,
      schema: plain(name === 'messageId' ? MessageIdSchema : IdSchema),
    }));
    for (const q of r.query ?? [])
      parameters.push({
        name: q.name,
        in: 'query',
        required: false,
        description: q.description,
        schema: plain(q.schema),
      });
    const responses: Record<string, unknown> = {
      [String(r.status)]: {
        description: STATUS_TEXT[r.status] ?? 'OK',
        content: { 'application/json': { schema: plain(r.result) } },
      },
    };
    for (const status of [...r.errors, 401, 405, 500, 503]) responses[String(status)] = errorResponse(status);
    const op: Record<string, unknown> = {
      operationId: r.operationId,
      summary: r.summary,
      tags: r.tags,
      parameters,
      responses,
    };
    if (r.description) op.description = r.description;
    if (r.body) op.requestBody = { required: true, content: { 'application/json': { schema: plain(r.body) } } };
    (paths[r.path] ??= {})[r.method.toLowerCase()] = op;
  }

  const open = { security: [] as unknown[] };
  paths['/healthz'] = {
    get: {
      ...open,
      operationId: 'health',
      summary: 'Liveness: 200 while the process runs',
      tags: ['operations'],
      responses: { '200': { description: 'Alive', content: { 'application/json': { schema: plain(HealthSchema) } } } },
    },
  };
  paths['/readyz'] = {
    get: {
      ...open,
      operationId: 'ready',
      summary: 'Readiness: 200 when storage is reachable; 503 when not, or while shutting down',
      tags: ['operations'],
      responses: {
        '200': { description: 'Ready', content: { 'application/json': { schema: plain(ReadySchema) } } },
        '503': { description: 'Not ready', content: { 'application/json': { schema: plain(ReadySchema) } } },
      },
    },
  };
  paths['/metrics'] = {
    get: {
      ...open,
      operationId: 'metrics',
      summary: 'Prometheus metrics (text exposition format)',
      tags: ['operations'],
      responses: { '200': { description: 'Metrics', content: { 'text/plain': { schema: { type: 'string' } } } } },
    },
  };

  return {
    openapi: '3.1.0',
    info: {
      title: 'Parley HTTP API',
      version: packageVersion(),
      description:
        'Server-side API of Parley, the real-time chat and presence server. Every /api route needs ' +
        '`Authorization: Bearer <PARLEY_API_KEY>`. Errors are `{"error":{"code","message"}}`. ' +
        'The WebSocket protocol (`GET /ws`) is described in docs/protocol.md.',
      license: { name: 'MIT', identifier: 'MIT' },
    },
    servers: [{ url: '/', description: 'This node' }],
    security: [{ apiKey: [] }],
    tags: [
      { name: 'messages', description: 'Publishing and history' },
      { name: 'presence', description: 'Who is online, cluster-wide' },
      { name: 'users', description: "Acting on users' connections" },
      { name: 'operations', description: 'Health, readiness and metrics (no key)' },
      { name: 'meta', description: 'This document' },
    ],
    paths,
    components: {
      securitySchemes: {
        apiKey: { type: 'http', scheme: 'bearer', description: 'The value of PARLEY_API_KEY' },
      },
      schemas: {
        Error: plain(ErrorSchema),
        Message: plain(MessageSchema),
        PresenceEntry: plain(PresenceEntrySchema),
      },
    },
  };
}
