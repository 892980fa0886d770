import type { Figures, LiveSnapshot, ReplicaNode, ServiceNode } from '../src/live-types.ts';
import { svg } from './dom.ts';
import { errorPercentAttribute, faultBadge, formatLatency, formatThroughput, healthLabel, shortId } from './format.ts';

// One coordinate system for both graphs, so the twin's boxes line up under the micro ones.
const WIDTH = 1056;
const MARGIN = 16;
const CLIENT = { x: 16, w: 100, h: 58 };
const GATEWAY = { x: 146, w: 200, h: 124 };
/** Edges bend until here, then run straight into their group under their label. */
const EDGE_BEND_X = 410;
const GROUP = { x: 560, w: 340, header: 62, subtitled: 82, pad: 10, gap: 24 };
const REPLICA = { x: GROUP.x + 10, w: GROUP.w - 20, h: 72, gap: 8 };
const STORE = { x: 930, w: 110, h: 84 };
/** A rough glyph width for the badges' 12px bold text, when it cannot be measured (a hidden graph). */
const CHAR_WIDTH = 7.5;

interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

const middleLeft = (box: Box) => ({ x: box.x, y: box.y + box.h / 2 });
const middleRight = (box: Box) => ({ x: box.x + box.w, y: box.y + box.h / 2 });

export function renderMicroGraph(root: SVGSVGElement, snapshot: LiveSnapshot): void {
  const top = MARGIN + 8;
  const groups: { service: ServiceNode; box: Box }[] = [];
  let y = top;
  for (const service of snapshot.services) {
    const h = groupHeight(service, false);
    groups.push({ service, box: { x: GROUP.x, y, w: GROUP.w, h } });
    y += h + GROUP.gap;
  }
  const contentBottom = Math.max(y - GROUP.gap, top + GATEWAY.h);
  const centre = (top + contentBottom) / 2;
  const client: Box = { ...CLIENT, y: centre - CLIENT.h / 2 };
  const gateway: Box = { ...GATEWAY, y: centre - GATEWAY.h / 2 };

  const layers = {
    edges: svg('g', { class: 'edges' }),
    labels: svg('g', { class: 'edge-labels' }),
    nodes: svg('g', { class: 'nodes' }),
  };
  layers.edges.append(straightEdge(middleRight(client), middleLeft(gateway), 'edge'));
  layers.nodes.append(clientNode(client), gatewayNode(gateway, snapshot.gateway));

  for (const { service, box } of groups) {
    const breaker = service.breaker ?? 'closed';
    const state = `edge breaker-${breaker}`;
    const from = middleRight(gateway);
    const to = middleLeft(box);
    layers.edges.append(bentEdge(from, to, state));
    layers.labels.append(
      edgeLabel(to.y, [
        { text: `breaker ${breaker}`, className: `breaker-label breaker-${breaker}` },
        {
          text: `ejected ${service.ejections} · retried ${service.retries}${retryReasons(service)}`,
          className: 'muted',
        },
      ]),
    );
    layers.nodes.append(serviceGroup(service, box, service.name, null));
    appendStore(layers, service.store, box);
  }

  replaceContent(root, contentBottom + MARGIN, 'micro', layers);
}

/** The monolith twin: the same figures, reached directly (no gateway). */
export function renderTwinGraph(root: SVGSVGElement, monolith: ServiceNode): void {
  const top = MARGIN;
  const box: Box = { x: GROUP.x, y: top, w: GROUP.w, h: groupHeight(monolith, true) };
  const client: Box = { ...CLIENT, y: box.y + box.h / 2 - CLIENT.h / 2 };
  const layers = {
    edges: svg('g', { class: 'edges' }),
    labels: svg('g', { class: 'edge-labels' }),
    nodes: svg('g', { class: 'nodes' }),
  };
  const to = middleLeft(box);
  layers.edges.append(straightEdge(middleRight(client), to, 'edge'));
  const labelX = (CLIENT.x + CLIENT.w + GROUP.x) / 2;
  layers.labels.append(edgeLabel(to.y, [{ text: 'direct: no gateway, no hop', className: 'muted' }], labelX));
  layers.nodes.append(clientNode(client), serviceGroup(monolith, box, 'monolith', 'hello + users in one process'));
  appendStore(layers, monolith.store, box);
  replaceContent(root, box.y + box.h + MARGIN, 'twin', layers);
}

