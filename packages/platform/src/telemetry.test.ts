import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from './config.js';
import { readTelemetrySettings, untracedPath } from './telemetry.js';

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
