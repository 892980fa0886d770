// One autocannon run, described by the JSON in argv[2]; prints one JSON line.
// Latencies are collected from every response (sub-millisecond floats) instead of
// autocannon's integer-millisecond histogram: a network hop costs well under 1 ms.
import autocannon from 'autocannon';
import { requestFor } from './requests.mjs';

const spec = JSON.parse(process.argv[2] ?? '{}');
let sequence = 0;

function setupRequest(request) {
  sequence += 1;
  return { ...request, ...requestFor(spec, sequence) };
}

const latencies = [];
const instance = autocannon(
  {
    url: spec.baseUrl,
    connections: spec.connections,
    duration: spec.durationS,
    ...(spec.rate ? { overallRate: spec.rate } : {}),
    requests: [
      {
        method: spec.method,
        path: spec.path,
        headers: spec.createUsers ? { 'content-type': 'application/json' } : {},
        setupRequest,
      },
    ],
  },
  (error, result) => {
    if (error) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    latencies.sort((a, b) => a - b);
    const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
    const ok = result['2xx'];
    process.stdout.write(
      `${JSON.stringify({
        ok,
        non2xx: result.non2xx,
        errors: result.errors,
        timeouts: result.timeouts,
        durationS: result.duration,
        rps: ok / result.duration,
        p50: at(0.5),
        p90: at(0.9),
        p99: at(0.99),
        max: latencies.at(-1) ?? 0,
        statuses: Object.fromEntries(Object.entries(result.statusCodeStats).map(([code, s]) => [code, s.count])),
      })}\n`,
    );
  },
);
instance.on('response', (_client, _status, _bytes, responseTime) => latencies.push(responseTime));
