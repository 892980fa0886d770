import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from './app.ts';
import { loadUsersConfig } from './config.ts';
import { contractBreach, databaseSnapshot, FUZZ_SEED, fuzzRequest } from './fuzz-requests.ts';
import { createSqliteUsersRepository, type UsersRepository } from './users-repository.ts';

const RUNS = 4000;

let dataDir: string;
let repository: UsersRepository;
let app: ReturnType<typeof buildApp>;
let knownIds: string[];

beforeAll(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'users-fuzz-inject-'));
  const config = loadUsersConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'silent', INSTANCE_NAME: 'users-fuzz' });
  repository = createSqliteUsersRepository(config);
  app = buildApp(config, { repository });
  knownIds = Array.from(
    { length: 12 },
    (_, n) => repository.create({ name: `Seed ${n}`, email: `seed${n}@example.org` }).id,
  );
});

afterAll(async () => {
  await app.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('users under fuzzed requests, in-process', () => {
  it('never answers 5xx or leaks internals, and no refused request changes the database', async () => {
    const tally = { requests: 0, fiveXx: 0 };
    try {
      await fc.assert(
        fc.asyncProperty(fuzzRequest(knownIds), async ({ method, url, headers, body }) => {
          const before = databaseSnapshot(repository);
          const res = await app.inject({ method: method as 'GET', url, headers, ...(body ? { payload: body } : {}) });
          tally.requests++;
          if (res.statusCode >= 500) tally.fiveXx++;
          const breach = contractBreach(method, {
            status: res.statusCode,
            contentType: res.headers['content-type'],
            body: res.body,
          });
          expect(breach, `${method} ${url.slice(0, 120)}`).toBeUndefined();
          if (res.statusCode >= 400)
            expect(databaseSnapshot(repository), `${method} ${url.slice(0, 120)}`).toBe(before);
        }),
        { seed: FUZZ_SEED, numRuns: RUNS },
      );
    } finally {
      process.stdout.write(
        `[figures] users-fuzz-inject: ${JSON.stringify({ requests: tally.requests, '5xx': tally.fiveXx })}\n`,
      );
    }
    expect(tally.requests).toBeGreaterThanOrEqual(RUNS);
    expect((await app.inject({ url: '/health/live' })).statusCode).toBe(200);
  }, 60_000);
});
