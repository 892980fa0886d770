import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { docker, removeLabelled } from '@lab/lab-kit/docker';
import { imageFor, POSTGRES, postgresAdminUrl, postgresUrl, SERVICE_PORTS } from '@lab/lab-kit/lab-env';
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
/** The server as the test process reaches it, through its published port: as users, as the DBA. */
let serverUrl: (database: string) => string;
let adminUrl: (database: string) => string;
let admin: pg.Pool;
/** Files mounted into users containers as their secrets. */
const secrets = mkdtempSync(join(tmpdir(), 'mslab-users-secrets-'));

beforeAll(async () => {
  network = await new Network().start();
  postgres = await startPostgres({ network, publish: true, labels: { [RUN_LABEL]: runId } });
  serverUrl = (database) => postgresUrl(postgres.getHost(), postgres.getMappedPort(POSTGRES.port), database);
  adminUrl = (database) => postgresAdminUrl(postgres.getHost(), postgres.getMappedPort(POSTGRES.port), database);
  admin = new pg.Pool({ connectionString: adminUrl(POSTGRES.database), max: 2 });
  // The outage test stops the server under this pool's idle connection; that is expected here.
  admin.on('error', () => {});
});

afterAll(async () => {
  await admin?.end();
  await removeLabelled(`${RUN_LABEL}=${runId}`);
  await network?.stop().catch(() => {});
  rmSync(secrets, { recursive: true, force: true });
});

let databases = 0;
describeRepositoryContract('PostgreSQL', {
  async fresh() {
    // A database per test on the one server: as empty as a new SQLite file, with users' schema
    // made by the DBA as the server's first start makes it in POSTGRES_DB.
    const name = `contract_${runId}_${++databases}`;
    await admin.query(`CREATE DATABASE ${name}`);
    const dba = new pg.Client({ connectionString: adminUrl(name) });
    await dba.connect();
    try {
      await dba.query(`CREATE SCHEMA ${POSTGRES.appSchema} AUTHORIZATION ${POSTGRES.appUser}`);
    } finally {
      await dba.end();
    }
    return {
      open: (lifetime) =>
        createPostgresUsersRepository({
          databaseUrl: serverUrl(name),
          poolSize: 4,
          connectTimeoutMs: 5000,
          queryTimeoutMs: 5000,
          ...lifetime,
        }),
      dispose: async () => {
        await admin.query(`DROP DATABASE ${name} WITH (FORCE)`);
      },
    };
  },
});

/** A file the users container finds at /run/secrets/<name>, as a docker secret would be. */
function secretMount(name: string, content: string, mode = 0o444) {
  const path = join(secrets, name);
  writeFileSync(path, content, { mode });
  return { source: path, target: `/run/secrets/${name}`, mode: 'ro' as const };
}

/** A users container on the test network with this DATABASE_URL, run to its end: exit code and log. */
async function runUsersToExit(
  databaseUrl: string,
  env: Record<string, string> = {},
  mounts: ReturnType<typeof secretMount>[] = [],
) {
  const envArgs = Object.entries({ DATABASE_URL: databaseUrl, ...env }).flatMap(([key, value]) => [
    '-e',
    `${key}=${value}`,
  ]);
  const mountArgs = mounts.flatMap(({ source, target }) => ['-v', `${source}:${target}:ro`]);
  const args = [
    'run',
    '--rm',
    '--label',
    `${RUN_LABEL}=${runId}`,
    '--network',
    network.getName(),
    ...envArgs,
    ...mountArgs,
  ];
  try {
    const { stdout, stderr } = await promisify(execFile)('docker', [...args, imageFor('users')], { timeout: 60_000 });
    return { exitCode: 0, output: `${stdout}${stderr}` };
  } catch (error) {
    const { code, stdout = '', stderr = '' } = error as { code?: number; stdout?: string; stderr?: string };
    return { exitCode: code, output: `${stdout}${stderr}` };
  }
}

