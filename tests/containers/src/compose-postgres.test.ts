import { composeUp } from '@lab/lab-kit/compose';
import { docker, inspectContainer } from '@lab/lab-kit/docker';
import { fileFixture } from '@lab/lab-kit/fixture';
import { POSTGRES, postgresUrl, SERVICE_PORTS } from '@lab/lab-kit/lab-env';
import { postUser } from '@lab/lab-kit/users-api';
import { describe, expect, it } from 'vitest';

// The README's command: the postgres profile, and users pointed at it by its URL (users' own role).
const stack = fileFixture(() =>
  composeUp('mslab-compose-pg', {
    env: { COMPOSE_PROFILES: 'postgres', USERS_DATABASE_URL: postgresUrl('postgres') },
  }),
);

/** SQL as the superuser, the DBA, in the postgres container: unaligned, tuples only. */
const psql = async (sql: string) =>
  docker('exec', await only('postgres'), 'psql', '-U', POSTGRES.user, '-d', POSTGRES.database, '-Atc', sql);

const only = async (service: string) => {
  const [id, ...more] = await stack.ids(service);
  if (!id || more.length > 0) throw new Error(`expected one ${service} container`);
  return id;
};

describe('docker-compose.yml with the postgres profile', () => {
  it('keeps users in PostgreSQL: a user created through the gateway is a row on the server, not in SQLite', async () => {
    const email = `compose-pg-${Date.now()}@example.org`;
    const created = await postUser(stack.gatewayUrl, { name: 'Compose Postgres', email });
    expect(created.status).toBe(201);
    expect(await psql(`SELECT count(*) FROM ${POSTGRES.appSchema}.users WHERE email = '${email}'`)).toBe('1');
    const users = await only('users');
    expect(await docker('exec', users, 'ls', '-A', '/data')).toBe('');
    const readiness = await docker(
      'exec',
      users,
      'node',
      '-e',
      `fetch('http://127.0.0.1:${SERVICE_PORTS.users}/health/ready').then(r => r.text()).then(console.log)`,
    );
    expect(JSON.parse(readiness)).toMatchObject({ checks: { database: { ok: true, system: 'postgresql' } } });
  });

  it('#21 finding 12: users logs in as users_app, not the superuser, and its tables are its own', async () => {
    expect(await psql("SELECT DISTINCT usename FROM pg_stat_activity WHERE application_name = 'users'")).toBe(
      POSTGRES.appUser,
    );
    expect(await psql(`SELECT rolsuper FROM pg_roles WHERE rolname = '${POSTGRES.appUser}'`)).toBe('f');
    expect(
      await psql(`SELECT tableowner FROM pg_tables WHERE schemaname = '${POSTGRES.appSchema}' AND tablename = 'users'`),
    ).toBe(POSTGRES.appUser);
  });

  it('runs PostgreSQL hardened: non-root, read-only root, no capabilities, data on a named volume, backend only', async () => {
    const id = await only('postgres');
    const info = (await inspectContainer(id)) as unknown as {
      Config: { User: string };
      HostConfig: { ReadonlyRootfs: boolean; CapDrop: string[]; SecurityOpt: string[] };
      Mounts: { Type: string; Name?: string; Destination: string }[];
      NetworkSettings: { Networks: Record<string, unknown> };
    };
    expect(info.Config.User).toBe('postgres');
    expect(await docker('exec', id, 'id', '-u')).not.toBe('0');
    expect(info.HostConfig.ReadonlyRootfs).toBe(true);
    expect(info.HostConfig.CapDrop).toEqual(['ALL']);
    expect(info.HostConfig.SecurityOpt).toContain('no-new-privileges:true');
    expect(info.Mounts).toContainEqual(
      expect.objectContaining({
        Type: 'volume',
        Name: `${stack.project}_postgres-data`,
        Destination: '/var/lib/postgresql/data',
      }),
    );
    expect(Object.keys(info.NetworkSettings.Networks)).toEqual([`${stack.project}_backend`]);
  });
});
