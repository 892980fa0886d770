import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Faults } from '@lab/platform/faults';
import { Health } from '@lab/platform/health';
import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.ts';
import { loadMonolithConfig } from './config.ts';

export const TEST_INSTANCE = 'monolith-test-1';

export interface RunningMonolith {
  app: FastifyInstance;
  health: Health;
  baseUrl: string;
  port: number;
  dataDir: string;
  /** Closes the monolith; with `keepData` the database file stays for a restart on the same DATA_DIR. */
  stop(options?: { keepData?: boolean }): Promise<void>;
}

/** A real monolith on a free loopback port, with its own throwaway DATA_DIR unless given one, and lab faults if given. */
export async function startMonolith(
  dataDir = mkdtempSync(join(tmpdir(), 'monolith-test-')),
  { faults }: { faults?: Faults } = {},
): Promise<RunningMonolith> {
  const config = loadMonolithConfig({
    DATA_DIR: dataDir,
    LOG_LEVEL: 'silent',
    INSTANCE_NAME: TEST_INSTANCE,
    SERVICE_VERSION: '9.9.9',
  });
  const health = new Health(config.service, config.instance);
  const app = buildApp(config, { health, faults });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  return {
    app,
    health,
    port,
    baseUrl: `http://127.0.0.1:${port}`,
    dataDir,
    async stop({ keepData = false } = {}) {
      await app.close();
      if (!keepData) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
