/**
 * Command dispatch: a validated command goes to the handler its feature
 * registered; the result or error becomes exactly one reply.
 */
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { ParleyError, toErrorBody } from '../protocol/errors.js';
import type { CommandOf, CommandType, ResultOf } from '../protocol/frames.js';
import { FrameError, parseCommand } from '../protocol/validate.js';
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

export class Dispatcher {
  constructor(
    private readonly handlers: Handlers,
    private readonly log: Logger,
    private readonly metrics: Metrics,
  ) {}

  /** Handles one text frame of a session; never throws. */
  async handle(session: Session, text: string): Promise<void> {
    let requestId: number | undefined;
    const deferred: Array<() => void> = [];
    try {
      const cmd = parseCommand(text);
      requestId = cmd.id;
      if (!session.commandBucket.take()) {
        this.metrics.limitBreaches.inc({ limit: 'command_rate' });
        throw new ParleyError('RATE_LIMITED', 'too many commands; slow down');
      }
      const handler = this.handlers[cmd.type] as Handler<CommandType>;
      const data = await handler(session, cmd as CommandOf<CommandType>, { defer: (fn) => deferred.push(fn) });
      if (requestId !== undefined) session.reply(requestId, data);
    } catch (err) {
      if (err instanceof FrameError) requestId = err.requestId;
      if (!(err instanceof ParleyError)) this.log.error({ err, user: session.user }, 'command failed');
      const body = toErrorBody(err);
      this.metrics.commandErrors.inc({ code: body.code });
      session.replyError(requestId, body);
    } finally {
      for (const fn of deferred) fn();
    }
  }
}
