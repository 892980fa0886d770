import { expect, it } from 'vitest';
import { retriesByReason } from './gateway-metrics.ts';

it('reads why the gateway retried, per upstream, from its Prometheus text', () => {
  const metrics = [
    '# HELP gateway_upstream_retries_total Attempts sent again to another replica, by upstream and reason',
    '# TYPE gateway_upstream_retries_total counter',
    'gateway_upstream_retries_total{upstream="users",reason="503"} 2',
    'gateway_upstream_retries_total{reason="ECONNREFUSED",upstream="users"} 1',
    'gateway_upstream_retries_total{upstream="hello",reason="502"} 0',
    'gateway_upstream_attempts_total{upstream="users"} 40',
    'gateway_upstream_retries_total{upstream="hello"} 7',
    'not a metric line',
  ].join('\n');
  expect(Object.fromEntries(retriesByReason(metrics))).toEqual({ users: { '503': 2, ECONNREFUSED: 1 } });
  expect(retriesByReason('')).toEqual(new Map());
});
