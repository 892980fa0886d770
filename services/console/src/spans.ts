import type { SpanKindName } from './live-types.ts';

/**
 * A span as the console keeps it: both OTLP encodings decode to this, with its
 * resource's service and instance on it and its attributes flattened for display.
 */
export type AttributeValue = string | number | boolean;

export interface IngestedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string | null;
  name: string;
  kind: SpanKindName;
  /** Epoch milliseconds; a double keeps sub-microsecond precision at today's epoch. */
  startMs: number;
  endMs: number;
  status: 'unset' | 'ok' | 'error';
  service: string;
  instance: string | null;
  /** A null-prototype record: keys come from the wire and `__proto__` is a valid one. */
  attributes: Record<string, AttributeValue>;
}

export interface DecodedExport {
  spans: IngestedSpan[];
  /** Spans refused for invalid ids; the exporter hears about them as a partial success. */
  rejectedSpans: number;
}

export const SPAN_KINDS: readonly SpanKindName[] = [
  'unspecified',
  'internal',
  'server',
  'client',
  'producer',
  'consumer',
];
export const STATUS_CODES = ['unset', 'ok', 'error'] as const;

export const SERVICE_NAME = 'service.name';
export const SERVICE_INSTANCE_ID = 'service.instance.id';
export const REQUEST_ID_ATTRIBUTE = 'http.request.header.x-request-id';
/** What the SDK names a resource that did not set service.name. */
export const UNKNOWN_SERVICE = 'unknown_service';

/**
 * Display limits, so that one hostile span cannot hold megabytes: OpenTelemetry's
 * own default attribute count limit, and strings cut where no page would show more.
 */
export const MAX_ATTRIBUTES_PER_SPAN = 128;
export const MAX_STRING_CHARS = 2048;
export const MAX_ARRAY_VALUES = 64;
/** AnyValue nests (arrays of kvlists of arrays...); deeper values show as an ellipsis. */
export const MAX_VALUE_DEPTH = 6;
export const ELLIPSIS = '…';

export function truncated(text: string): string {
  return text.length > MAX_STRING_CHARS ? `${text.slice(0, MAX_STRING_CHARS)}${ELLIPSIS}` : text;
}

/** A JSON-safe number: NaN and the infinities would serialise as null. */
export function finiteOrText(value: number): AttributeValue {
  return Number.isFinite(value) ? value : String(value);
}

/** An int64 as a number when exact, else as its decimal text. */
export function int64Value(value: bigint): AttributeValue {
  return value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER)
    ? Number(value)
    : value.toString();
}

/**
 * An array attribute, flattened: one value stays itself, several are joined. The
 * request id header is a string[] in the semantic conventions; its first value is the id.
 */
export function flattenArray(key: string, values: readonly AttributeValue[]): AttributeValue {
  if (values.length === 1 || (key === REQUEST_ID_ATTRIBUTE && values.length > 0)) return values[0] as AttributeValue;
  return truncated(values.map(String).join(', '));
}

export function flattenKvlist(entries: readonly [string, AttributeValue][]): string {
  return truncated(`{${entries.map(([key, value]) => `${key}=${String(value)}`).join(', ')}}`);
}

export function emptyAttributes(): Record<string, AttributeValue> {
  return Object.create(null) as Record<string, AttributeValue>;
}

/** 16 and 8 bytes, not all zero (an all-zero id is invalid in W3C trace context and OTLP). */
export const TRACE_ID_HEX = /^(?!0{32})[0-9a-f]{32}$/;
export const SPAN_ID_HEX = /^(?!0{16})[0-9a-f]{16}$/;

export function stringAttribute(span: IngestedSpan, ...keys: string[]): string | null {
  for (const key of keys) {
    const value = span.attributes[key];
    if (value !== undefined) return String(value);
  }
  return null;
}

export function numberAttribute(span: IngestedSpan, ...keys: string[]): number | null {
  for (const key of keys) {
    const value = span.attributes[key];
    const number = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : Number.NaN;
    if (Number.isFinite(number)) return number;
  }
  return null;
}

/**
 * The request path: a server span's `url.path` (or the older `http.target`, which
 * carries the query), a client span's `url.full` (or `http.url`).
 */
export function spanPath(span: IngestedSpan): string | null {
  const path = stringAttribute(span, 'url.path');
  if (path !== null) return path;
  const target = stringAttribute(span, 'http.target');
  if (target !== null) return target.split('?')[0] ?? target;
  const full = stringAttribute(span, 'url.full', 'http.url');
  return full !== null && URL.canParse(full) ? new URL(full).pathname : null;
}

export const spanMethod = (span: IngestedSpan) => stringAttribute(span, 'http.request.method', 'http.method');
export const spanStatusCode = (span: IngestedSpan) =>
  numberAttribute(span, 'http.response.status_code', 'http.status_code');
export const spanServerAddress = (span: IngestedSpan) =>
  stringAttribute(span, 'server.address', 'net.peer.name', 'net.peer.ip');
