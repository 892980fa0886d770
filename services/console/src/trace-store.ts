import type { IngestedSpan } from './spans.ts';

/**
 * The spans the console has received, by trace, in memory. Two bounds hold after every
 * `add`: at most `maxTraces` traces and at most `maxBytes` (estimated) bytes. The trace
 * least recently added to goes first; a single trace bigger than the byte bound goes too.
 */
export interface StoredTrace {
  readonly traceId: string;
  /** By span id. */
  readonly spans: ReadonlyMap<string, IngestedSpan>;
}

export interface TraceStoreStats {
  count: number;
  bytes: number;
  maxTraces: number;
  maxBytes: number;
}

interface TraceEntry extends StoredTrace {
  readonly spans: Map<string, IngestedSpan>;
  bytes: number;
}

/** A trace's spans past this are dropped: a runaway loop's trace should not push out all others. */
export const MAX_SPANS_PER_TRACE = 1000;

/**
 * What a span costs in V8, roughly: the object and its fields (~200 bytes), its
 * strings (counted at two bytes a character, though ASCII takes one) and ~80 bytes
 * of dictionary entry per attribute. On the side of caution: 80,000 decoded spans of
 * the exporter fixture (otlp-decode.test.ts) grew the heap by 0.77 of their estimate.
 */
export function estimateSpanBytes(span: IngestedSpan): number {
  let bytes = 200 + 2 * (span.traceId.length + span.spanId.length + span.name.length + span.service.length);
  if (span.parentSpanId) bytes += 2 * span.parentSpanId.length;
  if (span.instance) bytes += 2 * span.instance.length;
  for (const key in span.attributes) {
    const value = span.attributes[key];
    bytes += 80 + 2 * key.length + (typeof value === 'string' ? 2 * value.length : 8);
  }
  return bytes;
}

export class TraceStore {
  readonly maxTraces: number;
  readonly maxBytes: number;
  /** Insertion order is recency: a trace is re-inserted whenever spans are added to it. */
  readonly #traces = new Map<string, TraceEntry>();
  #bytes = 0;

  constructor({ maxTraces, maxBytes }: { maxTraces: number; maxBytes: number }) {
    this.maxTraces = maxTraces;
    this.maxBytes = maxBytes;
  }

  add(spans: readonly IngestedSpan[]): void {
    for (const span of spans) {
      let entry = this.#traces.get(span.traceId);
      if (entry === undefined) {
        entry = { traceId: span.traceId, spans: new Map(), bytes: 0 };
      } else {
        this.#traces.delete(span.traceId);
      }
      this.#traces.set(span.traceId, entry);
      // An exporter that retries resends spans already taken.
      if (entry.spans.has(span.spanId) || entry.spans.size >= MAX_SPANS_PER_TRACE) continue;
      const bytes = estimateSpanBytes(span);
      entry.spans.set(span.spanId, span);
      entry.bytes += bytes;
      this.#bytes += bytes;
      this.#evict();
    }
  }

  #evict(): void {
    while (this.#traces.size > this.maxTraces || this.#bytes > this.maxBytes) {
      const oldest = this.#traces.keys().next();
      if (oldest.done) return;
      this.forget(oldest.value);
    }
  }

  forget(traceId: string): void {
    const entry = this.#traces.get(traceId);
    if (entry === undefined) return;
    this.#traces.delete(traceId);
    this.#bytes -= entry.bytes;
  }

  get(traceId: string): StoredTrace | undefined {
    return this.#traces.get(traceId);
  }

  /** Least recently added to first. */
  traces(): IterableIterator<StoredTrace> {
    return this.#traces.values();
  }

  stats(): TraceStoreStats {
    return { count: this.#traces.size, bytes: this.#bytes, maxTraces: this.maxTraces, maxBytes: this.maxBytes };
  }
}
