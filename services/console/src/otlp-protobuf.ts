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
  SPAN_KINDS,
  STATUS_CODES,
  truncated,
  UNKNOWN_SERVICE,
} from './spans.ts';

/**
 * A decoder for the part of OTLP's protobuf schema the console reads
 * (opentelemetry/proto collector/trace/v1, trace/v1, common/v1, resource/v1).
 * Unknown fields are skipped by wire type, as protobuf requires; a field that runs
 * past its message, an impossible wire type or a known field of the wrong wire type
 * is malformed, and the whole request is refused.
 */
const VARINT = 0;
const I64 = 1;
const LEN = 2;
const SGROUP = 3;
const EGROUP = 4;
const I32 = 5;

/** Groups are long deprecated but still legal in unknown fields; nested ones are bounded. */
const MAX_GROUP_DEPTH = 32;
const TWO_TO_32 = 4_294_967_296;
/** UTF-8 takes at most 4 bytes a character: decoding this much of a string is enough to show MAX_STRING_CHARS. */
const MAX_STRING_BYTES = MAX_STRING_CHARS * 4;

const malformed = (problem: string) => new MalformedOtlpError('protobuf', problem);

class ProtoReader {
  readonly buf: Buffer;
  pos: number;
  readonly end: number;

  constructor(buf: Buffer, start: number, end: number) {
    this.buf = buf;
    this.pos = start;
    this.end = end;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  /** A varint as a double: exact up to 2^53, which covers every length, tag and count here. */
  varint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw malformed(`a varint is cut off at byte ${this.pos}`);
      const byte = this.buf[this.pos++] as number;
      result += (byte & 0x7f) * scale;
      if (byte < 0x80) return result;
      scale *= 128;
    }
    throw malformed(`a varint is longer than 10 bytes at byte ${this.pos}`);
  }

  /** An int64 varint, negative values in two's complement over 10 bytes. */
  int64(): bigint {
    let result = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw malformed(`a varint is cut off at byte ${this.pos}`);
      const byte = this.buf[this.pos++] as number;
      result |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) return BigInt.asIntN(64, result);
      shift += 7n;
    }
    throw malformed(`a varint is longer than 10 bytes at byte ${this.pos}`);
  }

  #need(bytes: number, what: string): void {
    if (this.end - this.pos < bytes) throw malformed(`${what} at byte ${this.pos} runs past the end of its message`);
  }

  /** A fixed64 as a double: nanoseconds since the epoch keep ~256 ns of precision, plenty for a waterfall. */
  fixed64(): number {
    this.#need(8, 'a fixed64');
    const low = this.buf.readUInt32LE(this.pos);
    const high = this.buf.readUInt32LE(this.pos + 4);
    this.pos += 8;
    return high * TWO_TO_32 + low;
  }

  double(): number {
    this.#need(8, 'a double');
    const value = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return value;
  }

  /** The bounds of a length-delimited field's payload, which the reader then steps over. */
  length(): [start: number, end: number] {
    const length = this.varint();
    this.#need(length, `a field of ${length} bytes`);
    const start = this.pos;
    this.pos += length;
    return [start, this.pos];
  }

  message(): ProtoReader {
    const [start, end] = this.length();
    return new ProtoReader(this.buf, start, end);
  }

  string(maxBytes = MAX_STRING_BYTES): string {
    const [start, end] = this.length();
    if (end - start <= maxBytes) return this.buf.toString('utf8', start, end);
    return `${this.buf.toString('utf8', start, start + maxBytes)}${ELLIPSIS}`;
  }

  hex(): string {
    const [start, end] = this.length();
    return this.buf.toString('hex', start, end);
  }

  /** The next field's number and wire type. */
  tag(): [field: number, wireType: number] {
    const tag = this.varint();
    const field = Math.floor(tag / 8);
    const wireType = tag % 8;
    if (field === 0) throw malformed(`field number 0 at byte ${this.pos}`);
    return [field, wireType];
  }

  skip(field: number, wireType: number, groupDepth = 0): void {
    switch (wireType) {
      case VARINT:
        this.varint();
        return;
      case I64:
        this.#need(8, 'a fixed64');
        this.pos += 8;
        return;
      case LEN:
        this.length();
        return;
      case I32:
        this.#need(4, 'a fixed32');
        this.pos += 4;
        return;
      case SGROUP: {
        if (groupDepth >= MAX_GROUP_DEPTH) throw malformed(`groups nest deeper than ${MAX_GROUP_DEPTH}`);
        for (;;) {
          if (this.done) throw malformed(`group ${field} is not closed`);
          const [inner, innerType] = this.tag();
          if (innerType === EGROUP) {
            if (inner !== field) throw malformed(`group ${field} is closed as ${inner}`);
            return;
          }
          this.skip(inner, innerType, groupDepth + 1);
        }
      }
      default:
        throw malformed(`field ${field} has wire type ${wireType} at byte ${this.pos}`);
    }
  }

  expect(message: string, field: number, wireType: number, expected: number): void {
    if (wireType !== expected) {
      throw malformed(`${message}.${field} has wire type ${wireType}, not ${expected}, at byte ${this.pos}`);
    }
  }
}

