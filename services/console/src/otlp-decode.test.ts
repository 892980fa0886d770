import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MalformedOtlpError } from './errors.ts';
import { decodeJsonExport, encodeJsonResponse } from './otlp-json.ts';
import { decodeProtobufExport, encodeProtobufResponse } from './otlp-protobuf.ts';
import type { IngestedSpan } from './spans.ts';
import {
  encodeExportJson,
  encodeExportProtobuf,
  encodeResource,
  encodeSpan,
  fixed64Field,
  lengthDelimited,
  type TestResource,
  type TestSpan,
  tag,
  varint,
  varintField,
} from './test-support/otlp-encoder.ts';

/**
 * Real encoder output: @opentelemetry/otlp-transformer's ProtobufTraceSerializer and
 * JsonTraceSerializer over spans made with @opentelemetry/sdk-trace (the fixture's
 * `generatedBy` says which versions): a gateway request with two client attempts, the
 * first failing, and the users server span that answered the second. The serializer
 * writes fields the console does not read (events, links, flags, scope, dropped counts).
 */
const fixture = JSON.parse(readFileSync(new URL('./fixtures/otel-js-export.json', import.meta.url), 'utf8')) as {
  traceId: string;
  spanIds: { root: string; firstAttempt: string; secondAttempt: string; usersServer: string };
  protobufBase64: string;
  json: unknown;
};
const T0 = 1_767_225_600_000;

const bySpanId = (spans: IngestedSpan[]) => Object.fromEntries(spans.map((span) => [span.spanId, span]));
const plain = (spans: IngestedSpan[]) => spans.map((span) => ({ ...span, attributes: { ...span.attributes } }));

function malformedMessage(decode: () => unknown): string {
  try {
    decode();
  } catch (error) {
    expect(error).toBeInstanceOf(MalformedOtlpError);
    return (error as MalformedOtlpError).message;
  }
  throw new Error('decoded without complaint');
}

describe('OTLP decoding of the OpenTelemetry JS exporter output', () => {
  const fromProtobuf = decodeProtobufExport(Buffer.from(fixture.protobufBase64, 'base64'));
  const fromJson = decodeJsonExport(JSON.stringify(fixture.json));

  it('decodes protobuf and JSON to the same four spans', () => {
    expect(fromProtobuf.spans).toHaveLength(4);
    expect(fromProtobuf.rejectedSpans).toBe(0);
    expect(plain(fromJson.spans)).toEqual(plain(fromProtobuf.spans));
  });

  it('reads ids, parents, kinds, times, statuses and the resource of each span', () => {
    const spans = bySpanId(fromProtobuf.spans);
    const { root, firstAttempt, secondAttempt, usersServer } = fixture.spanIds;
    expect(spans[root]).toMatchObject({
      traceId: fixture.traceId,
      parentSpanId: null,
      name: 'GET /api/users/:id',
      kind: 'server',
      service: 'gateway',
      instance: 'gateway-1',
      status: 'unset',
    });
    expect(spans[root]?.startMs).toBeCloseTo(T0, 3);
    expect((spans[root]?.endMs ?? 0) - (spans[root]?.startMs ?? 0)).toBeCloseTo(9.25, 3);
    expect(spans[firstAttempt]).toMatchObject({ parentSpanId: root, kind: 'client', status: 'error' });
    expect(spans[secondAttempt]).toMatchObject({ parentSpanId: root, kind: 'client', status: 'unset' });
    expect(spans[usersServer]).toMatchObject({
      parentSpanId: secondAttempt,
      kind: 'server',
      service: 'users',
      instance: 'users-b',
      status: 'ok',
    });
    expect((spans[usersServer]?.startMs ?? 0) - T0).toBeCloseTo(5, 3);
  });

  it('flattens attributes: strings, ints (negative too), doubles, booleans, arrays; the request id is the first value', () => {
    expect({ ...bySpanId(fromProtobuf.spans)[fixture.spanIds.root]?.attributes }).toEqual({
      'http.request.method': 'GET',
      'url.path': '/api/users/42',
      'url.query': 'x=1',
      'http.route': '/api/users/*',
      'http.response.status_code': 200,
      'http.request.header.x-request-id': 'req-fixture-1',
      'lab.ratio': 0.25,
      'lab.flag': true,
      'lab.negative': -7,
      'lab.list': '1, 2, 3',
    });
  });

  it('answers with an empty ExportTraceServiceResponse, or a partial success naming refused spans', () => {
    expect(encodeProtobufResponse(0, '')).toHaveLength(0);
    expect(encodeJsonResponse(0, '')).toBe('{}');
    expect(JSON.parse(encodeJsonResponse(3, 'bad ids'))).toEqual({
      partialSuccess: { rejectedSpans: '3', errorMessage: 'bad ids' },
    });
    // ExportTraceServiceResponse{ partial_success{ rejected_spans: 3, error_message: "bad ids" } }
    expect(encodeProtobufResponse(3, 'bad ids').toString('hex')).toBe('0a0b0803120762616420696473');
  });
});

