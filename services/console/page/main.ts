import type { LiveSnapshot } from '../src/live-types.ts';
import { byId, byTestId } from './dom.ts';
import { createFaultPanel } from './fault-panel.ts';
import { formatBytes, formatClock } from './format.ts';
import { renderMicroGraph, renderTwinGraph } from './graph.ts';
import { createRecentTable } from './recent-table.ts';
import { createScalePanel } from './scale-panel.ts';
import { createWaterfall } from './waterfall.ts';

/** Snapshots come every second: three missed ones mean the console (or the network) is stuck. */
const STALE_AFTER_MS = 3500;
/** EventSource gives up for good on a non-200 answer; try again after this. */
const REOPEN_AFTER_MS = 3000;

const liveStatus = byTestId('live-status', HTMLElement);
const traceUsage = byId('trace-usage', HTMLElement);
const traceMeter = byId('trace-meter', HTMLMeterElement);
const microGraph = byId('micro-graph', SVGSVGElement);
const twinSection = byId('twin', HTMLElement);
const twinGraph = byId('twin-graph', SVGSVGElement);
const pauseRecent = byId('pause-recent', HTMLInputElement);

const waterfall = createWaterfall(byTestId('waterfall', HTMLElement));
const recentTable = createRecentTable(byId('recent-body', HTMLTableSectionElement), (request) => {
  void waterfall.open(request.traceId);
});
const faultPanel = createFaultPanel();
const scalePanel = createScalePanel();

let connected = false;
let lastSnapshot: LiveSnapshot | null = null;
let lastSnapshotAt = 0;

function showStatus(): void {
  const stale = connected && Date.now() - lastSnapshotAt > STALE_AFTER_MS;
  liveStatus.dataset.connected = String(connected);
  liveStatus.dataset.state = !connected ? 'disconnected' : stale ? 'stale' : 'live';
  const since = lastSnapshot === null ? '' : ` · last update ${formatClock(lastSnapshot.at).slice(0, 8)}`;
  if (!connected) liveStatus.textContent = `reconnecting…${since}`;
  else if (stale) liveStatus.textContent = `connected, no update${since}`;
  else liveStatus.textContent = `live${since}`;
}

function render(snapshot: LiveSnapshot): void {
  lastSnapshot = snapshot;
  lastSnapshotAt = Date.now();
  const { traces } = snapshot;
  traceUsage.textContent = `${traces.count} / ${traces.maxTraces} traces · ${formatBytes(traces.bytes)} of ${formatBytes(traces.maxBytes)}`;
  traceMeter.max = Math.max(traces.maxTraces, 1);
  traceMeter.value = traces.count;
  renderMicroGraph(microGraph, snapshot);
  twinSection.hidden = snapshot.monolith === null;
  if (snapshot.monolith !== null) renderTwinGraph(twinGraph, snapshot.monolith);
  if (!pauseRecent.checked) recentTable.update(snapshot.recent);
  faultPanel.update(snapshot);
  scalePanel.update(snapshot);
  showStatus();
}

function parseSnapshot(data: string): LiveSnapshot | null {
  try {
    const value: unknown = JSON.parse(data);
    return typeof value === 'object' && value !== null && Array.isArray((value as LiveSnapshot).services)
      ? (value as LiveSnapshot)
      : null;
  } catch {
    return null;
  }
}

function connect(): void {
  const source = new EventSource('/api/live');
  source.addEventListener('open', () => {
    connected = true;
    showStatus();
  });
  source.addEventListener('snapshot', (event) => {
    const snapshot = parseSnapshot((event as MessageEvent<string>).data);
    if (snapshot === null) return;
    connected = true;
    render(snapshot);
  });
  source.addEventListener('error', () => {
    connected = false;
    showStatus();
    if (source.readyState === EventSource.CLOSED) {
      source.close();
      setTimeout(connect, REOPEN_AFTER_MS);
    }
  });
}

function wireWhatToTry(): void {
  const firstUsersReplica = () =>
    lastSnapshot?.services.find((service) => service.name === 'users')?.replicas[0]?.id ?? null;
  const steps: Record<string, () => void> = {
    kill: () => {
      const replica = firstUsersReplica();
      faultPanel.prepare(replica === null ? 'users' : `users/${replica}`, {}, 'crash');
    },
    slow: () =>
      faultPanel.prepare('users', { latencyMs: '300', errorPercent: '0', errorStatus: '503', hang: false }, 'apply'),
    errors: () =>
      faultPanel.prepare('users', { latencyMs: '0', errorPercent: '100', errorStatus: '503', hang: false }, 'apply'),
    scale: () => scalePanel.prepare(3),
  };
  byId('what-to-try', HTMLElement).addEventListener('click', (event) => {
    const button = event.target instanceof Element ? event.target.closest('button[data-step]') : null;
    if (button instanceof HTMLButtonElement) steps[button.dataset.step ?? '']?.();
  });
}

wireWhatToTry();
showStatus();
setInterval(showStatus, 1000);
connect();
