// The page without the stack: serves dist/public (run build-page.mjs first) with the console's CSP,
// and a made-up system behind /api/live, /api/traces/:id and /api/faults/*, so the page can be
// looked at and clicked through. Usage: node page/dev-server.mjs [port] (0 picks a free one);
// LAB_DEV_TWIN=off hides the monolith twin, LAB_DEV_FAULTS=off reports faults as unavailable;
// POST /dev/scale/<service>/<count> plays `docker compose up --scale`.
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { extname, join } from 'node:path';

const PUBLIC = join(import.meta.dirname, '..', 'dist', 'public');
const CSP = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'";
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.map': 'application/json' };
const twin = process.env.LAB_DEV_TWIN !== 'off';
const faultsAvailable = process.env.LAB_DEV_FAULTS !== 'off';

const hex = (bytes) => randomBytes(bytes).toString('hex');
const replica = (index) => ({ id: hex(32), address: `10.0.3.${index}:3000`, faults: null, downUntil: 0 });
const state = {
  hello: [replica(2), replica(3)],
  users: [replica(4), replica(5), replica(6)],
  monolith: [{ ...replica(9), id: hex(6) }],
  recent: [],
  traces: new Map(),
};

const jitter = (base, spread) => base + Math.random() * spread;

function figuresOf(node) {
  if (node.downUntil > Date.now()) return { requestsPerSecond: 0, errorPercent: null, p50Ms: null, p99Ms: null };
  const faults = node.faults ?? { latencyMs: 0, errorRate: 0, hang: false };
  if (faults.hang) return { requestsPerSecond: 0.3, errorPercent: 100, p50Ms: null, p99Ms: null };
  return {
    requestsPerSecond: jitter(12, 4),
    errorPercent: faults.errorRate > 0 ? faults.errorRate * 100 : jitter(0, 1.5),
    p50Ms: faults.latencyMs + jitter(2, 1.5),
    p99Ms: faults.latencyMs + jitter(9, 8),
  };
}

function healthOf(figures, down) {
  if (down) return 'red';
  if (figures.errorPercent === null) return 'grey';
  if (figures.errorPercent >= 50) return 'red';
  return figures.errorPercent >= 5 ? 'amber' : 'green';
}

const worst = (colours) => ['red', 'amber', 'green', 'grey'].find((colour) => colours.includes(colour)) ?? 'grey';

function sum(figures) {
  const rps = figures.reduce((total, f) => total + f.requestsPerSecond, 0);
  const seen = figures.filter((f) => f.errorPercent !== null);
  const max = (key) => (seen.length === 0 ? null : Math.max(...seen.map((f) => f[key] ?? 0)));
  return {
    requestsPerSecond: rps,
    errorPercent: seen.length === 0 ? null : seen.reduce((t, f) => t + f.errorPercent, 0) / seen.length,
    p50Ms: max('p50Ms'),
    p99Ms: max('p99Ms'),
  };
}

function serviceNode(name, nodes, store, withBreaker) {
  const replicas = nodes.map((node) => {
    const down = node.downUntil > Date.now();
    const figures = figuresOf(node);
    return {
      id: node.id,
      address: node.address,
      ready: !down,
      ejected: down,
      inFlight: Math.floor(Math.random() * 3),
      health: healthOf(figures, down),
      figures,
      faultsAvailable,
      faults: node.faults,
    };
  });
  const failing = replicas.length > 0 && replicas.every((r) => r.health === 'red');
  const breaker = !withBreaker
    ? null
    : failing
      ? 'open'
      : replicas.some((r) => r.health === 'red')
        ? 'half-open'
        : 'closed';
  return {
    name,
    health: breaker === 'open' ? 'red' : worst(replicas.map((r) => r.health)),
    breaker,
    ejections: replicas.filter((r) => r.ejected).length,
    retries: Math.floor(Math.random() * 3),
    figures: sum(replicas.map((r) => r.figures)),
    replicas,
    store,
  };
}

function addRequest() {
  const service = Math.random() < 0.5 ? 'hello' : 'users';
  const live = state[service].filter((node) => node.downUntil <= Date.now());
  const target = live[Math.floor(Math.random() * live.length)];
  const attempts = Math.random() < 0.15 ? 2 : 1;
  const traceId = hex(16);
  const serverMs = (target?.faults?.latencyMs ?? 0) + jitter(1.5, 3);
  const hopMs = jitter(0.6, 0.8);
  const failed = target === undefined || Math.random() < (target.faults?.errorRate ?? 0);
  const root = hex(8);
  const spans = [];
  let at = 0.3;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const client = hex(8);
    const last = attempt === attempts;
    const duration = last ? serverMs + hopMs : jitter(1, 1);
    spans.push({
      spanId: client,
      parentSpanId: root,
      name: `GET ${service}`,
      service: 'gateway',
      instance: 'gw-1',
      kind: 'client',
      startMs: at,
      durationMs: duration,
      status: last ? 'unset' : 'error',
      attributes: { 'http.request.resend_count': attempt - 1 },
    });
    if (last && target !== undefined) {
      const server = hex(8);
      spans.push({
        spanId: server,
        parentSpanId: client,
        name: `GET /${service === 'users' ? 'users/:id' : ''}`,
        service,
        instance: target.id.slice(0, 12),
        kind: 'server',
        startMs: at + hopMs / 2,
        durationMs: serverMs,
        status: failed ? 'error' : 'unset',
        attributes: {},
      });
      if (service === 'users') {
        spans.push({
          spanId: hex(8),
          parentSpanId: server,
          name: 'users.findById',
          service,
          instance: target.id.slice(0, 12),
          kind: 'internal',
          startMs: at + hopMs / 2 + 0.2,
          durationMs: serverMs * 0.6,
          status: 'unset',
          attributes: {},
        });
      }
    }
    at += duration + 0.1;
  }
  const totalMs = at + 0.2;
  spans.unshift({
    spanId: root,
    parentSpanId: null,
    name: `GET /api/${service}`,
    service: 'gateway',
    instance: 'gw-1',
    kind: 'server',
    startMs: 0,
    durationMs: totalMs,
    status: failed ? 'error' : 'unset',
    attributes: {},
  });
  state.traces.set(traceId, { traceId, spans });
  state.recent.unshift({
    traceId,
    requestId: hex(4),
    at: Date.now(),
    method: 'GET',
    path: service === 'users' ? `/api/users/${Math.ceil(Math.random() * 40)}` : '/api/hello',
    status: target === undefined ? null : failed ? (target.faults?.errorStatus ?? 503) : 200,
    durationMs: totalMs,
    service,
    replica: target?.id.slice(0, 12) ?? null,
    attempts,
  });
  state.recent.length = Math.min(state.recent.length, 25);
}

