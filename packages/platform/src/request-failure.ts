import type { ServerResponse } from 'node:http';

/**
 * A request that fails with a 5xx gets one log line: the request line, with the error
 * and its stack. The error handler records the failure on the response and the line is
 * written when the response finishes. `res.err` is where pino-http looks, and where the
 * Fastify log line looks too, so hello's router mounted in the monolith logs the same.
 */
export function recordFailure(res: ServerResponse, error: unknown): void {
  res.err = error instanceof Error ? error : new Error(String(error));
}

export function failureOf(res: ServerResponse): Error | undefined {
  return res.err;
}
