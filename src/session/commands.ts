/**
 * Command dispatch: a validated command goes to the handler its feature
 * registered; the result or error becomes exactly one reply. A command comes
 * as a JSON text frame (WebSocket: the reply is a `reply` frame) or as a
 * named event with a payload and an acknowledgement (Socket.IO: the reply
 * object goes to the ack); both share this one path.
 */
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { ParleyError, toErrorBody, type ErrorBody } from '../protocol/errors.js';
import type { CommandOf, CommandType, ResultOf } from '../protocol/frames.js';
import { FrameError, parseCommand, validateCommand } from '../protocol/validate.js';
import type { Session } from './session.js';

export interface CommandContext {
  /** Runs `fn` right after the reply is written (e.g. flushing events held during a join). */
  defer(fn: () => void): void;
}

export type Handler<T extends CommandType> = (
  session: Session,
  cmd: CommandOf<T>,
  ctx: CommandContext,
) => Promise<ResultOf[T]> | ResultOf[T];

export type Handlers = { [K in CommandType]: Handler<K> };

/** The reply object handed to an acknowledgement: a `reply` frame without `type` and `id`. */
export type AckReply = { ok: true; data: unknown } | { ok: false; error: ErrorBody };

/** A command received as a named event (Socket.IO): event name, payload, acknowledgement if any. */
export interface EventCommand {
  readonly event: unknown;
  readonly payload: unknown;
  /** Gets the one reply; without it the command still runs but nothing is answered (like a frame without `id`). */
  readonly ack: ((reply: AckReply) => void) | undefined;
}

/** One inbound command: a WebSocket text frame or a Socket.IO event. */
export type Inbound = string | EventCommand;

export class Dispatcher {
  constructor(
    private readonly handlers: Handlers,
    private readonly log: Logger,
    private readonly metrics: Metrics,
  ) {}

  /** Handles one text frame or event of a session; never throws. */
  async handle(session: Session, input: Inbound): Promise<void> {
    let requestId: number | undefined;
    const deferred: Array<() => void> = [];
    const frame = typeof input === 'string';
    try {
      const cmd = frame ? parseCommand(input) : validateCommand(input.event, input.payload);
      requestId = cmd.id;
      if (!session.commandBucket.take()) {
        this.metrics.limitBreaches.inc({ limit: 'command_rate' });
        throw new ParleyError('RATE_LIMITED', 'too many commands; slow down');
      }
      const handler = this.handlers[cmd.type] as Handler<CommandType>;
      const data = await handler(session, cmd as CommandOf<CommandType>, { defer: (fn) => deferred.push(fn) });
      if (frame) {
        if (requestId !== undefined) session.reply(requestId, data);
      } else if (input.ack && session.writable()) input.ack({ ok: true, data });
    } catch (err) {
      if (err instanceof FrameError) requestId = err.requestId;
      if (!(err instanceof ParleyError)) this.log.error({ err, user: session.user }, 'command failed');
      const body = toErrorBody(err);
      this.metrics.commandErrors.inc({ code: body.code });
      if (frame) session.replyError(requestId, body);
      else if (input.ack && session.writable()) input.ack({ ok: false, error: body });
    } finally {
      for (const fn of deferred) fn();
    }
  }
}
