import type { IncomingHttpHeaders } from 'node:http';
import { FORWARDED_PREFIX_HEADER } from '@lab/platform/forwarded-prefix';
import { REQUEST_ID_HEADER } from '@lab/platform/request-id';
import { SECURITY_HEADERS } from './security-headers.ts';

/** RFC 9110 7.6.1: connection-specific headers are never forwarded by a proxy. */
const HOP_BY_HOP = [
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
];

/**
 * Never sent upstream: hop-by-hop, the Host (undici sets the upstream's), what the gateway
 * sets itself, and Expect: Node has answered `100 Continue` already and the body is read
 * whole before forwarding, so the upstream has nothing to continue (undici refuses it too).
 */
const REQUEST_DROPPED: ReadonlySet<string> = new Set([
  ...HOP_BY_HOP,
  'host',
  'expect',
  REQUEST_ID_HEADER,
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  FORWARDED_PREFIX_HEADER,
]);

/**
 * While the gateway traces, OpenTelemetry's undici instrumentation writes the upstream's
 * trace context (the attempt span as parent); the client's copy would make two.
 * Untraced, the gateway passes the client's through untouched, as any proxy should.
 */
export const REQUEST_DROPPED_WHEN_TRACING: ReadonlySet<string> = new Set([
  ...REQUEST_DROPPED,
  'traceparent',
  'tracestate',
]);

/**
 * Never passed back to the client: hop-by-hop, what the gateway alone decides
 * (security headers, CORS, the request id) and what would leak the stack.
 */
const RESPONSE_DROPPED = new Set([...HOP_BY_HOP, ...Object.keys(SECURITY_HEADERS), 'x-powered-by', REQUEST_ID_HEADER]);

/**
 * `Connection: close, x-foo` also makes x-foo hop-by-hop (RFC 9110 7.6.1). Only
 * a header other than the common `keep-alive`/`close` tokens costs a parse.
 */
function connectionTokens(connection: string | string[] | undefined): ReadonlySet<string> | undefined {
  if (connection === undefined) return undefined;
  const value = (Array.isArray(connection) ? connection.join(',') : connection).toLowerCase();
  if (value === 'keep-alive' || value === 'close') return undefined;
  return new Set(value.split(',').map((token) => token.trim()));
}

export interface ForwardedFor {
  requestId: string;
  clientIp: string;
  protocol: string;
  host: string;
  /** Sent as x-forwarded-prefix unless undefined (an upstream whose URL has a base path). */
  prefix: string | undefined;
  /** A not-sampled traceparent for a request the gateway does not trace (see proxy-routes.ts). */
  traceparent?: string | undefined;
}

/**
 * The upstream's request headers, in undici's flat `[name, value, ...]` form, in
 * one pass over the client's: end-to-end headers kept, the gateway's own added.
 */
export function upstreamRequestHeaders(
  headers: IncomingHttpHeaders,
  forwarded: ForwardedFor,
  dropped: ReadonlySet<string> = REQUEST_DROPPED,
): string[] {
  const out: string[] = [];
  const extra = connectionTokens(headers.connection);
  for (const name in headers) {
    if (dropped.has(name) || extra?.has(name) === true) continue;
    const value = headers[name];
    if (value === undefined) continue;
    if (typeof value === 'string') out.push(name, value);
    else for (const item of value) out.push(name, item);
  }
  out.push(
    REQUEST_ID_HEADER,
    forwarded.requestId,
    'x-forwarded-for',
    forwarded.clientIp,
    'x-forwarded-proto',
    forwarded.protocol,
    'x-forwarded-host',
    forwarded.host,
  );
  if (forwarded.prefix !== undefined) out.push(FORWARDED_PREFIX_HEADER, forwarded.prefix);
  if (forwarded.traceparent !== undefined) out.push('traceparent', forwarded.traceparent);
  return out;
}

export interface HeaderTarget {
  header(name: string, value: string | string[]): unknown;
}

/** Copies onto `target` (a Fastify reply) what of an upstream's response headers reaches the client. */
export function copyClientHeaders(headers: IncomingHttpHeaders, target: HeaderTarget): void {
  const extra = connectionTokens(headers.connection);
  for (const name in headers) {
    // The gateway alone decides CORS, so an upstream's own access-control-* never reach a browser.
    if (RESPONSE_DROPPED.has(name) || name.startsWith('access-control-') || extra?.has(name) === true) continue;
    const value = headers[name];
    if (value !== undefined) target.header(name, value);
  }
}
