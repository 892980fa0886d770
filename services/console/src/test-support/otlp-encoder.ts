// Test support only (imported by *.test.ts, never by the app): builds OTLP export
// requests in both encodings from one description, so tests can send the same spans
// as protobuf and as JSON, and write protobuf the SDK would never write.

export interface TestSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  /** 0 unspecified, 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number;
  startMs: number;
  endMs: number;
  attributes?: Record<string, string | number | boolean | string[]>;
  /** 0 unset, 1 ok, 2 error. */
  status?: number;
}

export interface TestResource {
  service: string;
  instance?: string;
  spans: TestSpan[];
}

export function varint(value: number | bigint): Buffer {
  let rest = BigInt.asUintN(64, BigInt(value));
  const bytes: number[] = [];
  while (rest >= 0x80n) {
    bytes.push(Number(rest & 0x7fn) | 0x80);
    rest >>= 7n;
  }
  bytes.push(Number(rest));
  return Buffer.from(bytes);
}

export const tag = (field: number, wireType: number) => varint(field * 8 + wireType);

export function lengthDelimited(field: number, payload: Buffer | string): Buffer {
  const bytes = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  return Buffer.concat([tag(field, 2), varint(bytes.length), bytes]);
}

export const varintField = (field: number, value: number | bigint) => Buffer.concat([tag(field, 0), varint(value)]);

export function fixed64Field(field: number, value: bigint): Buffer {
  const bytes = Buffer.alloc(8);
  bytes.writeBigUInt64LE(value);
  return Buffer.concat([tag(field, 1), bytes]);
}

export function doubleField(field: number, value: number): Buffer {
  const bytes = Buffer.alloc(8);
  bytes.writeDoubleLE(value);
  return Buffer.concat([tag(field, 1), bytes]);
}

const nanos = (ms: number) => BigInt(Math.round(ms * 1e6));

function anyValue(value: string | number | boolean | string[]): Buffer {
  if (Array.isArray(value)) {
    return lengthDelimited(5, Buffer.concat(value.map((item) => lengthDelimited(1, anyValue(item)))));
  }
  if (typeof value === 'string') return lengthDelimited(1, value);
  if (typeof value === 'boolean') return varintField(2, value ? 1 : 0);
  return Number.isInteger(value) ? varintField(3, value) : doubleField(4, value);
}

export const keyValue = (key: string, value: string | number | boolean | string[]) =>
  Buffer.concat([lengthDelimited(1, key), lengthDelimited(2, anyValue(value))]);

export function encodeSpan(span: TestSpan, extra: Buffer = Buffer.alloc(0)): Buffer {
  return Buffer.concat([
    lengthDelimited(1, Buffer.from(span.traceId, 'hex')),
    lengthDelimited(2, Buffer.from(span.spanId, 'hex')),
    ...(span.parentSpanId ? [lengthDelimited(4, Buffer.from(span.parentSpanId, 'hex'))] : []),
    lengthDelimited(5, span.name),
    varintField(6, span.kind),
    fixed64Field(7, nanos(span.startMs)),
    fixed64Field(8, nanos(span.endMs)),
    ...Object.entries(span.attributes ?? {}).map(([key, value]) => lengthDelimited(9, keyValue(key, value))),
    ...(span.status ? [lengthDelimited(15, varintField(3, span.status))] : []),
    extra,
  ]);
}

export function encodeResource(resource: TestResource): Buffer {
  const attributes = [
    lengthDelimited(1, keyValue('service.name', resource.service)),
    ...(resource.instance ? [lengthDelimited(1, keyValue('service.instance.id', resource.instance))] : []),
  ];
  const scopeSpans = Buffer.concat([
    lengthDelimited(1, lengthDelimited(1, 'test-scope')),
    ...resource.spans.map((span) => lengthDelimited(2, encodeSpan(span))),
  ]);
  return Buffer.concat([lengthDelimited(1, Buffer.concat(attributes)), lengthDelimited(2, scopeSpans)]);
}

/** A binary ExportTraceServiceRequest. */
export function encodeExportProtobuf(resources: readonly TestResource[]): Buffer {
  return Buffer.concat(resources.map((resource) => lengthDelimited(1, encodeResource(resource))));
}

function jsonValue(value: string | number | boolean | string[]): unknown {
  if (Array.isArray(value)) return { arrayValue: { values: value.map(jsonValue) } };
  if (typeof value === 'string') return { stringValue: value };
  if (typeof value === 'boolean') return { boolValue: value };
  return Number.isInteger(value) ? { intValue: String(value) } : { doubleValue: value };
}

/** The same request in OTLP/JSON. */
export function encodeExportJson(resources: readonly TestResource[]): string {
  const attributes = (entries: Record<string, string | number | boolean | string[]>) =>
    Object.entries(entries).map(([key, value]) => ({ key, value: jsonValue(value) }));
  return JSON.stringify({
    resourceSpans: resources.map((resource) => ({
      resource: {
        attributes: attributes({
          'service.name': resource.service,
          ...(resource.instance ? { 'service.instance.id': resource.instance } : {}),
        }),
      },
      scopeSpans: [
        {
          scope: { name: 'test-scope' },
          spans: resource.spans.map((span) => ({
            traceId: span.traceId,
            spanId: span.spanId,
            ...(span.parentSpanId ? { parentSpanId: span.parentSpanId } : {}),
            name: span.name,
            kind: span.kind,
            startTimeUnixNano: String(nanos(span.startMs)),
            endTimeUnixNano: String(nanos(span.endMs)),
            attributes: attributes(span.attributes ?? {}),
            ...(span.status ? { status: { code: span.status } } : {}),
          })),
        },
      ],
    })),
  });
}