function snapshot() {
  for (let i = 0; i < 2; i++) addRequest();
  const services = [
    serviceNode('hello', state.hello, null, true),
    serviceNode('users', state.users, 'users-data volume', true),
  ];
  const gatewayFigures = sum(services.map((s) => s.figures));
  return {
    at: Date.now(),
    gateway: { reachable: true, instance: 'gw-1', health: 'green', figures: gatewayFigures },
    services,
    monolith: twin ? serviceNode('monolith', state.monolith, 'monolith-data volume', false) : null,
    recent: state.recent,
    traces: { count: state.traces.size, bytes: state.traces.size * 1800, maxTraces: 2000, maxBytes: 16 * 1024 * 1024 },
    scaleCommand: `docker compose up -d --scale users=${state.users.length}`,
  };
}

function faultTargets(service, replicaId) {
  const nodes = state[service];
  if (!Array.isArray(nodes)) return null;
  return replicaId === undefined ? nodes : nodes.filter((node) => node.id === replicaId);
}

async function readJson(request) {
  const chunks = [];
  for await (const chunk of request) chunks.push(chunk);
  return chunks.length === 0 ? {} : JSON.parse(Buffer.concat(chunks).toString());
}

function send(response, status, body, type = 'application/json') {
  response.writeHead(status, { 'content-type': type, 'content-security-policy': CSP });
  response.end(typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body));
}

const server = createServer(async (request, response) => {
  const url = new URL(request.url ?? '/', 'http://localhost');
  if (url.pathname === '/api/live') {
    response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    const push = () => response.write(`event: snapshot\ndata: ${JSON.stringify(snapshot())}\n\n`);
    push();
    const timer = setInterval(push, 1000);
    request.on('close', () => clearInterval(timer));
    return;
  }
  const scale = url.pathname.match(/^\/dev\/scale\/(hello|users)\/(\d+)$/);
  if (scale && request.method === 'POST') {
    const nodes = state[scale[1]];
    const count = Number(scale[2]);
    while (nodes.length < count) nodes.push(replica(nodes.length + 20));
    nodes.length = count;
    send(response, 200, { replicas: count });
    return;
  }
  const trace = url.pathname.match(/^\/api\/traces\/([^/]+)$/);
  if (trace) {
    const found = state.traces.get(decodeURIComponent(trace[1]));
    if (found) send(response, 200, found);
    else send(response, 404, { title: 'Not Found', detail: 'no such trace', status: 404 }, 'application/problem+json');
    return;
  }
  const fault = url.pathname.match(/^\/api\/faults\/([^/]+)(?:\/([^/]+))?$/);
  if (fault && (request.method === 'PUT' || request.method === 'DELETE')) {
    const targets = faultTargets(decodeURIComponent(fault[1]), fault[2] && decodeURIComponent(fault[2]));
    if (targets === null || targets.length === 0) {
      send(response, 404, { title: 'Not Found', detail: 'no such target', status: 404 }, 'application/problem+json');
      return;
    }
    if (!faultsAvailable) {
      const detail = 'the target was not started with LAB_FAULTS=on';
      send(response, 409, { title: 'Faults unavailable', detail, status: 409 }, 'application/problem+json');
      return;
    }
    const body = request.method === 'PUT' ? await readJson(request) : {};
    for (const node of targets) {
      if (body.crash) node.downUntil = Date.now() + 8000;
      else if (request.method === 'DELETE') node.faults = null;
      else {
        node.faults = {
          latencyMs: body.latencyMs ?? 0,
          errorRate: body.errorRate ?? 0,
          errorStatus: body.errorStatus ?? 503,
          hang: body.hang ?? false,
        };
      }
    }
    send(response, 200, { results: targets.map((node) => ({ replica: node.id, ok: true, status: 200 })) });
    return;
  }
  const file = url.pathname === '/' ? 'index.html' : url.pathname.replace(/^\/assets\//, '');
  if (file.includes('..') || file.includes('/')) {
    send(response, 404, 'not found', 'text/plain');
    return;
  }
  try {
    send(response, 200, await readFile(join(PUBLIC, file)), TYPES[extname(file)] ?? 'application/octet-stream');
  } catch {
    send(response, 404, 'not found', 'text/plain');
  }
});

server.listen(Number(process.argv[2] ?? 4173), '127.0.0.1', () => {
  process.stdout.write(`page dev server on http://127.0.0.1:${server.address().port}/\n`);
});
