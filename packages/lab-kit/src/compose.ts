import { randomBytes } from 'node:crypto';
import { docker, runCli } from './docker.ts';
import { POSTGRES, REPO_ROOT, resolveNodeImage, SERVICE_PORTS } from './lab-env.ts';
import { waitForOk } from './wait.ts';

/** Compose v2 (`docker compose`) where it works, else docker-compose 1.x: the file serves both. */
async function composeCommand(): Promise<string[]> {
  try {
    await docker('compose', 'version');
    return ['docker', 'compose'];
  } catch {
    return ['docker-compose'];
  }
}

/** A project name no other run on this engine uses, e.g. `mslab-scale-3fa9c1`. */
export const uniqueProjectName = (prefix: string) => `${prefix}-${randomBytes(3).toString('hex')}`;

/** Host ports for a compose run beside other work on the engine: Docker picks free ones. */
export const RANDOM_HOST_PORTS = { GATEWAY_PORT: '0', MONOLITH_PORT: '0', CONSOLE_PORT: '0' } as const;

export interface ComposeProject extends AsyncDisposable {
  project: string;
  variant: 'Compose v2' | 'docker-compose v1';
  compose(...args: string[]): Promise<string>;
  /** The host address of a published container port, e.g. 0.0.0.0:49153 -> http://127.0.0.1:49153. */
  url(service: string, port: number): Promise<string>;
  /** The container ids of a service (every service when none is named). */
  ids(service?: string): Promise<string[]>;
  /** Removes the project's containers, networks and volumes. */
  down(): Promise<string>;
}

/**
 * A compose project of the repo's real docker-compose.yml under a throwaway project name,
 * with `overrides` (files in the repo root, e.g. docker-compose.quotas.yml) layered over it.
 */
export async function composeProject(
  project: string,
  env: Record<string, string> = {},
  overrides: string[] = [],
): Promise<ComposeProject> {
  const [command = 'docker-compose', ...prefix] = await composeCommand();
  const withEnv = { NODE_IMAGE: resolveNodeImage(), POSTGRES_IMAGE: POSTGRES.image, ...env };
  const files = ['docker-compose.yml', ...overrides].flatMap((file) => ['-f', `${REPO_ROOT}${file}`]);
  const compose = (...args: string[]) =>
    runCli(command, [...prefix, '-p', project, ...files, ...args], { env: withEnv });
  const down = () => compose('down', '--volumes', '--remove-orphans', '--timeout', '10');
  return {
    project,
    variant: prefix.length > 0 ? 'Compose v2' : 'docker-compose v1',
    compose,
    async url(service, port) {
      const published = (await compose('port', service, String(port))).split('\n')[0] ?? '';
      return `http://127.0.0.1:${published.split(':').at(-1)}`;
    },
    async ids(service) {
      return (await compose('ps', '-q', ...(service ? [service] : []))).split('\n').filter(Boolean);
    },
    down,
    async [Symbol.asyncDispose]() {
      await down();
    },
  };
}

export interface ComposeStack extends ComposeProject {
  /** The gateway as the host sees it, through its published port. */
  gatewayUrl: string;
}

/**
 * `up --detach` of a fresh project on random host ports, ready once the gateway answers
 * 200 on `readyPath`; taken down again if any of that fails. The images must exist (no --build).
 */
export async function composeUp(
  prefix: string,
  {
    upArgs = [],
    readyPath = '/health/ready',
    env = {},
  }: { upArgs?: string[]; readyPath?: string; env?: Record<string, string> } = {},
): Promise<ComposeStack> {
  const project = await composeProject(uniqueProjectName(prefix), { ...RANDOM_HOST_PORTS, ...env });
  try {
    await project.compose('up', '--detach', ...upArgs);
    const gatewayUrl = await project.url('gateway', SERVICE_PORTS.gateway);
    await waitForOk(`${gatewayUrl}${readyPath}`, 90_000, { intervalMs: 500 });
    return Object.assign(project, { gatewayUrl });
  } catch (error) {
    await project.down().catch(() => '');
    throw error;
  }
}
