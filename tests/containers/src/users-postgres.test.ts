import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { docker, removeLabelled } from '@lab/lab-kit/docker';
import { imageFor, POSTGRES, postgresUrl, SERVICE_PORTS } from '@lab/lab-kit/lab-env';
import { waitFor } from '@lab/lab-kit/wait';
import { createPostgresUsersRepository } from '@lab/users/postgres-repository';
import { describeRepositoryContract } from '@lab/users/repository-contract';
import pg from 'pg';
import { GenericContainer, Network, type StartedNetwork, type StartedTestContainer, Wait } from 'testcontainers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { psql, startPostgres } from './postgres.ts';

const RUN_LABEL = 'mslab.users-postgres.run';
const runId = randomBytes(4).toString('hex');
let network: StartedNetwork;
let postgres: StartedTestContainer;
/** The server as the test process reaches it, through its published port. */
let serverUrl: (database: string) => string;
let admin: pg.Pool;

beforeAll(async () => {
  network = await new Network().start();
  postgres = await startPostgres({ network, publish: true, labels: { [RUN_LABEL]: runId } });
  serverUrl = (database) => postgresUrl(postgres.getHost(), postgres.getMappedPort(POSTGRES.port), database);
  admin = new pg.Pool({ connectionString: serverUrl(POSTGRES.database), max: 2 });
  // The outage test stops the server under this pool's idle connection; that is expected here.
  admin.on('error', () => {});
});

afterAll(async () => {
  await admin?.end();
  await removeLabelled(`${RUN_LABEL}=${runId}`);
  await network?.stop().catch(() => {});
});

let databases = 0;
describeRepositoryContract('PostgreSQL', {
  async fresh() {
    // A database per test on the one server: as empty as a new SQLite file.
    const name = `contract_${runId}_${++databases}`;
    await admin.query(`CREATE DATABASE ${name}`);
    return {
      open: () =>
        createPostgresUsersRepository({
          databaseUrl: serverUrl(name),
          poolSize: 4,
          connectTimeoutMs: 5000,
          queryTimeoutMs: 5000,
        }),
      dispose: async () => {
        await admin.query(`DROP DATABASE ${name} WITH (FORCE)`);
      },
    };
  },
});

/** A users container on the test network with this DATABASE_URL, run to its end: exit code and log. */
async function runUsersToExit(databaseUrl: string, env: Record<string, string> = {}) {
  const envArgs = Object.entries({ DATABASE_URL: databaseUrl, ...env }).flatMap(([key, value]) => [
    '-e',
    `${key}=${value}`,
  ]);
  const args = ['run', '--rm', '--label', `${RUN_LABEL}=${runId}`, '--network', network.getName(), ...envArgs];
  try {
    const { stdout, stderr } = await promisify(execFile)('docker', [...args, imageFor('users')], { timeout: 60_000 });
    return { exitCode: 0, output: `${stdout}${stderr}` };
  } catch (error) {
    const { code, stdout = '', stderr = '' } = error as { code?: number; stdout?: string; stderr?: string };
    return { exitCode: code, output: `${stdout}${stderr}` };
  }
}

describe('users on PostgreSQL: configuration that cannot work stops it at start', () => {
  const url = (password: string, host = 'postgres') => postgresUrl(host).replace(POSTGRES.password, password);

  it.each([
    [
      'a refused password',
      url('wrong-secret'),
      {},
      /^configuration error: DATABASE_URL was refused by the server: .*password/,
    ],
    [
      // The default wait (15 s), longer than Fastify's own 10 s limit for a plugin to load.
      'a host that never answers',
      url('wrong-secret', 'no-such-host'),
      {},
      /^configuration error: DATABASE_URL cannot be reached within 15000 ms \(DB_CONNECT_TIMEOUT_MS\)/,
    ],
    [
      'a URL that is not postgres://',
      'mysql://lab:wrong-secret@postgres/users',
      {},
      /^configuration error: DATABASE_URL must be a postgres:\/\/user:password@host:port\/database URL/,
    ],
  ])('%s: exit 78 with one line naming DATABASE_URL, the password redacted', async (_, databaseUrl, env, line) => {
    const { exitCode, output } = await runUsersToExit(databaseUrl, env);
    expect(exitCode).toBe(78);
    const lines = output.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(line);
    expect(lines[0]).toContain(':***@');
    expect(output).not.toContain('wrong-secret');
  });
});

describe('users on PostgreSQL: the database going away later', () => {
  it('turns readiness false and requests into 503 problem+json without a crash, and recovers when it returns', async () => {
    const users = await new GenericContainer(imageFor('users'))
      .withNetwork(network)
      .withLabels({ [RUN_LABEL]: runId })
      .withEnvironment({ DATABASE_URL: postgresUrl('postgres'), DB_QUERY_TIMEOUT_MS: '2000' })
      .withExposedPorts(SERVICE_PORTS.users)
      .withWaitStrategy(Wait.forLogMessage('"msg":"users listening"'))
      .start();
    const base = `http://${users.getHost()}:${users.getMappedPort(SERVICE_PORTS.users)}`;
    const created = await fetch(`${base}/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Before', email: `before-${runId}@example.org` }),
    });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };
    const ready = async () => (await fetch(`${base}/health/ready`)).status;
    expect(await ready()).toBe(200);

    await docker('stop', postgres.getId());
    await waitFor(async () => (await ready()) === 503, 10_000, 'users turning unready');
    const read = await fetch(`${base}/${id}`);
    expect(read.status).toBe(503);
    expect(read.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await read.json()).toMatchObject({ status: 503, code: 'DATABASE_UNAVAILABLE' });
    const write = await fetch(`${base}/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'During', email: `during-${runId}@example.org` }),
    });
    expect(write.status).toBe(503);
    expect(await write.json()).toMatchObject({ code: 'DATABASE_UNAVAILABLE' });
    expect((await fetch(`${base}/health/live`)).status).toBe(200);

    await docker('start', postgres.getId());
    const startedAt = performance.now();
    await waitFor(async () => (await ready()) === 200, 30_000, 'users ready again');
    const recoveredMs = performance.now() - startedAt;
    expect((await fetch(`${base}/${id}`)).status).toBe(200);
    expect(await psql(postgres, `SELECT count(*) FROM users WHERE email LIKE 'during-${runId}%'`)).toBe('0');
    // One process all along: no restart hid a crash.
    expect(await docker('inspect', '--format', '{{.RestartCount}} {{.State.Running}}', users.getId())).toBe('0 true');
    process.stdout.write(`[figures] users-postgres-outage: {"readyAgainMs":${Math.round(recoveredMs)}}\n`);
  });
});
