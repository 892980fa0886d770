import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from './config.js';
import { headSampler, readTelemetrySettings, unsampledTraceparent, untracedPath } from './telemetry.js';

const read = (env: Record<string, string>) => parseConfig(env, (reader) => readTelemetrySettings(reader, 'users'));

describe('tracing settings come from the standard OTEL_* variables', () => {
  it('is off until an OTLP endpoint is set, then exports to <endpoint>/v1/traces as the service', () => {
    expect(read({}).enabled).toBe(false);
    const on = read({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://console:8088/' });
    expect(on).toMatchObject({ enabled: true, url: 'http://console:8088/v1/traces', serviceName: 'users' });
    expect(on).toMatchObject({ sampler: 'parentbased_always_on', samplerArg: 1 });
  });

  it('takes the traces endpoint as it is, OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES', () => {
    const settings = read({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://ignored:4318',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://jaeger:4318/v1/traces',
      OTEL_SERVICE_NAME: 'users-eu',
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=workshop,team=a%2Cb',
    });
    expect(settings.url).toBe('http://jaeger:4318/v1/traces');
    expect(settings.serviceName).toBe('users-eu');
    expect(settings.resourceAttributes).toEqual({ 'deployment.environment.name': 'workshop', team: 'a,b' });
  });

  it('OTEL_SDK_DISABLED=true turns it off whatever else is set', () => {
    expect(read({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://console:8088', OTEL_SDK_DISABLED: 'true' }).enabled).toBe(false);
  });

  it('reads the sampler and its ratio', () => {
    expect(read({ OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1' })).toMatchObject({
      sampler: 'parentbased_traceidratio',
      samplerArg: 0.1,
    });
  });

  it.each([
    ['OTEL_TRACES_SAMPLER', 'sometimes'],
    ['OTEL_TRACES_SAMPLER_ARG', '1.5'],
    ['OTEL_TRACES_SAMPLER_ARG', 'half'],
    ['OTEL_EXPORTER_OTLP_ENDPOINT', 'console:8088'],
    ['OTEL_EXPORTER_OTLP_PROTOCOL', 'grpc'],
    ['OTEL_RESOURCE_ATTRIBUTES', 'no-equals-sign'],
    ['OTEL_SDK_DISABLED', 'maybe'],
  ])('a bad %s (%s) is a config error naming it', (variable, value) => {
    expect(() => read({ [variable]: value })).toThrow(ConfigError);
    expect(() => read({ [variable]: value })).toThrow(new RegExp(`^${variable} `));
  });

  it('leaves probes and scrapes untraced, and nothing else', () => {
    expect(['/health/ready', '/health/live', '/health/stats', '/metrics', '/metrics?x=1'].map(untracedPath)).toEqual([
      true,
      true,
      true,
      true,
      true,
    ]);
    expect(['/api/users', '/', '/healthy', '/metricsx', undefined].map(untracedPath)).toEqual([
      false,
      false,
      false,
      false,
      false,
    ]);
  });
});

describe('the head sampler: one decision per incoming request, before any instrumentation work', () => {
  const sampledParent = { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' };
  const droppedParent = { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00' };
  const share = (decide: (r: { headers: Record<string, string> }) => boolean, headers: Record<string, string> = {}) => {
    let kept = 0;
    for (let i = 0; i < 4000; i++) if (decide({ headers })) kept += 1;
    return kept / 4000;
  };

  it('keeps the ratio of root requests, and follows a valid parent either way', () => {
    const decide = headSampler({ sampler: 'parentbased_traceidratio', samplerArg: 0.25 });
    expect(share(decide)).toBeGreaterThan(0.2);
    expect(share(decide)).toBeLessThan(0.3);
    expect(share(decide, sampledParent)).toBe(1);
    expect(share(decide, droppedParent)).toBe(0);
    // A malformed traceparent is no parent: the root rule applies.
    expect(share(decide, { traceparent: 'garbage' })).toBeLessThan(0.3);
  });

  it('always_on, always_off and a ratio of 0 or 1 mean what they say; a non-parent-based sampler ignores the parent', () => {
    expect(share(headSampler({ sampler: 'parentbased_always_on', samplerArg: 1 }))).toBe(1);
    expect(share(headSampler({ sampler: 'parentbased_always_off', samplerArg: 1 }), sampledParent)).toBe(1);
    expect(share(headSampler({ sampler: 'parentbased_always_off', samplerArg: 1 }))).toBe(0);
    expect(share(headSampler({ sampler: 'traceidratio', samplerArg: 0 }), sampledParent)).toBe(0);
    expect(share(headSampler({ sampler: 'always_on', samplerArg: 0 }), droppedParent)).toBe(1);
  });

  it("#21 finding 6: at the edge, a client's sampled flag does not raise the rate (nor its not-sampled flag lower it)", () => {
    const atEdge = headSampler({ sampler: 'parentbased_traceidratio', samplerArg: 0.01 }, { edge: true });
    expect(share(atEdge, sampledParent)).toBeLessThan(0.03);
    const none = headSampler({ sampler: 'parentbased_traceidratio', samplerArg: 0 }, { edge: true });
    expect(share(none, sampledParent)).toBe(0);
    const all = headSampler({ sampler: 'parentbased_traceidratio', samplerArg: 1 }, { edge: true });
    expect(share(all, droppedParent)).toBe(1);
  });

  it('makes a valid not-sampled traceparent for a hop it does not trace', () => {
    const traceparent = unsampledTraceparent();
    expect(traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
    expect(unsampledTraceparent()).not.toBe(traceparent);
  });
});
