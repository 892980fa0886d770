import { type Env, parseConfig, readServiceSettings } from '@lab/platform/config';
import pkg from '../package.json' with { type: 'json' };

const MiB = 1024 * 1024;

export function loadConsoleConfig(env: Env) {
  return parseConfig(env, (read) => ({
    ...readServiceSettings(read, { service: 'console', port: 8088, version: pkg.version }),
    gatewayUrl: read.httpUrl('GATEWAY_URL', 'http://gateway:8080'),
    /** The twin runs only with the `monolith` profile; a name that does not resolve means it is not there. */
    monolithUrl: read.httpUrl('MONOLITH_URL', 'http://monolith:8060'),
    /** Where a service started with LAB_FAULTS=on takes fault settings (on every replica's address). */
    labFaultsPort: read.port('LAB_FAULTS_PORT', 8099),
    pollIntervalMs: read.integer('CONSOLE_POLL_INTERVAL_MS', 1000, { min: 100, max: 60_000 }),
    maxTraces: read.integer('CONSOLE_MAX_TRACES', 2000, { min: 1, max: 1_000_000 }),
    maxTraceBytes: read.integer('CONSOLE_MAX_TRACE_BYTES', 16 * MiB, { min: 64 * 1024, max: 4096 * MiB }),
    /** One OTLP request's body, before and after gzip. */
    maxBodyBytes: read.integer('CONSOLE_MAX_BODY_BYTES', 4 * MiB, { min: 1024, max: 256 * MiB }),
    /**
     * What all exporters together may send: past it they get 429 and back off. Eight
     * services exporting a busy minute's spans stay well under 8 MiB/s; a load test's
     * flood does not, and the console would rather shed it than fall behind its page.
     */
    maxIngestBytesPerSecond: read.integer('CONSOLE_MAX_INGEST_BYTES_PER_SECOND', 8 * MiB, {
      min: 1024,
      max: 1024 * MiB,
    }),
    /** Concurrent GET /api/live streams: each is a socket and a snapshot write every interval. */
    maxLiveStreams: read.integer('CONSOLE_MAX_LIVE_STREAMS', 50, { min: 1, max: 10_000 }),
  }));
}

export type ConsoleConfig = ReturnType<typeof loadConsoleConfig>;
