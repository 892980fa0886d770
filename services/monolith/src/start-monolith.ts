import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildMonolith, type Monolith } from './app.ts';
import { loadMonolithConfig } from './config.ts';

export const TEST_INSTANCE = 'monolith-test-1';

export interface RunningMonolith {
  monolith: Monolith;
  baseUrl: string;
  port: number;
  dataDir: string;
  /** Closes the monolith; with `keepData` the database file stays for a restart on the same DATA_DIR. */
  stop(options?: { keepData?: boolean }): Promise<void>;
}

/** A real monolith on a free loopback port, with its own throwaway DATA_DIR unless given one. */
export async function startMonolith(dataDir = mkdtempSync(join(tmpdir(), 'monolith-test-'))): Promise<RunningMonolith> {
  const config = loadMonolithConfig({
    DATA_DIR: dataDir,
    LOG_LEVEL: 'silent',
    INSTANCE_NAME: TEST_INSTANCE,
    SERVICE_VERSION: '9.9.9',
  });
  const monolith = buildMonolith(config);
  await monolith.ready();
  await new Promise<void>((resolve) => monolith.server.listen(0, '127.0.0.1', resolve));
  const { port } = monolith.server.address() as AddressInfo;
  return {
    monolith,
    port,
    baseUrl: `http://127.0.0.1:${port}`,
    dataDir,
    async stop({ keepData = false } = {}) {
      await monolith.close();
      if (!keepData) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