const TRACE = '0af7651916cd43dd8448eb211c80319c';
const hand: TestResource[] = [
  {
    service: 'gateway',
    instance: 'gw',
    spans: [
      {
        traceId: TRACE,
        spanId: 'b7ad6b7169203331',
        name: 'GET',
        kind: 2,
        startMs: T0 + 0.5,
        endMs: T0 + 12.25,
        attributes: { 'url.path': '/api/hello', big: 2 ** 40, odd: 'ß→✓', list: ['only'] },
        status: 2,
      },
    ],
  },
];

describe('OTLP protobuf decoding, hand-built', () => {
  it('matches the JSON encoding of the same spans', () => {
    const fromProtobuf = decodeProtobufExport(encodeExportProtobuf(hand));
    const fromJson = decodeJsonExport(encodeExportJson(hand));
    expect(plain(fromProtobuf.spans)).toEqual(plain(fromJson.spans));
    expect(fromProtobuf.spans[0]).toMatchObject({ status: 'error', kind: 'server', service: 'gateway' });
    expect({ ...fromProtobuf.spans[0]?.attributes }).toEqual({
      'url.path': '/api/hello',
      big: 2 ** 40,
      odd: 'ß→✓',
      list: 'only',
    });
  });

  it('skips unknown fields of every wire type, groups included, wherever they are', () => {
    const unknown = Buffer.concat([
      varintField(99, 2n ** 63n),
      fixed64Field(98, 7n),
      lengthDelimited(97, 'ignored'),
      Buffer.concat([tag(96, 5), Buffer.alloc(4)]),
      // A group holding a nested group and a varint, closed by its end tag.
      Buffer.concat([tag(95, 3), tag(94, 3), varintField(1, 5), tag(94, 4), tag(95, 4)]),
    ]);
    const span = hand[0]?.spans[0];
    if (!span) throw new Error('no span');
    const resource = Buffer.concat([unknown, encodeResource({ ...hand[0], spans: [] } as TestResource)]);
    const withUnknown = Buffer.concat([
      unknown,
      lengthDelimited(
        1,
        Buffer.concat([
          resource,
          lengthDelimited(2, Buffer.concat([unknown, lengthDelimited(2, encodeSpan(span, unknown))])),
        ]),
      ),
    ]);
    const decoded = decodeProtobufExport(withUnknown);
    expect(plain(decoded.spans)).toEqual(plain(decodeProtobufExport(encodeExportProtobuf(hand)).spans));
  });

  it('shows values nested past the depth bound as an ellipsis, without recursing into them', () => {
    let value = lengthDelimited(1, 'deep');
    for (let depth = 0; depth < 2000; depth++) value = lengthDelimited(5, lengthDelimited(1, value));
    const span = encodeSpan(
      hand[0]?.spans[0] as TestSpan,
      lengthDelimited(9, Buffer.concat([lengthDelimited(1, 'nested'), lengthDelimited(2, value)])),
    );
    const decoded = decodeProtobufExport(lengthDelimited(1, lengthDelimited(2, lengthDelimited(2, span))));
    expect(decoded.spans[0]?.attributes.nested).toBe('…');
  });

  it('refuses spans with invalid ids (counted, not stored) and keeps the valid ones', () => {
    const valid = hand[0]?.spans[0];
    if (!valid) throw new Error('no span');
    const decoded = decodeProtobufExport(
      encodeExportProtobuf([
        {
          service: 'x',
          spans: [
            valid,
            { ...valid, traceId: '00000000000000000000000000000000' },
            { ...valid, spanId: 'abcd' },
            { ...valid, parentSpanId: 'abcdef' },
          ],
        },
      ]),
    );
    expect(decoded.spans).toHaveLength(1);
    expect(decoded.rejectedSpans).toBe(3);
  });

  it('refuses truncated and garbled input, naming what is wrong', () => {
    const good = encodeExportProtobuf(hand);
    for (let cut = 1; cut < good.length; cut++) {
      // Every prefix either decodes (it ended on a field boundary of the outer message) or is refused.
      try {
        decodeProtobufExport(good.subarray(0, cut));
      } catch (error) {
        expect(error).toBeInstanceOf(MalformedOtlpError);
      }
    }
    expect(malformedMessage(() => decodeProtobufExport(good.subarray(0, good.length - 3)))).toMatch(
      /runs past the end|cut off/,
    );
    expect(malformedMessage(() => decodeProtobufExport(Buffer.from([0x0a, 0x05, 0x01])))).toMatch(/runs past the end/);
    expect(malformedMessage(() => decodeProtobufExport(Buffer.from([0x0f])))).toMatch(/wire type 7/);
    expect(malformedMessage(() => decodeProtobufExport(Buffer.from([0x00])))).toMatch(/field number 0/);
    expect(malformedMessage(() => decodeProtobufExport(Buffer.alloc(11, 0xff)))).toMatch(/longer than 10 bytes/);
    expect(malformedMessage(() => decodeProtobufExport(Buffer.concat([tag(5, 3), varintField(1, 1)])))).toMatch(
      /not closed/,
    );
    // resource_spans as a varint: a known field of the wrong wire type.
    expect(malformedMessage(() => decodeProtobufExport(varintField(1, 1)))).toMatch(
      /ExportTraceServiceRequest\.1 has wire type 0/,
    );
    expect(malformedMessage(() => decodeProtobufExport(Buffer.concat([tag(1, 2), varint(2 ** 40)])))).toMatch(
      /runs past the end/,
    );
  });
});

