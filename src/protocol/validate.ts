/**
 * Parsing and validation of client frames with compiled TypeBox schemas.
 * Unknown fields are ignored; `__proto__` and friends are harmless because
 * JSON.parse creates own data properties and we never merge into objects.
 */
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { CommandSchemas, type Command, type CommandType } from './frames.js';
import { ParleyError } from './errors.js';

const checkers = Object.fromEntries(
  Object.entries(CommandSchemas).map(([type, schema]) => [type, TypeCompiler.Compile(schema)]),
) as { [K in CommandType]: TypeCheck<(typeof CommandSchemas)[K]> };

/** A frame that failed validation; `id` is set when the frame carried a usable one. */
export class FrameError extends ParleyError {
  readonly requestId: number | undefined;
  constructor(err: ParleyError, requestId: number | undefined) {
    super(err.code, err.message);
    this.requestId = requestId;
  }
}

function isCommandType(t: unknown): t is CommandType {
  return typeof t === 'string' && Object.prototype.hasOwnProperty.call(CommandSchemas, t);
}

/**
 * Parses one text frame into a validated command, or throws a FrameError
 * carrying the request id (when usable) and the protocol error code.
 *
 * @example
 * const cmd = parseCommand('{"type":"ping","id":1}'); // { type: 'ping', id: 1 }
 */
export function parseCommand(text: string): Command {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new FrameError(new ParleyError('BAD_REQUEST', 'frame is not valid JSON'), undefined);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new FrameError(new ParleyError('BAD_REQUEST', 'frame must be a JSON object'), undefined);
  }
  const obj = raw as Record<string, unknown>;
  const id = obj.id;
  let requestId: number | undefined;
  if (id !== undefined) {
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 1) {
      throw new FrameError(new ParleyError('BAD_REQUEST', '"id" must be a positive integer'), undefined);
    }
    requestId = id;
  }
  if (typeof obj.type !== 'string') {
    throw new FrameError(new ParleyError('BAD_REQUEST', 'frame needs a string "type"'), requestId);
  }
  return check(obj.type, obj, requestId);
}

/** Checks `obj` against the schema of command `type` (which `obj.type` must equal). */
function check(type: string, obj: Record<string, unknown>, requestId: number | undefined): Command {
  if (!isCommandType(type)) {
    throw new FrameError(new ParleyError('UNKNOWN_COMMAND', `unknown command type "${type.slice(0, 40)}"`), requestId);
  }
  const checker = checkers[type];
  if (!checker.Check(obj)) {
    const first = checker.Errors(obj).First();
    const where = first?.path ? first.path.replace(/^\//, '') : 'frame';
    throw new FrameError(
      new ParleyError('BAD_REQUEST', `${type}: invalid "${where}": ${first?.message ?? 'bad value'}`),
      requestId,
    );
  }
  return obj as Command;
}

/**
 * Validates a command that arrived as a named event with a payload object
 * (Socket.IO: `socket.emit('join', {room})`) instead of a JSON text frame.
 * The payload's own `type` and `id` are ignored (the event name is the type;
 * the acknowledgement replaces the id). A missing payload is `{}`.
 *
 * @example
 * const cmd = validateCommand('join', { room: 'general' }); // { room: 'general', type: 'join' }
 */
export function validateCommand(type: unknown, payload: unknown): Command {
  if (typeof type !== 'string') {
    throw new FrameError(new ParleyError('BAD_REQUEST', 'the event name must be a command type'), undefined);
  }
  if (payload !== undefined && (typeof payload !== 'object' || payload === null || Array.isArray(payload))) {
    throw new FrameError(new ParleyError('BAD_REQUEST', `${type.slice(0, 40)}: payload must be an object`), undefined);
  }
  // A copy: the type is set from the event name, a client-chosen id has no meaning here.
  const obj: Record<string, unknown> = { ...(payload as Record<string, unknown> | undefined), type };
  delete obj.id;
  return check(type, obj, undefined);
}
