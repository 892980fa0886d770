/** One sample line of Prometheus' text format: name, `{labels}`, value. */
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/**
 * Why the gateway retried, per upstream, from its /metrics
 * (`gateway_upstream_retries_total{upstream, reason}`): the status (502, 503) or the
 * connection error (ECONNREFUSED, ...) that made an attempt go to another replica.
 */
export function retriesByReason(metrics: string): Map<string, Record<string, number>> {
  const byUpstream = new Map<string, Record<string, number>>();
  for (const line of metrics.split('\n')) {
    const sample = SAMPLE.exec(line);
    if (sample?.[1] !== 'gateway_upstream_retries_total') continue;
    const labels = Object.fromEntries([...(sample[2] ?? '').matchAll(LABEL)].map((m) => [m[1], m[2]]));
    const value = Number(sample[3]);
    if (!labels.upstream || !labels.reason || !Number.isFinite(value) || value <= 0) continue;
    const reasons = byUpstream.get(labels.upstream) ?? {};
    reasons[labels.reason] = value;
    byUpstream.set(labels.upstream, reasons);
  }
  return byUpstream;
}
