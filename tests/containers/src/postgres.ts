import { basename } from 'node:path';
import { POSTGRES } from '@lab/lab-kit/lab-env';
import { GenericContainer, type StartedNetwork, type StartedTestContainer, Wait } from 'testcontainers';

export interface PostgresOptions {
  /** Joins this network as `postgres`, the host name users' DATABASE_URL names. */
  network?: StartedNetwork;
  /** A named volume for the data directory (it outlives the container, as in compose). */
  volume?: string;
  /** Publishes 5432 on a random host port, for a repository opened from the test process. */
  publish?: boolean;
  labels?: Record<string, string>;
}

/**
 * The users service's PostgreSQL as compose runs it: non-root (the image's postgres user),
 * read-only root filesystem with tmpfs for its socket and /tmp, no capabilities, a memory
 * limit, data on a volume, users' own role made on the first start (infra/postgres/initdb.d).
 * Ready once it answers over TCP (the official image's first start runs a socket-only server
 * while it initialises; this waits past it).
 */
export async function startPostgres({ network, volume, publish = false, labels = {} }: PostgresOptions = {}) {
  let container = new ReadOnlyContainer(POSTGRES.image)
    .withEnvironment({
      POSTGRES_USER: POSTGRES.user,
      POSTGRES_PASSWORD: POSTGRES.password,
      POSTGRES_DB: POSTGRES.database,
      USERS_DB_PASSWORD: POSTGRES.appPassword,
    })
    .withUser('postgres')
    .withTmpFs({ '/tmp': 'rw,noexec,nosuid', '/var/run/postgresql': 'rw,noexec,nosuid' })
    .withDroppedCapabilities('ALL')
    .withSecurityOpt('no-new-privileges:true')
    .withResourcesQuota({ memory: POSTGRES.memoryLimitMib / 1024 })
    .withLabels(labels)
    .withWaitStrategy(Wait.forSuccessfulCommand(`pg_isready -h 127.0.0.1 -U ${POSTGRES.user} -d ${POSTGRES.database}`))
    .withStartupTimeout(60_000);
  if (network) container = container.withNetwork(network).withNetworkAliases('postgres');
  if (publish) container = container.withExposedPorts(POSTGRES.port);
  const initScript = {
    source: POSTGRES.initScript,
    target: `/docker-entrypoint-initdb.d/${basename(POSTGRES.initScript)}`,
    mode: 'ro' as const,
  };
  const data = volume ? [{ source: volume, target: '/var/lib/postgresql/data' }] : [];
  container = container.withBindMounts([initScript, ...data]);
  return container.start();
}

/** testcontainers has no setter for a read-only root filesystem. */
class ReadOnlyContainer extends GenericContainer {
  constructor(image: string) {
    super(image);
    this.hostConfig.ReadonlyRootfs = true;
  }
}

/**
 * Runs SQL in the container with psql, as the superuser, users' schema first in its search path;
 * returns its unaligned, tuples-only output.
 */
export async function psql(postgres: StartedTestContainer, sql: string): Promise<string> {
  const { exitCode, output } = await postgres.exec(
    ['psql', '-U', POSTGRES.user, '-d', POSTGRES.database, '-Atc', sql],
    {
      env: { PGOPTIONS: `-c search_path=${POSTGRES.appSchema},public` },
    },
  );
  if (exitCode !== 0) throw new Error(`psql failed (${exitCode}): ${output}`);
  return output.trim();
}