function replaceContent(
  root: SVGSVGElement,
  height: number,
  idPrefix: string,
  layers: { edges: SVGGElement; labels: SVGGElement; nodes: SVGGElement },
): void {
  root.setAttribute('viewBox', `0 0 ${WIDTH} ${Math.ceil(height)}`);
  root.replaceChildren(arrowMarkers(idPrefix), layers.edges, layers.nodes, layers.labels);
  for (const path of layers.edges.querySelectorAll('path')) {
    path.setAttribute('marker-end', `url(#${idPrefix}-${path.dataset.arrow ?? 'arrow'})`);
  }
  layOutPills(root);
}

/** Badges are sized to their text, which can only be measured once it is in the document. */
function layOutPills(root: SVGSVGElement): void {
  for (const row of root.querySelectorAll<SVGGElement>('g.pills')) {
    let x = Number(row.dataset.x);
    for (const pill of row.querySelectorAll('g.pill-group')) {
      const rect = pill.querySelector('rect');
      const label = pill.querySelector('text');
      if (rect === null || label === null) continue;
      const width = (label.getComputedTextLength() || (label.textContent ?? '').length * CHAR_WIDTH) + 16;
      rect.setAttribute('x', String(x));
      rect.setAttribute('width', String(width));
      label.setAttribute('x', String(x + 8));
      x += width + 6;
    }
  }
}

function arrowMarkers(idPrefix: string): SVGDefsElement {
  const marker = (name: string) =>
    svg(
      'marker',
      {
        id: `${idPrefix}-${name}`,
        viewBox: '0 0 10 10',
        refX: 9,
        refY: 5,
        markerWidth: 7,
        markerHeight: 7,
        orient: 'auto-start-reverse',
        class: `marker ${name}`,
      },
      svg('path', { d: 'M0,0 L10,5 L0,10 z' }),
    );
  return svg('defs', {}, marker('arrow'), marker('arrow-open'), marker('arrow-half-open'));
}

function groupHeight(service: ServiceNode, subtitled: boolean): number {
  const header = subtitled ? GROUP.subtitled : GROUP.header;
  const count = service.replicas.length;
  if (count === 0) return header + 30;
  return header + count * (REPLICA.h + REPLICA.gap) - REPLICA.gap + GROUP.pad;
}

function arrowFor(className: string): string {
  if (className.includes('breaker-open')) return 'arrow-open';
  if (className.includes('breaker-half-open')) return 'arrow-half-open';
  return 'arrow';
}

function straightEdge(from: { x: number; y: number }, to: { x: number; y: number }, className: string) {
  const path = svg('path', { d: `M${from.x},${from.y} L${to.x - 2},${to.y}`, class: className });
  path.dataset.arrow = arrowFor(className);
  return path;
}

function bentEdge(from: { x: number; y: number }, to: { x: number; y: number }, className: string) {
  const bend = (from.x + EDGE_BEND_X) / 2;
  const d = `M${from.x},${from.y} C${bend},${from.y} ${bend},${to.y} ${EDGE_BEND_X},${to.y} L${to.x - 2},${to.y}`;
  const path = svg('path', { d, class: className });
  path.dataset.arrow = arrowFor(className);
  return path;
}

function edgeLabel(
  edgeY: number,
  lines: { text: string; className: string }[],
  x = (EDGE_BEND_X + GROUP.x) / 2,
): SVGTextElement {
  const firstY = edgeY - 10 - (lines.length - 1) * 16;
  return svg(
    'text',
    { x, y: firstY, class: 'edge-label', 'text-anchor': 'middle' },
    ...lines.map((line, index) => svg('tspan', { x, y: firstY + index * 16, class: line.className }, line.text)),
  );
}

function box(b: Box, className: string, rx = 10): SVGRectElement {
  return svg('rect', { x: b.x, y: b.y, width: b.w, height: b.h, rx, class: className });
}

