import { randomUUID } from 'node:crypto';

export const REQUEST_ID_HEADER = 'x-request-id';
export const SERVED_BY_HEADER = 'x-served-by';

/** Ids travel into every log line, so only short, plain tokens from callers are kept. */
const SAFE_REQUEST_ID = /^[\w.:-]{1,128}$/;

/** Keeps a caller's (or the gateway's) request id, or mints a new one. */
export function resolveRequestId(header: string | string[] | undefined): string {
  const candidate = Array.isArray(header) ? header[0] : header;
  return candidate !== undefined && SAFE_REQUEST_ID.test(candidate) ? candidate : randomUUID();
}
