import { MalformedOtlpError } from './errors.ts';
import {
  type AttributeValue,
  type DecodedExport,
  ELLIPSIS,
  emptyAttributes,
  finiteOrText,
  flattenArray,
  flattenKvlist,
  type IngestedSpan,
  int64Value,
  MAX_ARRAY_VALUES,
  MAX_ATTRIBUTES_PER_SPAN,
  MAX_STRING_CHARS,
  MAX_VALUE_DEPTH,
  SERVICE_INSTANCE_ID,
  SERVICE_NAME,
  SPAN_ID_HEX,
  SPAN_KINDS,
  STATUS_CODES,
  TRACE_ID_HEX,
  truncated,
  UNKNOWN_SERVICE,
} from './spans.ts';

/**
 * OTLP/JSON (the protobuf JSON mapping with OTLP's exceptions): lowerCamelCase keys,
 * ids as hex strings, 64-bit integers as strings or numbers, enums as integers (names
 * accepted too). Unknown keys are ignored and null means absent, as the mapping says;
 * a known key holding the wrong type is malformed and named in the error.
 */
type Json = Record<string, unknown>;

const malformed = (path: string, problem: string) => new MalformedOtlpError('JSON', `${path} ${problem}`);

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    // V8's message quotes the input; only the position is worth passing on.
    const position = /position (\d+)/.exec(String((error as Error).message))?.[1];
    throw new MalformedOtlpError('JSON', `it is not valid JSON${position ? ` (at character ${position})` : ''}`);
  }
}

function objectAt(value: unknown, path: string): Json | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) throw malformed(path, 'must be an object');
  return value as Json;
}

function arrayAt(value: unknown, path: string): unknown[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw malformed(path, 'must be an array');
  return value;
}

function stringAt(value: unknown, path: string): string {
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string') throw malformed(path, 'must be a string');
  return value.length > MAX_STRING_CHARS ? `${value.slice(0, MAX_STRING_CHARS)}${ELLIPSIS}` : value;
}

const INTEGER_TEXT = /^-?\d{1,20}$/;

/** A 64-bit integer: a JSON number or its decimal text. */
function int64At(value: unknown, path: string): bigint {
  if (value === undefined || value === null) return 0n;
  if (typeof value === 'number' && Number.isInteger(value)) return BigInt(value);
  if (typeof value === 'string' && INTEGER_TEXT.test(value)) return BigInt.asIntN(64, BigInt(value));
  throw malformed(path, 'must be an integer or its decimal text');
}

/** fixed64 nanoseconds since the epoch, as a double (see otlp-protobuf.ts for the precision). */
function nanosAt(value: unknown, path: string): number {
  if (value === undefined || value === null) return 0;
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return value;
  if (typeof value === 'string' && /^\d{1,20}$/.test(value)) return Number(value);
  throw malformed(path, 'must be a non-negative integer or its decimal text');
}

/** An enum: its number, or (leniently) its proto name such as SPAN_KIND_SERVER. */
function enumAt(value: unknown, path: string, names: readonly string[], prefix: string): number {
  if (value === undefined || value === null) return 0;
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  if (typeof value === 'string') {
    const index = names.indexOf(value.startsWith(prefix) ? value.slice(prefix.length).toLowerCase() : '');
    if (index >= 0) return index;
  }
  throw malformed(path, 'must be an enum number');
}

function doubleAt(value: unknown, path: string): AttributeValue {
  if (typeof value === 'number') return value;
  if (value === 'NaN' || value === 'Infinity' || value === '-Infinity') return value;
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
  throw malformed(path, 'must be a number');
}

interface ResourceIdentity {
  service: string;
  instance: string | null;
}

/** An OTLP/JSON ExportTraceServiceRequest's text, into spans; throws MalformedOtlpError. */
export function decodeJsonExport(text: string): DecodedExport {
  const root = objectAt(parseJson(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text), 'the body');
  if (root === undefined) throw malformed('the body', 'must be an object');
  const out: DecodedExport = { spans: [], rejectedSpans: 0 };
  for (const [r, resourceSpansValue] of arrayAt(root.resourceSpans, 'resourceSpans').entries()) {
    const path = `resourceSpans[${r}]`;
    const resourceSpans = objectAt(resourceSpansValue, path);
    if (resourceSpans === undefined) continue;
    const resource = readResource(objectAt(resourceSpans.resource, `${path}.resource`), `${path}.resource`);
    for (const [s, scopeSpansValue] of arrayAt(resourceSpans.scopeSpans, `${path}.scopeSpans`).entries()) {
      const scopePath = `${path}.scopeSpans[${s}]`;
      const scopeSpans = objectAt(scopeSpansValue, scopePath);
      if (scopeSpans === undefined) continue;
      for (const [n, spanValue] of arrayAt(scopeSpans.spans, `${scopePath}.spans`).entries()) {
        const span = readSpan(objectAt(spanValue, `${scopePath}.spans[${n}]`), resource, `${scopePath}.spans[${n}]`);
        if (span) out.spans.push(span);
        else out.rejectedSpans++;
      }
    }
  }
  return out;
}

function readResource(resource: Json | undefined, path: string): ResourceIdentity {
  const identity: ResourceIdentity = { service: UNKNOWN_SERVICE, instance: null };
  if (resource === undefined) return identity;
  for (const [index, entry] of arrayAt(resource.attributes, `${path}.attributes`).entries()) {
    const [key, value] = readKeyValue(entry, `${path}.attributes[${index}]`, 0);
    if (value === undefined) continue;
    if (key === SERVICE_NAME) identity.service = String(value);
    else if (key === SERVICE_INSTANCE_ID) identity.instance = String(value);
  }
  return identity;
}

