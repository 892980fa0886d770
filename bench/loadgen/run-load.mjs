// A closed-loop autocannon run, described by the JSON in argv[2], or an array of them run
// side by side (one autocannon instance each, in this one process); prints one JSON line
// (an array for an array). Latencies are collected from every response (sub-millisecond
// floats) instead of autocannon's integer-millisecond histogram: a network hop costs well
// under 1 ms.
import autocannon from 'autocannon';
import { requestFor } from './requests.mjs';

const input = JSON.parse(process.argv[2] ?? '{}');
const specs = Array.isArray(input) ? input : [input];

function run(spec) {
  let sequence = 0;
  const setupRequest = (request) => {
    sequence += 1;
    return { ...request, ...requestFor(spec, sequence) };
  };
  const latencies = [];
  return new Promise((resolve, reject) => {
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
        if (error) return reject(error);
        latencies.sort((a, b) => a - b);
        const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
        const ok = result['2xx'];
        resolve({
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
        });
      },
    );
    instance.on('response', (_client, _status, _bytes, responseTime) => latencies.push(responseTime));
  });
}

try {
  const results = await Promise.all(specs.map(run));
  process.stdout.write(`${JSON.stringify(Array.isArray(input) ? results : results[0])}\n`);
} catch (error) {
  process.stderr.write(`${error.message}\n`);
  process.exit(1);
}
