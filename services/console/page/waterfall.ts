import type { TraceView } from '../src/live-types.ts';
import { html, svg } from './dom.ts';
import { buildWaterfall, type WaterfallRow } from './waterfall-model.ts';

const PALETTE_SIZE = 6;
const MAX_INDENT = 10;
/** Spans reach the console in batches after the request ended: a fresh trace may be 404 or partial for a moment. */
const RETRY_DELAYS_MS = [1000, 2000, 3000];
const REFRESH_AFTER_MS = 3000;

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function fetchTrace(traceId: string): Promise<TraceView | { status: number; message: string }> {
  try {
    const response = await fetch(`/api/traces/${encodeURIComponent(traceId)}`, {
      headers: { accept: 'application/json' },
    });
    const body: unknown = await response.json().catch(() => null);
    if (response.ok && isTrace(body)) return body;
    const problem = body as { title?: unknown; detail?: unknown } | null;
    const message = [problem?.title, problem?.detail].filter((part) => typeof part === 'string').join(': ');
    return { status: response.status, message: message || `HTTP ${response.status}` };
  } catch (error) {
    return { status: 0, message: `the console did not answer (${error instanceof Error ? error.message : error})` };
  }
}

function isTrace(body: unknown): body is TraceView {
  return typeof body === 'object' && body !== null && Array.isArray((body as TraceView).spans);
}

export function createWaterfall(container: HTMLElement) {
  let generation = 0;

  const show = (traceId: string, state: string, ...content: Node[]) => {
    container.dataset.traceId = traceId;
    container.dataset.state = state;
    container.replaceChildren(...content);
  };

  async function open(traceId: string): Promise<void> {
    const mine = ++generation;
    show('', 'loading', html('p', { class: 'muted' }, `Loading trace ${traceId}…`));
    let result = await fetchTrace(traceId);
    for (const delay of RETRY_DELAYS_MS) {
      if (isTrace(result) || result.status !== 404) break;
      if (mine !== generation) return;
      show('', 'loading', html('p', { class: 'muted' }, `Waiting for the spans of ${traceId} to reach the console…`));
      await wait(delay);
      result = await fetchTrace(traceId);
    }
    if (mine !== generation) return;
    if (!isTrace(result)) {
      const hint = result.status === 404 ? ' The store keeps only the newest traces.' : '';
      show(traceId, 'error', html('p', { class: 'error-text' }, `No trace ${traceId}: ${result.message}.${hint}`));
      return;
    }
    show(traceId, 'ready', ...renderTrace(result));
    container.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
    await wait(REFRESH_AFTER_MS);
    if (mine !== generation) return;
    const later = await fetchTrace(traceId);
    if (mine === generation && isTrace(later) && later.spans.length !== result.spans.length) {
      show(traceId, 'ready', ...renderTrace(later));
    }
  }

  return { open };
}

function renderTrace(trace: TraceView): Node[] {
  const { rows, totalMs } = buildWaterfall(trace);
  const services = [...new Set(rows.map((row) => row.span.service))];
  const scale = totalMs > 0 ? 1000 / totalMs : 0;
  const hops = rows.filter((row) => row.hopMs !== null);
  const summary = html(
    'p',
    { class: 'waterfall-summary' },
    html('span', { class: 'mono' }, trace.traceId),
    ` · ${rows.length} spans · ${totalMs.toFixed(1)} ms`,
    hops.length > 0 ? ` · network hops ${hops.map((row) => `${row.hopMs?.toFixed(1)} ms`).join(', ')}` : '',
  );
  const axis = html(
    'div',
    { class: 'span-row axis', 'aria-hidden': 'true' },
    html('div', { class: 'span-label muted' }, 'service · span · duration'),
    html(
      'div',
      { class: 'axis-ticks' },
      ...[0, 0.25, 0.5, 0.75].map((fraction) => html('span', {}, `${(totalMs * fraction).toFixed(1)}`)),
      html('span', { class: 'axis-end' }, `${totalMs.toFixed(1)} ms`),
    ),
  );
  return [summary, axis, ...rows.map((row) => spanRow(row, scale, services.indexOf(row.span.service) % PALETTE_SIZE))];
}

function spanRow({ span, depth, hopMs }: WaterfallRow, scale: number, colour: number): HTMLElement {
  const x = span.startMs * scale;
  const width = Math.max(span.durationMs * scale, 2);
  return html(
    'div',
    {
      class: `span-row kind-${span.kind}${span.status === 'error' ? ' span-error' : ''}`,
      'data-testid': 'span-bar',
      'data-span-id': span.spanId,
      'data-parent-span-id': span.parentSpanId ?? '',
      'data-service': span.service,
      'data-kind': span.kind,
      'data-name': span.name,
      'data-start-ms': span.startMs,
      'data-duration-ms': span.durationMs,
      title: `${span.kind} span on ${span.instance ?? span.service}, from ${span.startMs.toFixed(1)} ms`,
    },
    html(
      'div',
      { class: `span-label depth-${Math.min(depth, MAX_INDENT)}` },
      html('span', { class: `service-dot svc-${colour}` }),
      `${span.service} · ${span.name} · ${span.durationMs.toFixed(1)} ms`,
      span.status === 'error' ? html('span', { class: 'error-tag' }, 'error') : null,
      hopMs === null ? null : html('span', { class: 'hop-tag' }, `hop: ${hopMs.toFixed(1)} ms`),
    ),
    svg(
      'svg',
      { class: 'span-track', viewBox: '0 0 1000 20', preserveAspectRatio: 'none', 'aria-hidden': 'true' },
      ...[250, 500, 750].map((tick) => svg('line', { x1: tick, x2: tick, y1: 0, y2: 20, class: 'tick' })),
      svg('rect', { x, y: 3, width, height: 14, rx: 2, class: `bar svc-${colour}` }),
    ),
  );
}