/** A span, or undefined when its ids are invalid (well-formed JSON, but not a span to keep). */
function readSpan(span: Json | undefined, resource: ResourceIdentity, path: string): IngestedSpan | undefined {
  if (span === undefined) return undefined;
  const traceId = stringAt(span.traceId, `${path}.traceId`).toLowerCase();
  const spanId = stringAt(span.spanId, `${path}.spanId`).toLowerCase();
  const parentSpanId = stringAt(span.parentSpanId, `${path}.parentSpanId`).toLowerCase();
  const name = stringAt(span.name, `${path}.name`);
  const kind = enumAt(span.kind, `${path}.kind`, SPAN_KINDS, 'SPAN_KIND_');
  const startNanos = nanosAt(span.startTimeUnixNano, `${path}.startTimeUnixNano`);
  const endNanos = nanosAt(span.endTimeUnixNano, `${path}.endTimeUnixNano`);
  const status = objectAt(span.status, `${path}.status`);
  const statusCode = status ? enumAt(status.code, `${path}.status.code`, STATUS_CODES, 'STATUS_CODE_') : 0;
  const attributes = emptyAttributes();
  let attributeCount = 0;
  for (const [index, entry] of arrayAt(span.attributes, `${path}.attributes`).entries()) {
    if (attributeCount >= MAX_ATTRIBUTES_PER_SPAN) break;
    const [key, value] = readKeyValue(entry, `${path}.attributes[${index}]`, 0);
    if (value !== undefined && attributes[key] === undefined) {
      attributes[key] = value;
      attributeCount++;
    }
  }
  const parentValid = parentSpanId === '' || /^[0-9a-f]{16}$/.test(parentSpanId);
  if (!TRACE_ID_HEX.test(traceId) || !SPAN_ID_HEX.test(spanId) || !parentValid) return undefined;
  return {
    traceId,
    spanId,
    parentSpanId: parentSpanId === '' || /^0+$/.test(parentSpanId) ? null : parentSpanId,
    name,
    kind: SPAN_KINDS[kind] ?? 'unspecified',
    startMs: startNanos / 1e6,
    endMs: endNanos / 1e6,
    status: STATUS_CODES[statusCode] ?? 'unset',
    service: resource.service,
    instance: resource.instance,
    attributes,
  };
}

function readKeyValue(entry: unknown, path: string, depth: number): [string, AttributeValue | undefined] {
  const keyValue = objectAt(entry, path);
  if (keyValue === undefined) return ['', undefined];
  const key = stringAt(keyValue.key, `${path}.key`);
  const value = objectAt(keyValue.value, `${path}.value`);
  return [key, value === undefined ? undefined : readAnyValue(value, key, `${path}.value`, depth)];
}

/** An AnyValue, flattened; undefined when none of its oneof is set. */
function readAnyValue(value: Json, key: string, path: string, depth: number): AttributeValue | undefined {
  if (value.stringValue !== undefined && value.stringValue !== null) {
    return stringAt(value.stringValue, `${path}.stringValue`);
  }
  if (value.boolValue !== undefined && value.boolValue !== null) {
    if (typeof value.boolValue !== 'boolean') throw malformed(`${path}.boolValue`, 'must be a boolean');
    return value.boolValue;
  }
  if (value.intValue !== undefined && value.intValue !== null) {
    return int64Value(int64At(value.intValue, `${path}.intValue`));
  }
  if (value.doubleValue !== undefined && value.doubleValue !== null) {
    const double = doubleAt(value.doubleValue, `${path}.doubleValue`);
    return typeof double === 'number' ? finiteOrText(double) : double;
  }
  if (value.arrayValue !== undefined && value.arrayValue !== null) {
    if (depth >= MAX_VALUE_DEPTH) return ELLIPSIS;
    const array = objectAt(value.arrayValue, `${path}.arrayValue`);
    const values: AttributeValue[] = [];
    for (const [index, item] of arrayAt(array?.values, `${path}.arrayValue.values`).entries()) {
      if (values.length >= MAX_ARRAY_VALUES) break;
      const itemValue = objectAt(item, `${path}.arrayValue.values[${index}]`);
      const flat = itemValue && readAnyValue(itemValue, key, `${path}.arrayValue.values[${index}]`, depth + 1);
      if (flat !== undefined) values.push(flat);
    }
    return flattenArray(key, values);
  }
  if (value.kvlistValue !== undefined && value.kvlistValue !== null) {
    if (depth >= MAX_VALUE_DEPTH) return ELLIPSIS;
    const list = objectAt(value.kvlistValue, `${path}.kvlistValue`);
    const entries: [string, AttributeValue][] = [];
    for (const [index, item] of arrayAt(list?.values, `${path}.kvlistValue.values`).entries()) {
      if (entries.length >= MAX_ARRAY_VALUES) break;
      const [entryKey, entryValue] = readKeyValue(item, `${path}.kvlistValue.values[${index}]`, depth + 1);
      if (entryValue !== undefined) entries.push([entryKey, entryValue]);
    }
    return flattenKvlist(entries);
  }
  if (value.bytesValue !== undefined && value.bytesValue !== null) {
    return truncated(stringAt(value.bytesValue, `${path}.bytesValue`));
  }
  return undefined;
}

/** The ExportTraceServiceResponse: `{}`, or with partialSuccess when spans were refused. */
export function encodeJsonResponse(rejectedSpans: number, errorMessage: string): string {
  if (rejectedSpans === 0) return '{}';
  // int64 is a string in the protobuf JSON mapping.
  return JSON.stringify({ partialSuccess: { rejectedSpans: String(rejectedSpans), errorMessage } });
}
