import type { SpanView, TraceView } from '../src/live-types.ts';

export interface WaterfallRow {
  span: SpanView;
  depth: number;
  /**
   * For a client span answered by a server span of another service: the time spent between
   * the two (network, proxying, queueing), i.e. the client's duration minus the server's.
   */
  hopMs: number | null;
}

export interface Waterfall {
  rows: WaterfallRow[];
  /** The end of the trace's last span, the common time axis' length. */
  totalMs: number;
}

const byStart = (a: SpanView, b: SpanView) => a.startMs - b.startMs || a.spanId.localeCompare(b.spanId);

/** The spans in tree order (each parent followed by its children, by start time). */
export function buildWaterfall(trace: TraceView): Waterfall {
  const ids = new Set(trace.spans.map((span) => span.spanId));
  const children = new Map<string, SpanView[]>();
  const roots: SpanView[] = [];
  for (const span of trace.spans) {
    // A span whose parent has not reached the store (yet) is shown as a root, not dropped.
    if (span.parentSpanId === null || !ids.has(span.parentSpanId) || span.parentSpanId === span.spanId) {
      roots.push(span);
      continue;
    }
    const siblings = children.get(span.parentSpanId) ?? [];
    siblings.push(span);
    children.set(span.parentSpanId, siblings);
  }

  const rows: WaterfallRow[] = [];
  const visited = new Set<string>();
  const visit = (span: SpanView, depth: number) => {
    if (visited.has(span.spanId)) return;
    visited.add(span.spanId);
    const kids = (children.get(span.spanId) ?? []).toSorted(byStart);
    rows.push({ span, depth, hopMs: hopOf(span, kids) });
    for (const kid of kids) visit(kid, depth + 1);
  };
  for (const root of roots.toSorted(byStart)) visit(root, 0);
  // Spans caught in a parent cycle are unreachable from any root: still show them.
  for (const span of trace.spans.toSorted(byStart)) visit(span, 0);

  const totalMs = Math.max(0, ...trace.spans.map((span) => span.startMs + span.durationMs));
  return { rows, totalMs };
}

function hopOf(span: SpanView, children: SpanView[]): number | null {
  if (span.kind !== 'client') return null;
  const answer = children.find((child) => child.kind === 'server' && child.service !== span.service);
  return answer === undefined ? null : Math.max(0, span.durationMs - answer.durationMs);
}