interface ResourceIdentity {
  service: string;
  instance: string | null;
}

/** The attributes of an ExportTraceServiceRequest, into spans; throws MalformedOtlpError. */
export function decodeProtobufExport(body: Buffer): DecodedExport {
  const out: DecodedExport = { spans: [], rejectedSpans: 0 };
  const reader = new ProtoReader(body, 0, body.length);
  while (!reader.done) {
    const [field, wireType] = reader.tag();
    if (field === 1) {
      reader.expect('ExportTraceServiceRequest', field, wireType, LEN);
      readResourceSpans(reader.message(), out);
    } else reader.skip(field, wireType);
  }
  return out;
}

function readResourceSpans(reader: ProtoReader, out: DecodedExport): void {
  let resource: ResourceIdentity = { service: UNKNOWN_SERVICE, instance: null };
  // Fields may come in any order: the resource can follow the spans it describes.
  const scopeSpans: ProtoReader[] = [];
  while (!reader.done) {
    const [field, wireType] = reader.tag();
    if (field === 1) {
      reader.expect('ResourceSpans', field, wireType, LEN);
      resource = readResource(reader.message());
    } else if (field === 2) {
      reader.expect('ResourceSpans', field, wireType, LEN);
      scopeSpans.push(reader.message());
    } else reader.skip(field, wireType);
  }
  for (const scope of scopeSpans) readScopeSpans(scope, resource, out);
}

function readResource(reader: ProtoReader): ResourceIdentity {
  const identity: ResourceIdentity = { service: UNKNOWN_SERVICE, instance: null };
  while (!reader.done) {
    const [field, wireType] = reader.tag();
    if (field !== 1) {
      reader.skip(field, wireType);
      continue;
    }
    reader.expect('Resource', field, wireType, LEN);
    const [key, value] = readKeyValue(reader.message(), 0);
    if (value === undefined) continue;
    if (key === SERVICE_NAME) identity.service = String(value);
    else if (key === SERVICE_INSTANCE_ID) identity.instance = String(value);
  }
  return identity;
}

function readScopeSpans(reader: ProtoReader, resource: ResourceIdentity, out: DecodedExport): void {
  while (!reader.done) {
    const [field, wireType] = reader.tag();
    if (field === 2) {
      reader.expect('ScopeSpans', field, wireType, LEN);
      const span = readSpan(reader.message(), resource);
      if (span) out.spans.push(span);
      else out.rejectedSpans++;
    } else reader.skip(field, wireType);
  }
}

const TRACE_ID_BYTES = 16;
const SPAN_ID_BYTES = 8;
const isZero = (hex: string) => /^0*$/.test(hex);

/** A span, or undefined when its ids are invalid (a valid message, but not a span to keep). */
function readSpan(reader: ProtoReader, resource: ResourceIdentity): IngestedSpan | undefined {
  let traceId = '';
  let spanId = '';
  let parentSpanId = '';
  let name = '';
  let kind = 0;
  let startNanos = 0;
  let endNanos = 0;
  let status = 0;
  const attributes = emptyAttributes();
  let attributeCount = 0;
  while (!reader.done) {
    const [field, wireType] = reader.tag();
    switch (field) {
      case 1:
        reader.expect('Span', field, wireType, LEN);
        traceId = reader.hex();
        break;
      case 2:
        reader.expect('Span', field, wireType, LEN);
        spanId = reader.hex();
        break;
      case 4:
        reader.expect('Span', field, wireType, LEN);
        parentSpanId = reader.hex();
        break;
      case 5:
        reader.expect('Span', field, wireType, LEN);
        name = reader.string(MAX_STRING_CHARS);
        break;
      case 6:
        reader.expect('Span', field, wireType, VARINT);
        kind = reader.varint();
        break;
      case 7:
        reader.expect('Span', field, wireType, I64);
        startNanos = reader.fixed64();
        break;
      case 8:
        reader.expect('Span', field, wireType, I64);
        endNanos = reader.fixed64();
        break;
      case 9: {
        reader.expect('Span', field, wireType, LEN);
        if (attributeCount >= MAX_ATTRIBUTES_PER_SPAN) {
          reader.length();
          break;
        }
        const [key, value] = readKeyValue(reader.message(), 0);
        if (value !== undefined && attributes[key] === undefined) {
          attributes[key] = value;
          attributeCount++;
        }
        break;
      }
      case 15:
        reader.expect('Span', field, wireType, LEN);
        status = readStatusCode(reader.message());
        break;
      default:
        // trace_state, dropped counts, events, links, flags: nothing the console shows.
        reader.skip(field, wireType);
    }
  }
  if (
    traceId.length !== TRACE_ID_BYTES * 2 ||
    isZero(traceId) ||
    spanId.length !== SPAN_ID_BYTES * 2 ||
    isZero(spanId) ||
    (parentSpanId !== '' && parentSpanId.length !== SPAN_ID_BYTES * 2)
  ) {
    return undefined;
  }
  return {
    traceId,
    spanId,
    parentSpanId: parentSpanId === '' || isZero(parentSpanId) ? null : parentSpanId,
    name,
    kind: SPAN_KINDS[kind] ?? 'unspecified',
    startMs: startNanos / 1e6,
    endMs: endNanos / 1e6,
    status: STATUS_CODES[status] ?? 'unset',
    service: resource.service,
    instance: resource.instance,
    attributes,
  };
}

