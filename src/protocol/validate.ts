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
  if (!isCommandType(obj.type)) {
    throw new FrameError(
      new ParleyError('UNKNOWN_COMMAND', `unknown command type "${obj.type.slice(0, 40)}"`),
      requestId,
    );
  }
  const checker = checkers[obj.type];
  if (!checker.Check(obj)) {
    const first = checker.Errors(obj).First();
    const where = first?.path ? first.path.replace(/^\//, '') : 'frame';
    throw new FrameError(
      new ParleyError('BAD_REQUEST', `${obj.type}: invalid "${where}": ${first?.message ?? 'bad value'}`),
      requestId,
    );
  }
  return obj as Command;
}
