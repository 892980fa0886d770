import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeRepositoryContract } from './repository-contract.test-suite.ts';
import { createSqliteUsersRepository } from './sqlite-repository.ts';

// Replicas here are connections to one file, as containers sharing a volume are.
describeRepositoryContract('SQLite', {
  async fresh() {
    const dataDir = mkdtempSync(join(tmpdir(), 'users-contract-'));
    return {
      open: async () => createSqliteUsersRepository({ dataDir, busyTimeoutMs: 5000 }),
      dispose: async () => rmSync(dataDir, { recursive: true, force: true }),
    };
  },
});
