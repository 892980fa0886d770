import type { RecentRequest, SpanView, TraceView } from './live-types.ts';
import {
  type IngestedSpan,
  REQUEST_ID_ATTRIBUTE,
  spanMethod,
  spanPath,
  spanServerAddress,
  spanStatusCode,
  stringAttribute,
} from './spans.ts';
import type { StoredTrace, TraceStore } from './trace-store.ts';

/**
 * Requests as a user sees them, read from the stored traces: a root server span of
 * the gateway (or of the monolith twin) on an /api/ path is one request. Under it,
 * the gateway's client spans are its attempts at upstream replicas, and the server
 * span under the last attempt is the replica whose answer the client got.
 */
export const RECENT_LIMIT = 50;

export interface RequestRouting {
  /** The gateway's upstreams, to name the service a path went to. */
  upstreams: readonly { name: string; prefix: string }[];
  /** A replica's id from the address the gateway connected to, while its own span has not arrived. */
  replicaIdOf(address: string): string | null;
}

const EDGE_SERVICES = new Set(['gateway', 'monolith']);
const round3 = (value: number) => Math.round(value * 1000) / 1000;

function isRequestRoot(span: IngestedSpan, trace: StoredTrace): boolean {
  if (span.kind !== 'server' || !EDGE_SERVICES.has(span.service)) return false;
  if (span.parentSpanId !== null && trace.spans.has(span.parentSpanId)) return false;
  const path = spanPath(span);
  return path?.startsWith('/api/') === true && path !== '/api/_topology';
}

function childrenByParent(trace: StoredTrace): Map<string, IngestedSpan[]> {
  const children = new Map<string, IngestedSpan[]>();
  for (const span of trace.spans.values()) {
    if (span.parentSpanId === null) continue;
    const siblings = children.get(span.parentSpanId);
    if (siblings) siblings.push(span);
    else children.set(span.parentSpanId, [span]);
  }
  return children;
}

/** The root's client spans within its own service (the gateway's attempts), through any internal spans. */
function attemptsUnder(root: IngestedSpan, children: Map<string, IngestedSpan[]>): IngestedSpan[] {
  const attempts: IngestedSpan[] = [];
  const stack = [root];
  for (let span = stack.pop(); span !== undefined; span = stack.pop()) {
    for (const child of children.get(span.spanId) ?? []) {
      if (child.service !== root.service) continue;
      if (child.kind === 'client') attempts.push(child);
      stack.push(child);
    }
  }
  return attempts;
}

function serviceOf(path: string, root: IngestedSpan, routing: RequestRouting): string {
  if (root.service === 'monolith') return 'monolith';
  const upstream = routing.upstreams.find(({ prefix }) => path === prefix || path.startsWith(`${prefix}/`));
  return upstream?.name ?? root.service;
}

function toRequest(
  root: IngestedSpan,
  trace: StoredTrace,
  children: Map<string, IngestedSpan[]>,
  routing: RequestRouting,
): RecentRequest {
  const path = spanPath(root) ?? '';
  let attempts = 1;
  let replica = root.instance;
  if (root.service === 'gateway') {
    const clients = attemptsUnder(root, children);
    attempts = clients.length;
    const last = clients.reduce<IngestedSpan | undefined>(
      (a, b) => (a === undefined || b.startMs >= a.startMs ? b : a),
      undefined,
    );
    replica = null;
    if (last) {
      const answered = (children.get(last.spanId) ?? []).find((span) => span.kind === 'server');
      const address = spanServerAddress(last);
      replica = answered?.instance ?? (address === null ? null : (routing.replicaIdOf(address) ?? address));
    }
  }
  return {
    traceId: trace.traceId,
    requestId: stringAttribute(root, REQUEST_ID_ATTRIBUTE),
    at: Math.round(root.startMs),
    method: spanMethod(root) ?? '_OTHER',
    path,
    status: spanStatusCode(root),
    durationMs: round3(Math.max(0, root.endMs - root.startMs)),
    service: serviceOf(path, root, routing),
    replica,
    attempts,
  };
}

export function requestsOf(trace: StoredTrace, routing: RequestRouting): RecentRequest[] {
  let children: Map<string, IngestedSpan[]> | undefined;
  const requests: RecentRequest[] = [];
  for (const span of trace.spans.values()) {
    if (!isRequestRoot(span, trace)) continue;
    children ??= childrenByParent(trace);
    requests.push(toRequest(span, trace, children, routing));
  }
  return requests;
}

const newestFirst = (a: RecentRequest, b: RecentRequest) => b.at - a.at;

export function recentRequests(store: TraceStore, routing: RequestRouting, limit = RECENT_LIMIT): RecentRequest[] {
  const all: RecentRequest[] = [];
  for (const trace of store.traces()) all.push(...requestsOf(trace, routing));
  return all.sort(newestFirst).slice(0, limit);
}

export function requestsWithId(store: TraceStore, routing: RequestRouting, requestId: string): RecentRequest[] {
  const found: RecentRequest[] = [];
  for (const trace of store.traces()) {
    for (const request of requestsOf(trace, routing)) if (request.requestId === requestId) found.push(request);
  }
  return found.sort(newestFirst);
}

export function traceView(trace: StoredTrace): TraceView {
  const spans = [...trace.spans.values()].sort((a, b) => a.startMs - b.startMs);
  const origin = spans[0]?.startMs ?? 0;
  return {
    traceId: trace.traceId,
    spans: spans.map(
      (span): SpanView => ({
        spanId: span.spanId,
        parentSpanId: span.parentSpanId,
        name: span.name,
        service: span.service,
        instance: span.instance,
        kind: span.kind,
        startMs: round3(span.startMs - origin),
        durationMs: round3(Math.max(0, span.endMs - span.startMs)),
        status: span.status,
        attributes: span.attributes,
      }),
    ),
  };
}
