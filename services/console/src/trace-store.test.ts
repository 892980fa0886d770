import { describe, expect, it } from 'vitest';
import type { IngestedSpan } from './spans.ts';
import { emptyAttributes } from './spans.ts';
import { estimateSpanBytes, MAX_SPANS_PER_TRACE, TraceStore } from './trace-store.ts';

const traceId = (n: number) => n.toString(16).padStart(32, '0');
const spanId = (n: number) => (n + 1).toString(16).padStart(16, '0');

function span(trace: number, n: number, attributeBytes = 0): IngestedSpan {
  const attributes = emptyAttributes();
  if (attributeBytes > 0) attributes.payload = 'x'.repeat(attributeBytes);
  return {
    traceId: traceId(trace),
    spanId: spanId(n),
    parentSpanId: null,
    name: 'GET',
    kind: 'server',
    startMs: trace,
    endMs: trace + 1,
    status: 'unset',
    service: 'users',
    instance: 'users-1',
    attributes,
  };
}

const ids = (store: TraceStore) => [...store.traces()].map((trace) => trace.traceId);

describe('the trace store', () => {
  it('after 20,000 traces holds at most maxTraces, the newest, oldest gone first', () => {
    const store = new TraceStore({ maxTraces: 500, maxBytes: 1024 * 1024 * 1024 });
    for (let n = 1; n <= 20_000; n++) store.add([span(n, 0), span(n, 1)]);
    const { count, bytes, maxTraces } = store.stats();
    expect(count).toBe(maxTraces);
    expect(ids(store)).toEqual(Array.from({ length: 500 }, (_, i) => traceId(19_501 + i)));
    expect(bytes).toBe(500 * 2 * estimateSpanBytes(span(1, 0)));
  });

  it('after 50 MB of spans holds at most maxBytes, the newest traces, oldest gone first', () => {
    const maxBytes = 1024 * 1024;
    const store = new TraceStore({ maxTraces: 100_000, maxBytes });
    const perSpan = estimateSpanBytes(span(1, 0, 5000));
    for (let n = 1; n <= 5000; n++) store.add([span(n, 0, 5000)]);
    const { count, bytes } = store.stats();
    expect(bytes).toBeLessThanOrEqual(maxBytes);
    expect(count).toBe(Math.floor(maxBytes / perSpan));
    expect(ids(store).at(-1)).toBe(traceId(5000));
    expect(ids(store)[0]).toBe(traceId(5000 - count + 1));
  });

  it('a trace that keeps getting spans counts as recent; a duplicate span is not counted twice', () => {
    const store = new TraceStore({ maxTraces: 3, maxBytes: 1024 * 1024 });
    store.add([span(1, 0)]);
    store.add([span(2, 0)]);
    store.add([span(3, 0)]);
    store.add([span(1, 1), span(1, 1)]);
    store.add([span(4, 0)]);
    expect(ids(store)).toEqual([traceId(3), traceId(1), traceId(4)]);
    expect(store.get(traceId(1))?.spans.size).toBe(2);
    expect(store.stats().bytes).toBe(4 * estimateSpanBytes(span(1, 0)));
  });

  it('caps a runaway trace at MAX_SPANS_PER_TRACE spans, and drops a trace bigger than the byte bound', () => {
    const store = new TraceStore({ maxTraces: 10, maxBytes: 100 * 1024 * 1024 });
    store.add(Array.from({ length: MAX_SPANS_PER_TRACE + 500 }, (_, n) => span(1, n)));
    expect(store.get(traceId(1))?.spans.size).toBe(MAX_SPANS_PER_TRACE);

    const small = new TraceStore({ maxTraces: 10, maxBytes: 64 * 1024 });
    small.add([span(2, 0)]);
    small.add(Array.from({ length: 100 }, (_, n) => span(3, n, 1000)));
    expect(small.stats().bytes).toBeLessThanOrEqual(64 * 1024);
    expect(small.get(traceId(2))).toBeUndefined();
  });

  it('forgets a trace on request, bytes included', () => {
    const store = new TraceStore({ maxTraces: 10, maxBytes: 1024 * 1024 });
    store.add([span(1, 0), span(2, 0)]);
    store.forget(traceId(1));
    expect(store.stats()).toMatchObject({ count: 1, bytes: estimateSpanBytes(span(2, 0)) });
  });
});
