import { ConfigError } from '@lab/platform/config';
import { describe, expect, it } from 'vitest';
import { loadConsoleConfig } from './config.ts';

describe("the console's configuration", () => {
  it("defaults to the compose network's names and bounds a busy lab needs", () => {
    expect(loadConsoleConfig({})).toMatchObject({
      service: 'console',
      port: 8088,
      gatewayUrl: 'http://gateway:8080',
      monolithUrl: 'http://monolith:8060',
      labFaultsPort: 8099,
      pollIntervalMs: 1000,
      maxTraces: 2000,
      maxTraceBytes: 16 * 1024 * 1024,
      maxBodyBytes: 4 * 1024 * 1024,
      maxIngestBytesPerSecond: 8 * 1024 * 1024,
      maxLiveStreams: 50,
    });
  });

  it('fails with one line naming the variable', () => {
    for (const [variable, value] of [
      ['GATEWAY_URL', 'gateway:8080'],
      ['LAB_FAULTS_PORT', '70000'],
      ['CONSOLE_POLL_INTERVAL_MS', '10'],
      ['CONSOLE_MAX_TRACES', '0'],
      ['CONSOLE_MAX_BODY_BYTES', '4MiB'],
    ] as const) {
      expect(() => loadConsoleConfig({ [variable]: value })).toThrow(ConfigError);
      expect(() => loadConsoleConfig({ [variable]: value })).toThrow(new RegExp(`^${variable} `));
    }
  });
});
