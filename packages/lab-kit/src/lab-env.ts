import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

let dotenv: Record<string, string> | undefined;

/** The repo's .env as compose reads it: KEY=value lines, `#` comments, optional quotes. */
function readDotenv(): Record<string, string> {
  dotenv ??= Object.fromEntries(
    readFileSync(`${REPO_ROOT}.env`, 'utf8')
      .split('\n')
      .map((line) => /^\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line))
      .filter((match) => match !== null)
      .map(([, key = '', value = '']) => [key, value.trim().replace(/^(['"])(.*)\1$/, '$2')]),
  );
  return dotenv;
}

/** A lab setting: the environment's value, else the repo's .env line, as compose resolves it. */
export function labSetting(key: string, env: NodeJS.ProcessEnv = process.env): string {
  const value = env[key] || readDotenv()[key];
  if (!value) throw new Error(`${key} is set neither in the environment nor in ${REPO_ROOT}.env`);
  return value;
}

/** The base image the Dockerfiles build FROM. */
export const resolveNodeImage = (env: NodeJS.ProcessEnv = process.env) => labSetting('NODE_IMAGE', env);

export const SERVICES = ['hello', 'users', 'gateway', 'monolith'] as const;
export type ServiceName = (typeof SERVICES)[number];

/** A lab image name, e.g. `microservices-lab/bench-loadgen:dev`. */
export const labImage = (name: string, tag = labSetting('IMAGE_TAG')) =>
  `${labSetting('IMAGE_NAMESPACE')}/${name}:${tag}`;

/** The tag compose uses too, so compose starts from the images the tests and benchmarks build. */
export const imageFor = (service: ServiceName, tag?: string) => labImage(service, tag);

const listenPort = (service: ServiceName) => Number(labSetting(`${service.toUpperCase()}_LISTEN_PORT`));

/** The port each service listens on inside its container. */
export const SERVICE_PORTS: Readonly<Record<ServiceName, number>> = Object.freeze(
  Object.fromEntries(SERVICES.map((service) => [service, listenPort(service)])) as Record<ServiceName, number>,
);

/** The lab console (compose's `lab` profile): its image and the port it listens on in its container. */
export const CONSOLE_IMAGE = labImage('console');
export const CONSOLE_PORT = Number(labSetting('CONSOLE_LISTEN_PORT'));

/** The host ports a plain `docker compose up` publishes. */
export const HOST_PORTS = Object.freeze({
  gateway: Number(labSetting('GATEWAY_PORT')),
  monolith: Number(labSetting('MONOLITH_PORT')),
});

/** docker-compose.yml's mem_limit for each service, which the tests and benchmarks apply too. */
export const MEMORY_LIMIT_MIB: Readonly<Record<ServiceName, number>> = Object.freeze(
  Object.fromEntries(
    SERVICES.map((service) => [service, Number(labSetting(`${service.toUpperCase()}_MEMORY_LIMIT_MIB`))]),
  ) as Record<ServiceName, number>,
);

/** The scaling layout's CPU quota for each service, in cores (.env: `<SERVICE>_CPUS`). */
export const CPU_QUOTA: Readonly<Record<ServiceName, number>> = Object.freeze(
  Object.fromEntries(
    SERVICES.map((service) => {
      const key = `${service.toUpperCase()}_CPUS`;
      const cores = Number(labSetting(key));
      if (!(cores > 0)) throw new Error(`${key} must be a number of cores above 0, got ${labSetting(key)}`);
      return [service, cores];
    }),
  ) as Record<ServiceName, number>,
);

/**
 * The users service's PostgreSQL (compose's `postgres` profile, the swarm stack, the tests):
 * its image (the official one, or bootstrap's build from Debian's package), the official
 * image's settings (`user` is the superuser, the DBA's), users' own role and the script that
 * makes it on the first start, and the DATABASE_URL a users replica on the same network gets.
 */
export const POSTGRES = Object.freeze({
  image: labSetting('POSTGRES_IMAGE'),
  user: labSetting('POSTGRES_USER'),
  password: labSetting('POSTGRES_PASSWORD'),
  database: labSetting('POSTGRES_DB'),
  port: 5432,
  memoryLimitMib: Number(labSetting('POSTGRES_MEMORY_LIMIT_MIB')),
  appUser: 'users_app',
  appPassword: labSetting('USERS_DB_PASSWORD'),
  appSchema: 'users',
  /** Mounted into /docker-entrypoint-initdb.d, as compose, the swarm stack and Kubernetes do. */
  initScript: `${REPO_ROOT}infra/postgres/initdb.d/10-users-app.sh`,
});

const url = (user: string, password: string, host: string, port: number, database: string) =>
  `postgres://${user}:${encodeURIComponent(password)}@${host}:${port}/${database}`;

/** users' DATABASE_URL: its own role, which owns the schema `users` and nothing else. */
export const postgresUrl = (host: string, port: number = POSTGRES.port, database: string = POSTGRES.database) =>
  url(POSTGRES.appUser, POSTGRES.appPassword, host, port, database);

/** The superuser's, for the DBA's work only (a database per test, checking what users_app may not do). */
export const postgresAdminUrl = (host: string, port: number = POSTGRES.port, database: string = POSTGRES.database) =>
  url(POSTGRES.user, POSTGRES.password, host, port, database);