function text(x: number, y: number, content: string, className: string, anchor = 'start') {
  return svg('text', { x, y, class: className, 'text-anchor': anchor }, content);
}

/** Characters that fit on a replica's figures line at the normal size; longer lines get a smaller font. */
const FIGURES_LINE_CHARS = 40;

function figureLines(b: Box, y: number, figures: Figures): SVGTextElement[] {
  const throughput = formatThroughput(figures);
  const latency = formatLatency(figures);
  const className = throughput.length + latency.length > FIGURES_LINE_CHARS ? 'figures tight' : 'figures';
  return [text(b.x + 12, y, throughput, className), text(b.x + b.w - 12, y, latency, className, 'end')];
}

function clientNode(b: Box): SVGGElement {
  return svg(
    'g',
    { class: 'node client', 'data-testid': 'client-node' },
    box(b, 'node-box'),
    text(b.x + 12, b.y + 25, 'client', 'node-title'),
    text(b.x + 12, b.y + 44, 'curl, browser', 'muted small'),
  );
}

function gatewayNode(b: Box, gateway: LiveSnapshot['gateway']): SVGGElement {
  const instance = gateway.reachable ? shortId(gateway.instance ?? 'instance unknown') : 'unreachable';
  return svg(
    'g',
    { class: `node gateway health-${gateway.health}`, 'data-testid': 'gateway-node', 'data-health': gateway.health },
    svg('title', {}, `API gateway: ${healthLabel(gateway.health)}`),
    box(b, 'node-box'),
    text(b.x + 12, b.y + 24, 'API gateway', 'node-title'),
    text(b.x + b.w - 12, b.y + 24, healthLabel(gateway.health), 'health-label', 'end'),
    text(b.x + 12, b.y + 44, instance, gateway.reachable ? 'muted mono' : 'warning'),
    text(b.x + 12, b.y + 76, formatThroughput(gateway.figures), 'figures'),
    text(b.x + 12, b.y + 98, formatLatency(gateway.figures), 'figures'),
  );
}

function serviceGroup(service: ServiceNode, b: Box, testName: string, subtitle: string | null): SVGGElement {
  const count = service.replicas.length;
  const group = svg(
    'g',
    {
      class: `node service health-${service.health}`,
      'data-testid': 'service-node',
      'data-service': testName,
      'data-health': service.health,
      'data-error-percent': errorPercentAttribute(service.figures.errorPercent),
      'data-breaker': service.breaker ?? '',
    },
    svg('title', {}, `${service.name}: ${healthLabel(service.health)}`),
    box(b, 'group-box', 14),
    svg(
      'text',
      { x: b.x + 14, y: b.y + 26, class: 'group-title' },
      service.name,
      svg('tspan', { class: 'muted small' }, `  ${count} ${count === 1 ? 'replica' : 'replicas'}`),
    ),
    text(b.x + b.w - 14, b.y + 26, healthLabel(service.health), 'health-label', 'end'),
  );
  let y = b.y + 48;
  if (subtitle !== null) {
    group.append(text(b.x + 14, y, subtitle, 'twin-subtitle'));
    y += 20;
  }
  group.append(...figureLines({ ...b, x: b.x + 2, w: b.w - 4 }, y, service.figures));
  const header = subtitle === null ? GROUP.header : GROUP.subtitled;
  if (count === 0) {
    group.append(text(b.x + 14, b.y + header + 18, 'no replica discovered yet', 'muted small'));
  }
  service.replicas.forEach((replica, index) => {
    const replicaBox = {
      x: REPLICA.x,
      y: b.y + header + index * (REPLICA.h + REPLICA.gap),
      w: REPLICA.w,
      h: REPLICA.h,
    };
    group.append(replicaNode(testName, replica, replicaBox));
  });
  return group;
}

/** " (503: 2, ECONNREFUSED: 1)": why the gateway retried, from its /metrics. */
function retryReasons(service: ServiceNode): string {
  const reasons = Object.entries(service.retriesByReason);
  return reasons.length === 0 ? '' : ` (${reasons.map(([reason, count]) => `${reason}: ${count}`).join(', ')})`;
}