describe('users on PostgreSQL: configuration that cannot work stops it at start', () => {
  const url = (password: string, host = 'postgres') => postgresUrl(host).replace(POSTGRES.appPassword, password);

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

/** A users container on the test network, published, ready: its URL and a way to stop it. */
async function startUsers(env: Record<string, string>, mounts: ReturnType<typeof secretMount>[] = []) {
  const users = await new GenericContainer(imageFor('users'))
    .withNetwork(network)
    .withLabels({ [RUN_LABEL]: runId })
    .withEnvironment(env)
    .withBindMounts(mounts)
    .withExposedPorts(SERVICE_PORTS.users)
    .withWaitStrategy(Wait.forLogMessage('"msg":"users listening"'))
    .start();
  return { users, base: `http://${users.getHost()}:${users.getMappedPort(SERVICE_PORTS.users)}` };
}

const createUser = (base: string, email: string) =>
  fetch(`${base}/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'Role Test', email }),
  });

describe('users on PostgreSQL: its own role, not the superuser', () => {
  it('#21 finding 12: connects as users_app, which owns the schema users and may do nothing outside it', async () => {
    const { users, base } = await startUsers({ DATABASE_URL: postgresUrl('postgres') });
    try {
      const created = await createUser(base, `role-${runId}@example.org`);
      expect(created.status).toBe(201);
      const body = await created.text();
      const read = await fetch(`${base}/${(JSON.parse(body) as { id: string }).id}`);
      expect([read.status, await read.text()]).toEqual([200, body]);

      expect(
        await psql(postgres, "SELECT DISTINCT usename FROM pg_stat_activity WHERE application_name = 'users'"),
      ).toBe(POSTGRES.appUser);
      // Every table users' migrations made: in its schema, its own.
      expect(
        await psql(
          postgres,
          "SELECT DISTINCT schemaname || ' ' || tableowner FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')",
        ),
      ).toBe(`${POSTGRES.appSchema} ${POSTGRES.appUser}`);
      expect(await psql(postgres, `SELECT to_regclass('${POSTGRES.appSchema}.users') IS NOT NULL`)).toBe('t');
    } finally {
      await users.stop();
    }

    await admin.query('CREATE TABLE IF NOT EXISTS public.dba_notes (note text)');
    const app = new pg.Client({ connectionString: serverUrl(POSTGRES.database) });
    await app.connect();
    try {
      const { rows } = await app.query(
        'SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls FROM pg_roles WHERE rolname = current_user',
      );
      expect(rows).toEqual([
        { rolsuper: false, rolcreatedb: false, rolcreaterole: false, rolreplication: false, rolbypassrls: false },
      ]);
      // SQLSTATE 42501: insufficient_privilege.
      const outcome = (sql: string) =>
        app.query(sql).then(
          () => 'done',
          (error: { code?: string }) => error.code,
        );
      const refused = {
        createDatabase: await outcome(`CREATE DATABASE finding12_${runId}`),
        createRole: await outcome(`CREATE ROLE finding12_${runId}`),
        createInPublic: await outcome('CREATE TABLE public.x (id int)'),
        createSchema: await outcome('CREATE SCHEMA elsewhere'),
        createTemporary: await outcome('CREATE TEMPORARY TABLE scratch (id int)'),
        readDbaTable: await outcome('SELECT * FROM public.dba_notes'),
        alterDbaTable: await outcome('ALTER TABLE public.dba_notes ADD COLUMN extra int'),
      };
      expect(refused).toEqual(Object.fromEntries(Object.keys(refused).map((key) => [key, '42501'])));
      expect(await outcome(`CREATE TABLE ${POSTGRES.appSchema}.scratch (id int)`)).toBe('done');
      expect(await outcome(`DROP TABLE ${POSTGRES.appSchema}.scratch`)).toBe('done');
    } finally {
      await app.end();
    }
  });
});

describe('users on PostgreSQL: DATABASE_URL_FILE, the URL as a secret file', () => {
  it('#21 finding 18: starts from DATABASE_URL_FILE, and the URL is nowhere in docker inspect', async () => {
    const databaseUrl = postgresUrl('postgres');
    const { users, base } = await startUsers({ DATABASE_URL_FILE: '/run/secrets/database-url' }, [
      secretMount('database-url', `${databaseUrl}\n`),
    ]);
    try {
      const ready = (await (await fetch(`${base}/health/ready`)).json()) as object;
      expect(ready).toMatchObject({ checks: { database: { ok: true, system: 'postgresql' } } });
      expect((await createUser(base, `file-${runId}@example.org`)).status).toBe(201);
      expect(await psql(postgres, `SELECT count(*) FROM users WHERE email = 'file-${runId}@example.org'`)).toBe('1');
      const inspected = await docker('inspect', users.getId());
      expect(inspected).toContain('DATABASE_URL_FILE=/run/secrets/database-url');
      expect(inspected).not.toContain(POSTGRES.appPassword);
      expect(inspected).not.toContain(databaseUrl);
    } finally {
      await users.stop();
    }
  });

  it.each([
    [
      'a file that is not there',
      {},
      [],
      /^configuration error: DATABASE_URL_FILE names a file that cannot be read \(ENOENT\)/,
    ],
    [
      // A docker secret is root's, mode 0444 unless told otherwise: 0400 leaves the node user out.
      'a file users may not read',
      {},
      [secretMount('unreadable-url', postgresUrl('postgres').replace(POSTGRES.appPassword, 'wrong-secret'), 0o400)],
      /^configuration error: DATABASE_URL_FILE names a file that cannot be read \(EACCES\)/,
    ],
    [
      'a file holding a password, not a URL',
      {},
      [secretMount('password', 'wrong-secret\n')],
      /^configuration error: DATABASE_URL_FILE holds a DATABASE_URL that must be a postgres:\/\/user:password@host:port\/database URL \(got "\/run\/secrets\/database-url"\)$/,
    ],
    [
      'DATABASE_URL beside it',
      { DATABASE_URL: postgresUrl('postgres').replace(POSTGRES.appPassword, 'wrong-secret') },
      [secretMount('both-url', postgresUrl('postgres').replace(POSTGRES.appPassword, 'wrong-secret'))],
      /^configuration error: DATABASE_URL and DATABASE_URL_FILE are both set; set one of them$/,
    ],
  ])(
    '#21 finding 18: %s: exit 78 with one line naming DATABASE_URL_FILE, never its content',
    async (_, env, mounts, line) => {
      // Each case mounts its file at /run/secrets/database-url, whatever it is called on the host.
      const atUrlPath = mounts.map((mount) => ({ ...mount, target: '/run/secrets/database-url' }));
      const { exitCode, output } = await runUsersToExit(
        '',
        { DATABASE_URL_FILE: '/run/secrets/database-url', ...env },
        atUrlPath,
      );
      expect(exitCode).toBe(78);
      const lines = output.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(line);
      expect(output).not.toContain('wrong-secret');
    },
  );
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
    // #21 finding 13: the driver's words stay in the log; the client gets the fixed detail.
    expect(await read.json()).toMatchObject({
      status: 503,
      code: 'DATABASE_UNAVAILABLE',
      detail: 'The database is unavailable; retry, with the same Idempotency-Key for a create',
    });
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
