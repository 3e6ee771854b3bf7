/**
 * The server HTTP API under /api (see docs/protocol.md, "HTTP API"). Every
 * route needs `Authorization: Bearer <PARLEY_API_KEY>`; without a configured
 * key the API is closed.
 */
import { timingSafeEqual, createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Engine } from '../engine/engine.js';
import type { ChatFeature } from '../features/chat/chat.js';
import type { PresenceFeature } from '../features/presence/presence.js';
import { CloseCodes } from '../protocol/codes.js';
import { ParleyError } from '../protocol/errors.js';
import { isValidId, MESSAGE_ID_PATTERN } from '../protocol/ids.js';
import { sendJson, type ApiHandler } from '../transport/http.js';

export interface ApiDeps {
  apiKey: string | null;
  engine: Engine;
  chat: ChatFeature;
  presence: PresenceFeature;
  /** Most bytes accepted in a request body. */
  maxBodyBytes: number;
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** Constant-time check of the bearer key (hashing first makes lengths equal). */
export function checkApiKey(header: string | undefined, apiKey: string | null): void {
  if (apiKey === null) throw new ParleyError('UNAUTHORIZED', 'the HTTP API is disabled: set PARLEY_API_KEY');
  const m = /^Bearer (.+)$/.exec(header ?? '');
  if (!m || !timingSafeEqual(digest(m[1]!), digest(apiKey))) {
    throw new ParleyError('UNAUTHORIZED', 'missing or wrong API key (Authorization: Bearer <PARLEY_API_KEY>)');
  }
}

async function readJson(req: IncomingMessage, max: number): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > max) throw new ParleyError('TOO_LARGE', `request body is larger than ${max} bytes`);
    chunks.push(chunk as Buffer);
  }
  let body: unknown;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString() || 'null');
  } catch {
    throw new ParleyError('BAD_REQUEST', 'request body is not valid JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ParleyError('BAD_REQUEST', 'request body must be a JSON object');
  }
  return body as Record<string, unknown>;
}

function id(value: string, what: string): string {
  let decoded: string;
  try {
    decoded = decodeURIComponent(value);
  } catch {
    throw new ParleyError('BAD_REQUEST', `bad ${what} id`);
  }
  if (!isValidId(decoded)) throw new ParleyError('BAD_REQUEST', `bad ${what} id`);
  return decoded;
}

function optionalString(body: Record<string, unknown>, key: string): string | undefined {
  const v = body[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new ParleyError('BAD_REQUEST', `"${key}" must be a string`);
  return v;
}

/**
 * Builds the /api request handler.
 *
 * @example
 * const api = createApi({ apiKey: 'secret', engine, chat, presence, maxBodyBytes: 65536 });
 * // curl -H 'Authorization: Bearer secret' localhost:3000/api/presence?status=online
 */
export function createApi(deps: ApiDeps): ApiHandler {
  return async (req, res: ServerResponse, url) => {
    checkApiKey(req.headers.authorization, deps.apiKey);
    const parts = url.pathname.split('/').slice(2); // after "/api"
    const method = req.method ?? 'GET';

    if (parts[0] === 'rooms' && parts.length === 3 && parts[2] === 'messages') {
      const room = id(parts[1]!, 'room');
      if (method === 'POST') {
        const body = await readJson(req, deps.maxBodyBytes);
        const text = optionalString(body, 'text');
        const from = optionalString(body, 'from');
        const clientMsgId = optionalString(body, 'clientMsgId');
        if (text === undefined) throw new ParleyError('BAD_REQUEST', '"text" is required');
        if (from === undefined || !isValidId(from)) throw new ParleyError('BAD_REQUEST', '"from" must be a user id');
        const name = optionalString(body, 'name');
        const draft: { room: string; from: string; text: string; name?: string; clientMsgId?: string } = { room, from, text };
        if (name !== undefined) draft.name = name;
        if (clientMsgId !== undefined) {
          if (clientMsgId.length < 1 || clientMsgId.length > 128) {
            throw new ParleyError('BAD_REQUEST', '"clientMsgId" must be 1-128 characters');
          }
          draft.clientMsgId = clientMsgId;
        }
        sendJson(res, 201, { message: await deps.chat.publish(draft) });
        return true;
      }
      if (method === 'GET') {
        const before = url.searchParams.get('before') ?? undefined;
        if (before !== undefined && !MESSAGE_ID_PATTERN.test(before)) throw new ParleyError('BAD_REQUEST', 'bad "before" id');
        const rawLimit = url.searchParams.get('limit');
        let limit: number | undefined;
        if (rawLimit !== null) {
          limit = Number(rawLimit);
          if (!Number.isInteger(limit) || limit < 1) throw new ParleyError('BAD_REQUEST', '"limit" must be a positive integer');
        }
        sendJson(res, 200, await deps.chat.history(room, before, limit));
        return true;
      }
    }
    if (method === 'GET' && parts[0] === 'rooms' && parts.length === 3 && parts[2] === 'presence') {
      sendJson(res, 200, await deps.presence.roomMembers(null, id(parts[1]!, 'room')));
      return true;
    }
    if (parts[0] === 'users' && parts.length === 3) {
      const user = id(parts[1]!, 'user');
      if (method === 'GET' && parts[2] === 'presence') {
        const [entry] = await deps.presence.users([user], null);
        sendJson(res, 200, entry);
        return true;
      }
      if (method === 'POST' && parts[2] === 'disconnect') {
        await deps.engine.publishControl({ kind: 'disconnect', user, code: CloseCodes.KICKED, reason: 'disconnected by the server' });
        sendJson(res, 200, {});
        return true;
      }
    }
    if (method === 'GET' && parts[0] === 'presence' && parts.length === 1) {
      const status = url.searchParams.get('status') ?? 'online';
      if (status !== 'online' && status !== 'away' && status !== 'busy') {
        throw new ParleyError('BAD_REQUEST', '"status" must be online, away or busy');
      }
      const rawLimit = Number(url.searchParams.get('limit') ?? 1000);
      const limit = Number.isInteger(rawLimit) && rawLimit > 0 ? Math.min(rawLimit, 10_000) : 1000;
      sendJson(res, 200, await deps.presence.listByStatus(status, limit));
      return true;
    }
    return false;
  };
}
