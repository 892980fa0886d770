import type { RecentRequest } from '../src/live-types.ts';
import { html } from './dom.ts';
import { formatClock, shortId } from './format.ts';

const keyOf = (request: RecentRequest) => `${request.traceId}|${request.requestId ?? ''}|${request.at}`;

function statusClass(status: number | null): string {
  if (status === null || status >= 500) return 'status status-5xx';
  if (status >= 400) return 'status status-4xx';
  return 'status';
}

function requestRow(request: RecentRequest): HTMLTableRowElement {
  const retried = request.attempts > 1;
  return html(
    'tr',
    {
      class: retried ? 'request retried' : 'request',
      tabindex: 0,
      'data-testid': 'recent-request',
      'data-trace-id': request.traceId,
      'data-request-id': request.requestId ?? '',
      'data-method': request.method,
      'data-path': request.path,
      'data-status': request.status ?? '',
      'data-replica': request.replica ?? '',
      'data-attempts': request.attempts,
      'data-at': request.at,
      'data-service': request.service,
      title: 'Show this request’s trace',
    },
    html('td', { class: 'mono' }, formatClock(request.at)),
    html('td', {}, request.method),
    html('td', { class: 'path mono' }, request.path),
    html('td', { class: statusClass(request.status) }, request.status === null ? 'no answer' : String(request.status)),
    html('td', { class: 'number' }, request.durationMs.toFixed(1)),
    html('td', {}, request.service),
    html('td', { class: 'mono' }, request.replica === null ? '–' : shortId(request.replica)),
    html(
      'td',
      { class: 'number' },
      retried ? html('span', { class: 'retried-tag' }, `${request.attempts} · retried`) : String(request.attempts),
    ),
  );
}

/**
 * Rows are keyed and kept across snapshots, so a row under the pointer is not replaced between
 * mousedown and mouseup (the click would be lost) and the selected one stays highlighted.
 */
export function createRecentTable(body: HTMLTableSectionElement, onSelect: (request: RecentRequest) => void) {
  const rows = new Map<string, { row: HTMLTableRowElement; request: RecentRequest }>();
  const requestOf = new WeakMap<Element, RecentRequest>();
  let selectedTraceId: string | null = null;
  const empty = html(
    'tr',
    { class: 'empty' },
    html('td', { colspan: 8 }, 'No request yet: send one through the gateway, e.g. curl localhost:8080/api/hello'),
  );

  const select = (row: Element | null) => {
    const request = row === null ? undefined : requestOf.get(row);
    if (request === undefined) return;
    selectedTraceId = request.traceId;
    markSelected();
    onSelect(request);
  };
  const markSelected = () => {
    for (const { row, request } of rows.values()) {
      const selected = request.traceId === selectedTraceId;
      row.classList.toggle('selected', selected);
      row.setAttribute('aria-selected', String(selected));
    }
  };

  body.addEventListener('click', (event) => {
    if (event.target instanceof Element) select(event.target.closest('tr[data-testid="recent-request"]'));
  });
  body.addEventListener('keydown', (event) => {
    if ((event.key === 'Enter' || event.key === ' ') && event.target instanceof HTMLTableRowElement) {
      event.preventDefault();
      select(event.target);
    }
  });

  return {
    update(recent: RecentRequest[]): void {
      const wanted: HTMLTableRowElement[] = [];
      const seen = new Set<string>();
      for (const request of recent) {
        const key = keyOf(request);
        if (seen.has(key)) continue;
        seen.add(key);
        let entry = rows.get(key);
        if (entry === undefined || JSON.stringify(entry.request) !== JSON.stringify(request)) {
          const row = requestRow(request);
          requestOf.set(row, request);
          entry?.row.replaceWith(row);
          entry = { row, request };
          rows.set(key, entry);
        }
        wanted.push(entry.row);
      }
      for (const [key, { row }] of rows) {
        if (!seen.has(key)) {
          row.remove();
          rows.delete(key);
        }
      }
      if (wanted.length === 0) {
        body.replaceChildren(empty);
        return;
      }
      empty.remove();
      // Move only rows that are out of place: re-inserting every row would disturb focus and hover.
      wanted.forEach((row, index) => {
        if (body.children[index] !== row) body.insertBefore(row, body.children[index] ?? null);
      });
      markSelected();
    },
  };
}