describe('OTLP/JSON decoding', () => {
  it('takes 64-bit integers as numbers or strings and enums as numbers or names', () => {
    const decoded = decodeJsonExport(
      JSON.stringify({
        resourceSpans: [
          {
            resource: { attributes: [{ key: 'service.name', value: { stringValue: 'users' } }] },
            scopeSpans: [
              {
                spans: [
                  {
                    traceId: TRACE.toUpperCase(),
                    spanId: 'B7AD6B7169203331',
                    name: 'x',
                    kind: 'SPAN_KIND_CLIENT',
                    startTimeUnixNano: 1_767_225_600_000_000_000,
                    endTimeUnixNano: '1767225600002000000',
                    status: { code: 'STATUS_CODE_ERROR' },
                    attributes: [
                      { key: 'a', value: { intValue: '-9007199254740993' } },
                      { key: 'b', value: { doubleValue: 'Infinity' } },
                      { key: 'c', value: { kvlistValue: { values: [{ key: 'k', value: { boolValue: false } }] } } },
                      { key: 'd', value: { bytesValue: 'AAEC' } },
                      { key: 'e', value: {} },
                      { key: 'unknownField', value: { stringValue: 's' }, extra: 1 },
                    ],
                    unknownSpanField: { anything: [1, 2] },
                  },
                ],
              },
            ],
          },
        ],
      }),
    );
    expect(decoded.spans[0]).toMatchObject({ traceId: TRACE, kind: 'client', status: 'error', service: 'users' });
    expect((decoded.spans[0]?.endMs ?? 0) - (decoded.spans[0]?.startMs ?? 0)).toBeCloseTo(2, 3);
    expect({ ...decoded.spans[0]?.attributes }).toEqual({
      a: '-9007199254740993',
      b: 'Infinity',
      c: '{k=false}',
      d: 'AAEC',
      unknownField: 's',
    });
  });

  it('refuses bodies that are not JSON or hold the wrong types, naming the place', () => {
    expect(malformedMessage(() => decodeJsonExport('{"resourceSpans": ['))).toMatch(/not valid JSON/);
    expect(malformedMessage(() => decodeJsonExport('[]'))).toMatch(/the body must be an object/);
    expect(malformedMessage(() => decodeJsonExport('{"resourceSpans": 5}'))).toMatch(/resourceSpans must be an array/);
    expect(
      malformedMessage(() =>
        decodeJsonExport('{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"x","startTimeUnixNano":"-1"}]}]}]}'),
      ),
    ).toMatch(/resourceSpans\[0\]\.scopeSpans\[0\]\.spans\[0\]\.startTimeUnixNano must be a non-negative integer/);
    expect(
      malformedMessage(() =>
        decodeJsonExport(
          '{"resourceSpans":[{"scopeSpans":[{"spans":[{"attributes":[{"key":"a","value":{"boolValue":1}}]}]}]}]}',
        ),
      ),
    ).toMatch(/attributes\[0\]\.value\.boolValue must be a boolean/);
  });

  it('does not echo the body in its error', () => {
    expect(malformedMessage(() => decodeJsonExport('{"secret-token-123": '))).not.toContain('secret');
  });

  it('bounds what one hostile span can make it hold', () => {
    // Built as text: JSON.stringify itself would overflow the stack on this.
    const depth = 20_000;
    const nested = `${'{"arrayValue":{"values":['.repeat(depth)}{"stringValue":"deep"}${']}}'.repeat(depth)}`;
    const decoded = decodeJsonExport(
      JSON.stringify({
        resourceSpans: [
          {
            scopeSpans: [
              {
                spans: [
                  {
                    traceId: TRACE,
                    spanId: 'b7ad6b7169203331',
                    attributes: [
                      { key: 'nested', value: { stringValue: 'NESTED' } },
                      { key: 'long', value: { stringValue: 'x'.repeat(100_000) } },
                      ...Array.from({ length: 500 }, (_, n) => ({ key: `k${n}`, value: { intValue: n } })),
                    ],
                  },
                ],
              },
            ],
          },
        ],
      }).replace('{"stringValue":"NESTED"}', nested),
    );
    const attributes = decoded.spans[0]?.attributes ?? {};
    expect(Object.keys(attributes)).toHaveLength(128);
    expect(attributes.nested).toBe('…');
    expect(String(attributes.long).length).toBeLessThanOrEqual(2049);
    expect(decoded.spans[0]?.service).toBe('unknown_service');
  });
});