/** How long a replica wears its "restarted" flag: long enough to be noticed in a demo. */
const RESTART_SHOWN_MS = 30_000;

function replicaNode(serviceName: string, replica: ReplicaNode, b: Box): SVGGElement {
  const flags: { text: string; className: string }[] = [];
  if (replica.ejected) flags.push({ text: 'ejected', className: 'flag flag-bad' });
  if (replica.ready === false) flags.push({ text: 'not ready', className: 'flag flag-bad' });
  if (replica.ready === null) flags.push({ text: 'readiness unknown', className: 'flag flag-warn' });
  if (replica.restartedAt !== null && Date.now() - replica.restartedAt < RESTART_SHOWN_MS) {
    flags.push({ text: `↻ restarted (${replica.restarts})`, className: 'flag flag-warn' });
  }
  const badge = faultBadge(replica.faults);
  if (badge !== null) flags.push({ text: badge, className: 'flag flag-fault' });

  const node = svg(
    'g',
    {
      class: `node replica health-${replica.health}${replica.ejected ? ' ejected' : ''}`,
      'data-testid': 'replica-node',
      'data-service': serviceName,
      'data-replica': replica.id,
      'data-health': replica.health,
      'data-error-percent': errorPercentAttribute(replica.figures.errorPercent),
      'data-ejected': String(replica.ejected),
      'data-ready': replica.ready === null ? '' : String(replica.ready),
      'data-restarts': String(replica.restarts),
    },
    svg('title', {}, `${replica.id} (${replica.address}): ${healthLabel(replica.health)}`),
    box(b, 'node-box', 8),
    text(b.x + 12, b.y + 21, shortId(replica.id), 'replica-id mono'),
    text(b.x + b.w - 12, b.y + 21, healthLabel(replica.health), 'health-label', 'end'),
    ...figureLines(b, b.y + 42, replica.figures),
  );
  if (flags.length > 0) {
    node.append(
      svg(
        'g',
        { class: 'pills', 'data-x': b.x + 10 },
        ...flags.map((flag) =>
          svg(
            'g',
            { class: 'pill-group' },
            svg('rect', { x: 0, y: b.y + 50, width: 0, height: 18, rx: 9, class: `${flag.className} pill` }),
            text(0, b.y + 63, flag.text, `${flag.className} pill-text`),
          ),
        ),
      ),
    );
  }
  if (flags.length === 0) {
    node.append(text(b.x + 12, b.y + 63, `${replica.inFlight} in flight`, 'muted small'));
  }
  return node;
}

function appendStore(layers: { edges: SVGGElement; nodes: SVGGElement }, store: string | null, owner: Box): void {
  if (store === null) return;
  const b: Box = { ...STORE, y: owner.y + owner.h / 2 - STORE.h / 2 };
  const ry = 9;
  const d =
    `M${b.x},${b.y + ry} a${b.w / 2},${ry} 0 0 0 ${b.w},0 a${b.w / 2},${ry} 0 0 0 ${-b.w},0 ` +
    `v${b.h - 2 * ry} a${b.w / 2},${ry} 0 0 0 ${b.w},0 v${-(b.h - 2 * ry)}`;
  const lines = wrapWords(store, 14);
  const firstY = b.y + b.h / 2 + 8 - ((lines.length - 1) * 15) / 2;
  layers.edges.append(straightEdge(middleRight(owner), middleLeft(b), 'edge store-edge'));
  layers.nodes.append(
    svg(
      'g',
      { class: 'node store', 'data-testid': 'store-node' },
      svg('path', { d, class: 'store-shape' }),
      ...lines.map((line, index) => text(b.x + b.w / 2, firstY + index * 15, line, 'store-label', 'middle')),
    ),
  );
}

function wrapWords(value: string, width: number): string[] {
  const lines: string[] = [];
  for (const word of value.split(/\s+/)) {
    const last = lines.at(-1);
    if (last !== undefined && last.length + 1 + word.length <= width) lines[lines.length - 1] = `${last} ${word}`;
    else lines.push(word);
  }
  return lines;
}
