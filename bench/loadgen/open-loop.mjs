// An evenly paced open-loop load, described by the JSON in argv[2]: run-load.mjs's spec
// with `rate` in requests per second and `connections` the pool size, or an array of
// them sent side by side (each its own pool and pace, one loop). Prints one JSON line in
// run-load.mjs's shape (an array for an array), plus how late the sends left (`sendLagP99`).
//
// Request n is due at start + n / rate, whatever happened to the ones before it, as real
// clients arrive. Its latency runs from when it was due, not from when it left: a request
// that waited for a free connection, or for this loop, waited as a user would, and timing
// it from the actual send would hide exactly the stalls being measured (coordinated
// omission; wrk2 corrects it the same way). autocannon's overallRate is no substitute: it
// sends each connection's quota for the second in one burst.
import { Pool } from 'undici';
import { requestFor } from './requests.mjs';

const input = JSON.parse(process.argv[2] ?? '{}');
const specs = Array.isArray(input) ? input : [input];
// Paced but not recorded: this process starts cold, and its JIT should not count as latency.
const WARMUP_MS = 500;
const TIMEOUT_MS = 10_000;

let unsettled = 0;
let finish;
const finished = new Promise((resolve) => {
  finish = resolve;
});

function stream(spec) {
  const pool = new Pool(new URL(spec.baseUrl).origin, {
    connections: spec.connections,
    pipelining: 1,
    headersTimeout: TIMEOUT_MS,
    bodyTimeout: TIMEOUT_MS,
  });
  const intervalMs = 1000 / spec.rate;
  const warmup = Math.ceil(WARMUP_MS / intervalMs);
  const measured = Math.max(1, Math.round(spec.rate * spec.durationS));
  const s = {
    spec,
    pool,
    intervalMs,
    warmup,
    total: warmup + measured,
    next: 0,
    startAt: 0,
    lastEnd: 0,
    latencies: new Float64Array(measured),
    lags: new Float64Array(measured),
    statuses: {},
    counts: { ok: 0, non2xx: 0, errors: 0, timeouts: 0, recorded: 0 },
  };
  unsettled += s.total;
  return s;
}

async function send(s, n, dueAt) {
  const index = n - s.warmup;
  if (index >= 0) s.lags[index] = performance.now() - dueAt;
  try {
    const { statusCode, body } = await s.pool.request(requestFor(s.spec, n));
    await body.dump();
    if (index < 0) return;
    s.lastEnd = performance.now();
    s.latencies[s.counts.recorded++] = s.lastEnd - dueAt;
    s.statuses[statusCode] = (s.statuses[statusCode] ?? 0) + 1;
    if (statusCode >= 200 && statusCode < 300) s.counts.ok++;
    else s.counts.non2xx++;
  } catch (error) {
    if (index < 0) return;
    if (error.code === 'UND_ERR_HEADERS_TIMEOUT' || error.code === 'UND_ERR_BODY_TIMEOUT') {
      // The user waited this long and gave up: that wait is latency too, not a gap in it.
      s.latencies[s.counts.recorded++] = performance.now() - dueAt;
      s.counts.timeouts++;
    } else s.counts.errors++;
  } finally {
    unsettled--;
    if (unsettled === 0) finish();
  }
}

const streams = specs.map(stream);

// Every connection opened before the clock starts, so no request waits for a handshake
// the server would not make a real client wait for. Sequence numbers past the run's own.
await Promise.all(
  streams.flatMap((s) =>
    Array.from({ length: s.spec.connections }, (_, i) =>
      s.pool.request(requestFor(s.spec, s.total + i)).then(({ body }) => body.dump()),
    ),
  ),
);

// One loop, not one timer per request: at thousands a second timers would drift and
// bunch. Each turn sends every request that is due, so a slow turn catches up at once.
// It spins (setImmediate, which lets responses be read between turns) only when the next
// send is less than 2 ms away, and sleeps otherwise, so a slow pace leaves the core idle.
const startAt = performance.now();
for (const s of streams) s.startAt = startAt;
function pace() {
  const now = performance.now();
  let nextDue = Number.POSITIVE_INFINITY;
  for (const s of streams) {
    for (; s.next < s.total && s.startAt + s.next * s.intervalMs <= now; s.next++) {
      send(s, s.next, s.startAt + s.next * s.intervalMs);
    }
    if (s.next < s.total) nextDue = Math.min(nextDue, s.startAt + s.next * s.intervalMs);
  }
  if (nextDue === Number.POSITIVE_INFINITY) return;
  const wait = nextDue - performance.now();
  if (wait > 2) setTimeout(pace, wait - 1);
  else setImmediate(pace);
}
pace();
await finished;
await Promise.all(streams.map((s) => s.pool.close()));

const percentile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
const results = streams.map((s) => {
  const sorted = s.latencies.subarray(0, s.counts.recorded).sort();
  const durationS = (s.lastEnd - (s.startAt + s.warmup * s.intervalMs)) / 1000;
  return {
    ok: s.counts.ok,
    non2xx: s.counts.non2xx,
    errors: s.counts.errors,
    timeouts: s.counts.timeouts,
    durationS,
    rps: durationS > 0 ? s.counts.ok / durationS : 0,
    p50: percentile(sorted, 0.5),
    p90: percentile(sorted, 0.9),
    p99: percentile(sorted, 0.99),
    max: sorted.at(-1) ?? 0,
    sendLagP99: percentile(s.lags.sort(), 0.99),
    statuses: s.statuses,
  };
});
process.stdout.write(`${JSON.stringify(Array.isArray(input) ? results : results[0])}\n`);
