/** Refusing an upgrade with a plain HTTP error (no socket is opened). */
import type { Duplex } from 'node:stream';
import { STATUS_CODES } from 'node:http';
import { httpStatusOf, type ErrorBody } from '../protocol/errors.js';

/** How long a refused upgrade socket may stay half-open after the response, ms. */
const REFUSED_LINGER_MS = 2000;

export function refuseUpgrade(socket: Duplex, error: ErrorBody, status = httpStatusOf[error.code]): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = JSON.stringify({ error });
  // The upgrade socket is no longer watched by the HTTP server: a client that
  // never closes its side must not hold it open.
  const linger = setTimeout(() => socket.destroy(), REFUSED_LINGER_MS);
  linger.unref();
  socket.once('close', () => clearTimeout(linger));
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
      'Content-Type: application/json\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      'Connection: close\r\n\r\n' +
      body,
  );
}