function readStatusCode(reader: ProtoReader): number {
  let code = 0;
  while (!reader.done) {
    const [field, wireType] = reader.tag();
    if (field === 3) {
      reader.expect('Status', field, wireType, VARINT);
      code = reader.varint();
    } else reader.skip(field, wireType);
  }
  return code;
}

function readKeyValue(reader: ProtoReader, depth: number): [string, AttributeValue | undefined] {
  let key = '';
  let valueReader: ProtoReader | undefined;
  while (!reader.done) {
    const [field, wireType] = reader.tag();
    if (field === 1) {
      reader.expect('KeyValue', field, wireType, LEN);
      key = reader.string(MAX_STRING_CHARS);
    } else if (field === 2) {
      reader.expect('KeyValue', field, wireType, LEN);
      valueReader = reader.message();
    } else reader.skip(field, wireType);
  }
  // The value is read after the key: an array's flattening depends on which attribute it is.
  return [key, valueReader ? readAnyValue(valueReader, key, depth) : undefined];
}

/** An AnyValue, flattened; undefined when none of its oneof is set. A oneof's last field wins. */
function readAnyValue(reader: ProtoReader, key: string, depth: number): AttributeValue | undefined {
  let value: AttributeValue | undefined;
  while (!reader.done) {
    const [field, wireType] = reader.tag();
    switch (field) {
      case 1:
        reader.expect('AnyValue', field, wireType, LEN);
        value = reader.string();
        break;
      case 2:
        reader.expect('AnyValue', field, wireType, VARINT);
        value = reader.varint() !== 0;
        break;
      case 3:
        reader.expect('AnyValue', field, wireType, VARINT);
        value = int64Value(reader.int64());
        break;
      case 4:
        reader.expect('AnyValue', field, wireType, I64);
        value = finiteOrText(reader.double());
        break;
      case 5:
        reader.expect('AnyValue', field, wireType, LEN);
        value = depth >= MAX_VALUE_DEPTH ? skipped(reader) : readArrayValue(reader.message(), key, depth + 1);
        break;
      case 6:
        reader.expect('AnyValue', field, wireType, LEN);
        value = depth >= MAX_VALUE_DEPTH ? skipped(reader) : readKvlistValue(reader.message(), depth + 1);
        break;
      case 7: {
        reader.expect('AnyValue', field, wireType, LEN);
        const [start, end] = reader.length();
        value = truncated(reader.buf.toString('base64', start, Math.min(end, start + MAX_STRING_CHARS)));
        break;
      }
      default:
        reader.skip(field, wireType);
    }
  }
  return value;
}

function skipped(reader: ProtoReader): string {
  reader.length();
  return ELLIPSIS;
}

function readArrayValue(reader: ProtoReader, key: string, depth: number): AttributeValue {
  const values: AttributeValue[] = [];
  while (!reader.done) {
    const [field, wireType] = reader.tag();
    if (field === 1 && values.length < MAX_ARRAY_VALUES) {
      reader.expect('ArrayValue', field, wireType, LEN);
      const value = readAnyValue(reader.message(), key, depth);
      if (value !== undefined) values.push(value);
    } else reader.skip(field, wireType);
  }
  return flattenArray(key, values);
}

function readKvlistValue(reader: ProtoReader, depth: number): AttributeValue {
  const entries: [string, AttributeValue][] = [];
  while (!reader.done) {
    const [field, wireType] = reader.tag();
    if (field === 1 && entries.length < MAX_ARRAY_VALUES) {
      reader.expect('KeyValueList', field, wireType, LEN);
      const [key, value] = readKeyValue(reader.message(), depth);
      if (value !== undefined) entries.push([key, value]);
    } else reader.skip(field, wireType);
  }
  return flattenKvlist(entries);
}

/** The ExportTraceServiceResponse: empty, or with partial_success when spans were refused. */
export function encodeProtobufResponse(rejectedSpans: number, errorMessage: string): Buffer {
  if (rejectedSpans === 0) return Buffer.alloc(0);
  const message = Buffer.from(errorMessage, 'utf8');
  const partial = Buffer.concat([
    Buffer.from([0x08]),
    varintBytes(rejectedSpans),
    Buffer.from([0x12]),
    varintBytes(message.length),
    message,
  ]);
  return Buffer.concat([Buffer.from([0x0a]), varintBytes(partial.length), partial]);
}

export function varintBytes(value: number): Buffer {
  const bytes: number[] = [];
  let rest = value;
  while (rest >= 0x80) {
    bytes.push((rest % 128) | 0x80);
    rest = Math.floor(rest / 128);
  }
  bytes.push(rest);
  return Buffer.from(bytes);
}
