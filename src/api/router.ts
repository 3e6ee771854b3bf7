/**
 * The server HTTP API under /api (see docs/protocol.md, "HTTP API"). Every
 * route, the OpenAPI document included, needs
 * `Authorization: Bearer <PARLEY_API_KEY>`; without a configured key the API
 * is closed (401).
 *
 * Routes are a table: each entry carries its handler and its OpenAPI
 * description, so `GET /api/openapi.json` documents exactly what is served.
 */
import { timingSafeEqual, createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { cleanName } from '../auth/authenticator.js';
import { canAccessRoom } from '../auth/identity.js';
import type { Engine } from '../engine/engine.js';
import type { ChatFeature } from '../features/chat/chat.js';
import type { MessageLifecycle } from '../features/chat/lifecycle.js';
import type { ModerationFeature } from '../features/moderation/moderation.js';
import type { PresenceFeature } from '../features/presence/presence.js';
import type { RoomsFeature } from '../features/rooms/rooms.js';
import type { Metrics } from '../metrics.js';
import { CloseCodes } from '../protocol/codes.js';
import { ParleyError } from '../protocol/errors.js';
import { isValidId, MESSAGE_ID_PATTERN } from '../protocol/ids.js';
import { HttpError, labelRoute, sendJson, type ApiHandler } from '../transport/http.js';
import { moderationRoutes } from './moderation-routes.js';
import { adminRoutes, type AdminSource } from './admin-routes.js';
import { buildOpenApi } from './openapi.js';
import {
  EditBody,
  EmptySchema,
  HistoryPageSchema,
  MessageIdSchema,
  MessageResultSchema,
  PresenceEntrySchema,
  PublishBody,
  PublishResult,
  RoomPresenceSchema,
  UserRoomsSchema,
  UsersByStatusSchema,
} from './schemas.js';

export interface ApiDeps {
  apiKey: string | null;
  engine: Engine;
  chat: ChatFeature;
  /** Edits and deletes as the server. */
  lifecycle: MessageLifecycle;
  presence: PresenceFeature;
  rooms: RoomsFeature;
  /** Bans, mutes, room settings (the API key acts as a moderator). */
  moderation?: ModerationFeature;
  /** Most bytes accepted in a request body. */
  maxBodyBytes: number;
  /** Counts body-size breaches when given. */
  metrics?: Metrics;
  /** The admin dashboard's read routes (/api/admin/*). */
  admin?: AdminSource;
}

/** A query parameter of a route, for validation and the OpenAPI document. */
export interface QueryParam {
  name: string;
  description: string;
  schema: TSchema;
}

/** One API route: its handler and its OpenAPI description. */
export interface ApiRoute {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** OpenAPI path template, e.g. `/api/rooms/{room}/messages`. */
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  tags: string[];
  query?: QueryParam[];
  body?: TSchema;
  /** Status of a successful answer. */
  status: number;
  result: TSchema;
  /** Error statuses this route can answer besides 401/500/503. */
  errors: number[];
  handle(ctx: RouteContext): Promise<unknown>;
}

export interface RouteContext {
  req: IncomingMessage;
  url: URL;
  /** Path parameters, percent-decoded and validated as ids. */
  params: Record<string, string>;
  /** The parsed, validated JSON body (routes with `body` only). */
  body: Record<string, unknown>;
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/**
 * Constant-time check of the bearer key (hashing first makes lengths equal).
 * Throws UNAUTHORIZED when the key is unset on the server or wrong.
 *
 * @example
 * checkApiKey('Bearer s3cret', 's3cret'); // passes
 * checkApiKey(undefined, 's3cret');       // throws ParleyError('UNAUTHORIZED')
 */
export function checkApiKey(header: string | undefined, apiKey: string | null): void {
  if (apiKey === null) throw new ParleyError('UNAUTHORIZED', 'the HTTP API is disabled: set PARLEY_API_KEY');
  const m = /^Bearer (.+)$/.exec(header ?? '');
  if (!m || !timingSafeEqual(digest(m[1]!), digest(apiKey))) {
    throw new ParleyError('UNAUTHORIZED', 'missing or wrong API key (Authorization: Bearer <PARLEY_API_KEY>)');
  }
}

async function readJson(
  req: IncomingMessage,
  max: number,
  metrics: Metrics | undefined,
): Promise<Record<string, unknown>> {
  const tooLarge = (): ParleyError => {
    metrics?.limitBreaches.inc({ limit: 'http_body_size' });
    return new ParleyError('TOO_LARGE', `request body is larger than ${max} bytes`);
  };
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > max) {
    req.resume();
    throw tooLarge();
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > max) {
      req.resume();
      throw tooLarge();
    }
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString();
  if (text.trim() === '') throw new ParleyError('BAD_REQUEST', 'request body is empty: send a JSON object');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ParleyError('BAD_REQUEST', 'request body is not valid JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ParleyError('BAD_REQUEST', 'request body must be a JSON object');
  }
  return body as Record<string, unknown>;
}

const checkers = new WeakMap<TSchema, ReturnType<typeof TypeCompiler.Compile>>();

/** Validates `value` against `schema`; throws BAD_REQUEST naming the first bad field. */
function validate(schema: TSchema, value: unknown, what: string): void {
  let checker = checkers.get(schema);
  if (!checker) {
    checker = TypeCompiler.Compile(schema);
    checkers.set(schema, checker);
  }
  if (checker.Check(value)) return;
  const first = checker.Errors(value).First();
  const field = first?.path ? first.path.replace(/^\//, '') : '';
  const v = field !== '' ? (value as Record<string, unknown>)[field.split('/')[0]!] : value;
  const reason =
    v === undefined
      ? 'is required'
      : (first?.message ?? 'is invalid').replace(/^Expected/, 'must be').replace(/^must be string/, 'must be a string');
  throw new ParleyError('BAD_REQUEST', field !== '' ? `${what}: "${field}" ${reason}` : `${what}: ${reason}`);
}

function pathId(raw: string, what: string): string {
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    throw new ParleyError('BAD_REQUEST', `bad ${what} id`);
  }
  if (isValidId(decoded)) return decoded;
  const shown = raw.length > 140 ? `${raw.slice(0, 140)}...` : raw;
  throw new ParleyError('BAD_REQUEST', `bad ${what} id "${shown}": use 1-128 letters, digits, _ . : @ -`);
}

/** A message id path parameter (already checked as an id), or BAD_REQUEST. */
function messageIdParam(id: string): string {
  if (!MESSAGE_ID_PATTERN.test(id)) throw new ParleyError('BAD_REQUEST', `bad message id "${id}"`);
  return id;
}

/** A positive integer query parameter, or undefined when absent. */
function intParam(url: URL, name: string, max: number): number | undefined {
  const raw = url.searchParams.get(name);
  if (raw === null) return undefined;
  if (!/^\d{1,9}$/.test(raw) || Number(raw) < 1)
    throw new ParleyError('BAD_REQUEST', `"${name}" must be a positive integer`);
  return Math.min(Number(raw), max);
}

const LimitParam = (max: number, dflt: number): TSchema =>
  ({
    type: 'integer',
    minimum: 1,
    default: dflt,
    description: `values above ${max} are capped to ${max}`,
  }) as unknown as TSchema;

/**
 * The API's routes (handlers and OpenAPI descriptions).
 *
 * @example
 * const routes = apiRoutes(deps);
 * routes.map((r) => `${r.method} ${r.path}`); // ['POST /api/rooms/{room}/messages', ...]
 */
export function apiRoutes(deps: ApiDeps): ApiRoute[] {
  const routes: ApiRoute[] = [
    {
      method: 'POST',
      path: '/api/rooms/{room}/messages',
      operationId: 'publishMessage',
      summary: 'Publish a message to a room as a user',
      description:
        "Stores the message and delivers it to the room's members on every node, exactly like a WebSocket `send` from `from` " +
        '(without its rate limit; joining is not required). A `dm:<a>:<b>` room accepts only `from` = a or b. ' +
        'With `clientMsgId`, a retry within the dedupe window returns the first stored message and stores nothing new.',
      tags: ['messages'],
      body: PublishBody,
      status: 201,
      result: PublishResult,
      errors: [400, 403, 413],
      async handle({ params, body }) {
        validate(PublishBody, body, 'body');
        const b = body as PublishBody;
        const room = params.room!;
        if (!canAccessRoom({ user: b.from }, room)) {
          throw new ParleyError('FORBIDDEN', `"${b.from}" may not post in private room "${room}"`);
        }
        const draft: {
          room: string;
          from: string;
          text: string;
          name?: string;
          clientMsgId?: string;
          replyTo?: string;
        } = {
          room,
          from: b.from,
          text: b.text,
        };
        const name = cleanName(b.name);
        if (name !== undefined) draft.name = name;
        if (b.clientMsgId !== undefined) draft.clientMsgId = b.clientMsgId;
        if (b.replyTo !== undefined) draft.replyTo = b.replyTo;
        return { message: await deps.chat.publish(draft) };
      },
    },
    {
      method: 'PATCH',
      path: '/api/rooms/{room}/messages/{messageId}',
      operationId: 'editMessage',
      summary: 'Edit a message as the server',
      description:
        "Replaces the message's text (any author's; `from` is kept) and sets `editedAt`; the room's members get an " +
        '`edited` event. The same text again changes nothing. Unknown or deleted messages are 404.',
      tags: ['messages'],
      body: EditBody,
      status: 200,
      result: MessageResultSchema,
      errors: [400, 404, 413],
      async handle({ params, body }) {
        validate(EditBody, body, 'body');
        const id = messageIdParam(params.messageId!);
        return { message: await deps.lifecycle.editAsServer(params.room!, id, (body as EditBody).text) };
      },
    },
    {
      method: 'DELETE',
      path: '/api/rooms/{room}/messages/{messageId}',
      operationId: 'deleteMessage',
      summary: 'Delete a message (as a moderator)',
      description:
        'Replaces the message by a tombstone (`deleted: true`, `text: ""`; `id`, `room`, `from`, `ts` kept) and answers ' +
        "with it; the room's members get a `deleted` event. Unknown or already deleted messages are 404. No body is needed.",
      tags: ['messages'],
      status: 200,
      result: MessageResultSchema,
      errors: [400, 404],
      async handle({ params }) {
        const id = messageIdParam(params.messageId!);
        return { message: await deps.lifecycle.deleteAsServer(params.room!, id) };
      },
    },
    {
      method: 'GET',
      path: '/api/rooms/{room}/messages',
      operationId: 'roomHistory',
      summary: "A page of a room's history",
      description:
        'As the `history` command: the newest `limit` messages before `before` (or the newest), oldest first. Page back by passing the first id as `before`.',
      tags: ['messages'],
      query: [
        { name: 'before', description: 'Only messages older than this message id', schema: MessageIdSchema },
        { name: 'limit', description: 'Page size (default 50, at most 200)', schema: LimitParam(200, 50) },
      ],
      status: 200,
      result: HistoryPageSchema,
      errors: [400],
      async handle({ params, url }) {
        const before = url.searchParams.get('before') ?? undefined;
        if (before !== undefined && !MESSAGE_ID_PATTERN.test(before))
          throw new ParleyError('BAD_REQUEST', '"before" must be a message id');
        return deps.chat.history(params.room!, before, intParam(url, 'limit', 200));
      },
    },
    {
      method: 'GET',
      path: '/api/rooms/{room}/presence',
      operationId: 'roomPresence',
      summary: 'Who is in a room',
      description:
        "The room's members as everyone sees them (invisible users appear offline), capped, with the exact count.",
      tags: ['presence'],
      status: 200,
      result: RoomPresenceSchema,
      errors: [400],
      handle: ({ params }) => deps.presence.roomMembers(null, params.room!),
    },
    {
      method: 'GET',
      path: '/api/users/{user}/presence',
      operationId: 'userPresence',
      summary: "One user's presence entry",
      description: 'Cluster-wide. A user nobody has seen is `offline` without `lastSeen`.',
      tags: ['presence'],
      status: 200,
      result: PresenceEntrySchema,
      errors: [400],
      async handle({ params }) {
        const [entry] = await deps.presence.users([params.user!], null);
        return entry;
      },
    },
    {
      method: 'GET',
      path: '/api/presence',
      operationId: 'usersByStatus',
      summary: 'Users with a status, cluster-wide (who is online)',
      description: 'Invisible users are never listed.',
      tags: ['presence'],
      query: [
        {
          name: 'status',
          description: 'The status to list (default online)',
          schema: { type: 'string', enum: ['online', 'away', 'busy'], default: 'online' } as unknown as TSchema,
        },
        {
          name: 'limit',
          description: 'Most users listed (default 1000, at most 10000); `count` is always exact',
          schema: LimitParam(10_000, 1000),
        },
      ],
      status: 200,
      result: UsersByStatusSchema,
      errors: [400],
      async handle({ url }) {
        const status = url.searchParams.get('status') ?? 'online';
        if (status !== 'online' && status !== 'away' && status !== 'busy') {
          throw new ParleyError('BAD_REQUEST', '"status" must be online, away or busy');
        }
        return deps.presence.listByStatus(status, intParam(url, 'limit', 10_000) ?? 1000);
      },
    },
    {
      method: 'GET',
      path: '/api/users/{user}/rooms',
      operationId: 'userRooms',
      summary: "A user's rooms with unread counts (as the `rooms` command)",
      description:
        'One entry per stored membership, most recent message first: the newest message, the read marker ' +
        '(`lastReadId`) and `unread` (messages after the marker from others, not deleted; exact up to 999).',
      tags: ['users'],
      status: 200,
      result: UserRoomsSchema,
      errors: [400],
      handle: ({ params }) => deps.rooms.list(params.user!),
    },
    {
      method: 'POST',
      path: '/api/users/{user}/disconnect',
      operationId: 'disconnectUser',
      summary: "Close all of a user's connections (4003)",
      description:
        "Every node closes the user's connections with close code 4003. It does not ban: the user may connect again " +
        '(revoke their token for that). No body is needed.',
      tags: ['users'],
      status: 200,
      result: EmptySchema,
      errors: [400],
      async handle({ params }) {
        await deps.engine.publishControl({
          kind: 'disconnect',
          user: params.user!,
          code: CloseCodes.KICKED,
          reason: 'disconnected by the server',
        });
        return {};
      },
    },
  ];
  if (deps.moderation) routes.push(...moderationRoutes(deps.moderation, validate));
  if (deps.admin) routes.push(...adminRoutes(deps.admin));
  routes.push({
    method: 'GET',
    path: '/api/openapi.json',
    operationId: 'openApi',
    summary: 'This OpenAPI 3.1 document',
    description: 'Needs the API key like every /api route: a node without PARLEY_API_KEY has no API to describe.',
    tags: ['meta'],
    status: 200,
    result: { type: 'object', description: 'An OpenAPI 3.1 document' } as unknown as TSchema,
    errors: [],
    handle: async () => buildOpenApi(routes),
  });
  return routes;
}

interface CompiledRoute {
  route: ApiRoute;
  segments: string[];
}

function matchSegments(segments: string[], parts: string[]): Record<string, string> | null {
  if (segments.length !== parts.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i]!;
    const part = parts[i]!;
    if (seg.startsWith('{')) {
      if (part === '') return null;
      params[seg.slice(1, -1)] = part;
    } else if (seg !== part) {
      return null;
    }
  }
  return params;
}

