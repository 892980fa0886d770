import { describe, expect, it } from 'vitest';
import type { SpanView } from '../src/live-types.ts';
import { buildWaterfall } from './waterfall-model.ts';

function span(spanId: string, parentSpanId: string | null, fields: Partial<SpanView>): SpanView {
  return {
    spanId,
    parentSpanId,
    name: spanId,
    service: 'gateway',
    instance: null,
    kind: 'internal',
    startMs: 0,
    durationMs: 1,
    status: 'unset',
    attributes: {},
    ...fields,
  };
}

describe('buildWaterfall', () => {
  const spans = [
    span('answer', 'retry', { service: 'users', kind: 'server', startMs: 6, durationMs: 3 }),
    span('root', null, { kind: 'server', startMs: 0, durationMs: 10 }),
    span('retry', 'root', { kind: 'client', startMs: 5.5, durationMs: 4 }),
    span('first', 'root', { kind: 'client', startMs: 0.5, durationMs: 4, status: 'error' }),
  ];

  it('lists each parent before its children, children by start time, indented by depth', () => {
    const { rows, totalMs } = buildWaterfall({ traceId: 't', spans });
    expect(rows.map((row) => [row.span.spanId, row.depth])).toEqual([
      ['root', 0],
      ['first', 1],
      ['retry', 1],
      ['answer', 2],
    ]);
    expect(totalMs).toBe(10);
  });

  it('measures the hop of a client span answered by another service: client minus server duration', () => {
    const { rows } = buildWaterfall({ traceId: 't', spans });
    expect(rows.find((row) => row.span.spanId === 'retry')?.hopMs).toBe(1);
    expect(rows.find((row) => row.span.spanId === 'first')?.hopMs).toBeNull();
    expect(rows.find((row) => row.span.spanId === 'root')?.hopMs).toBeNull();
  });

  it('shows spans whose parent is missing, or caught in a cycle, as roots instead of dropping them', () => {
    const { rows } = buildWaterfall({
      traceId: 't',
      spans: [span('orphan', 'gone', {}), span('a', 'b', {}), span('b', 'a', { startMs: 1 })],
    });
    expect(rows.map((row) => row.span.spanId).sort()).toEqual(['a', 'b', 'orphan']);
  });
});
