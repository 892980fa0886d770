// An evenly paced open-loop load, described by the JSON in argv[2] (run-load.mjs's spec,
// with `rate` in requests per second and `connections` the pool size); prints one JSON
// line in run-load.mjs's shape, plus how late the sends left (`sendLagP99`).
//
// Request n is due at start + n / rate, whatever happened to the ones before it, as real
// clients arrive. Its latency runs from when it was due, not from when it left: a request
// that waited for a free connection, or for this loop, waited as a user would, and timing
// it from the actual send would hide exactly the stalls being measured (coordinated
// omission; wrk2 corrects it the same way). autocannon's overallRate is no substitute: it
// sends each connection's quota for the second in one burst.
import { Pool } from 'undici';
import { requestFor } from './requests.mjs';

const spec = JSON.parse(process.argv[2] ?? '{}');
// Paced but not recorded: this process starts cold, and its JIT should not count as latency.
const WARMUP_MS = 500;
const TIMEOUT_MS = 10_000;

const pool = new Pool(new URL(spec.baseUrl).origin, {
  connections: spec.connections,
  pipelining: 1,
  headersTimeout: TIMEOUT_MS,
  bodyTimeout: TIMEOUT_MS,
});
const intervalMs = 1000 / spec.rate;
const warmup = Math.ceil(WARMUP_MS / intervalMs);
const measured = Math.max(1, Math.round(spec.rate * spec.durationS));
const total = warmup + measured;
const latencies = new Float64Array(measured);
const lags = new Float64Array(measured);
const statuses = {};
const counts = { ok: 0, non2xx: 0, errors: 0, timeouts: 0, recorded: 0, settled: 0 };
let lastEnd = 0;
let finish;
const finished = new Promise((resolve) => {
  finish = resolve;
});

async function send(n, dueAt) {
  const index = n - warmup;
  if (index >= 0) lags[index] = performance.now() - dueAt;
  try {
    const { statusCode, body } = await pool.request(requestFor(spec, n));
    await body.dump();
    if (index < 0) return;
    lastEnd = performance.now();
    latencies[counts.recorded++] = lastEnd - dueAt;
    statuses[statusCode] = (statuses[statusCode] ?? 0) + 1;
    if (statusCode >= 200 && statusCode < 300) counts.ok++;
    else counts.non2xx++;
  } catch (error) {
    if (index < 0) return;
    if (error.code === 'UND_ERR_HEADERS_TIMEOUT' || error.code === 'UND_ERR_BODY_TIMEOUT') counts.timeouts++;
    else counts.errors++;
  } finally {
    counts.settled++;
    if (counts.settled === total) finish();
  }
}

// Every connection opened before the clock starts, so no request waits for a handshake
// the server would not make a real client wait for. Sequence numbers past the run's own.
await Promise.all(
  Array.from({ length: spec.connections }, (_, i) =>
    pool.request(requestFor(spec, total + i)).then(({ body }) => body.dump()),
  ),
);

// One loop, not one timer per request: at thousands a second timers would drift and
// bunch. Each turn sends every request that is due, so a slow turn catches up at once;
// setImmediate lets responses be read between turns.
const startAt = performance.now();
let next = 0;
function pace() {
  const now = performance.now();
  for (; next < total && startAt + next * intervalMs <= now; next++) send(next, startAt + next * intervalMs);
  if (next < total) setImmediate(pace);
}
pace();
await finished;
await pool.close();

const percentile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
const sorted = latencies.subarray(0, counts.recorded).sort();
const sortedLags = lags.sort();
const durationS = (lastEnd - (startAt + warmup * intervalMs)) / 1000;
process.stdout.write(
  `${JSON.stringify({
    ok: counts.ok,
    non2xx: counts.non2xx,
    errors: counts.errors,
    timeouts: counts.timeouts,
    durationS,
    rps: durationS > 0 ? counts.ok / durationS : 0,
    p50: percentile(sorted, 0.5),
    p90: percentile(sorted, 0.9),
    p99: percentile(sorted, 0.99),
    max: sorted.at(-1) ?? 0,
    sendLagP99: percentile(sortedLags, 0.99),
    statuses,
  })}\n`,
);
