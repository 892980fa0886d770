import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { PROBLEM_CONTENT_TYPE, ProtocolError } from './problem.js';

/**
 * Bytes Node's HTTP parser refused never become a request, so no handler sees them:
 * answer with problem+json on the socket (instead of Node's bare 400), then close it.
 * For `clientError` on any node:http server, and Fastify's `clientErrorHandler`.
 */
export function answerClientError(logger: Logger, error: Error & { code?: string }, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const problem =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? new ProtocolError('HEADERS_TOO_LARGE')
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? new ProtocolError('REQUEST_TIMEOUT')
        : new ProtocolError('MALFORMED_REQUEST');
  // Not the error itself: its rawPacket holds the bytes the client sent.
  logger.debug({ code: error.code, statusCode: problem.status }, 'client error');
  const body = problem.toProblem();
  const text = JSON.stringify(body);
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${body.status} ${body.title}\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}\r\n` +
        `Content-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`,
    );
  }
  socket.destroy();
}