/**
 * Builds the /api request handler. It checks the key, routes, validates and
 * writes the JSON answer; it resolves with the route template served (for
 * metrics) or null when no route has that path. A known path with another
 * method is a 405 with `Allow`.
 *
 * @example
 * const api = createApi({ apiKey: 'secret', engine, chat, presence, maxBodyBytes: 65536 });
 * // curl -H 'Authorization: Bearer secret' localhost:3000/api/presence?status=online
 */
export function createApi(deps: ApiDeps): ApiHandler {
  const compiled: CompiledRoute[] = apiRoutes(deps).map((route) => ({ route, segments: route.path.split('/') }));
  return async (req, res, url) => {
    const parts = url.pathname.split('/');
    const candidates: Array<{ c: CompiledRoute; params: Record<string, string> }> = [];
    for (const c of compiled) {
      const params = matchSegments(c.segments, parts);
      if (params) candidates.push({ c, params });
    }
    if (candidates.length === 0) {
      // Unknown paths need the key too, so the API's shape is not probed anonymously.
      checkApiKey(req.headers.authorization, deps.apiKey);
      return null;
    }
    const method = req.method === 'HEAD' ? 'GET' : (req.method ?? 'GET');
    const hit = candidates.find((x) => x.c.route.method === method);
    labelRoute(res, (hit ?? candidates[0]!).c.route.path);
    checkApiKey(req.headers.authorization, deps.apiKey);
    if (!hit) {
      const allow = [...new Set(candidates.map((x) => x.c.route.method))].join(', ');
      throw new HttpError(
        'BAD_REQUEST',
        `method ${req.method ?? '?'} not allowed on ${url.pathname}; use ${allow}`,
        405,
        { Allow: allow },
      );
    }
    const { route } = hit.c;
    const params: Record<string, string> = {};
    for (const [key, raw] of Object.entries(hit.params)) params[key] = pathId(raw, key);
    const body = route.body ? await readJson(req, deps.maxBodyBytes, deps.metrics) : {};
    const result = await route.handle({ req, url, params, body });
    sendJson(res, route.status, result);
    return route.path;
  };
}
