import type { ErrorCode } from './codes.js';

/** Body of an error as it travels on the wire. */
export interface ErrorBody {
  code: ErrorCode;
  message: string;
}

/**
 * The one typed error of Parley. Thrown anywhere below the edges; the
 * transport maps it to a reply, an `error` frame or an HTTP status.
 *
 * @example
 * throw new ParleyError('NOT_JOINED', `join "${room}" before sending to it`);
 */
export class ParleyError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ParleyError';
    this.code = code;
  }

  toBody(): ErrorBody {
    return { code: this.code, message: this.message };
  }
}

/** Storage could not be reached: nothing was stored, a retry is safe. */
export function unavailable(cause?: unknown): ParleyError {
  return new ParleyError('UNAVAILABLE', 'storage is unreachable; nothing was stored, retry later', {
    cause,
  });
}

/** Turns anything thrown into a wire error body; unknown errors become INTERNAL. */
export function toErrorBody(err: unknown): ErrorBody {
  if (err instanceof ParleyError) return err.toBody();
  return { code: 'INTERNAL', message: 'internal error' };
}

/** HTTP status for each error code, used by the HTTP edge only. */
export const httpStatusOf: Record<ErrorCode, number> = {
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  NOT_JOINED: 409,
  TOO_LARGE: 413,
  UNKNOWN_COMMAND: 400,
  LIMIT: 429,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  UNAVAILABLE: 503,
};
