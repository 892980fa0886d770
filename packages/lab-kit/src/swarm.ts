import { readFileSync } from 'node:fs';
import { docker, runCli } from './docker.ts';
import { labSetting, REPO_ROOT } from './lab-env.ts';
import { waitFor } from './wait.ts';

/** The swarm form of docker-compose.yml (workshop chapter 10, the swarm container test). */
export const SWARM_STACK_FILE = `${REPO_ROOT}infra/swarm/stack.yml`;
/** The development secrets that stack deploys unless SWARM_SECRETS_DIR names others. */
export const SWARM_DEV_SECRETS_DIR = `${REPO_ROOT}infra/swarm/dev-secrets`;

const GWBRIDGE = 'docker_gwbridge';

const lines = (text: string) => text.split('\n').filter(Boolean);
const networkNames = async () => lines(await docker('network', 'ls', '--format', '{{.Name}}'));

const tasksGone = async (filter: string) => (await docker('ps', '--all', '--quiet', '--filter', filter)) === '';

/**
 * Services, then their overlay networks, then the swarm: `swarm leave --force` with
 * tasks still running leaves overlay networks behind that no command can remove
 * (and that a later `docker compose up` would reuse by name) until dockerd restarts.
 */
export async function leaveSwarm(): Promise<void> {
  const services = lines(await docker('service', 'ls', '--quiet'));
  if (services.length > 0) await docker('service', 'rm', ...services);
  // Past the deadline, leave anyway: a stuck task must not keep the engine in swarm mode.
  await waitFor(() => tasksGone('label=com.docker.swarm.service.id'), 60_000, 'swarm tasks gone', 500).catch(
    () => undefined,
  );
  const overlays = lines(await docker('network', 'ls', '--filter', 'scope=swarm', '--format', '{{.Name}}')).filter(
    (name) => name !== 'ingress',
  );
  for (const name of overlays) await docker('network', 'rm', name).catch(() => undefined);
  await docker('swarm', 'leave', '--force');
}

export interface SwarmMode extends AsyncDisposable {
  /** The engine was a swarm manager already: disposing leaves it one. */
  readonly wasActive: boolean;
}

/**
 * A swarm manager to deploy stacks to: the engine as it is when it already is one, else a
 * single-node swarm that disposing leaves again (leaveSwarm), then removes the docker_gwbridge
 * network that swarm added and `swarm leave` keeps.
 */
export async function enterSwarm(): Promise<SwarmMode> {
  const [state, manager] = (
    await docker('info', '--format', '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}')
  ).split(' ');
  if (state === 'active' && manager !== 'true')
    throw new Error('this engine is a swarm worker; stacks are deployed from a manager');
  const hadGwbridge = (await networkNames()).includes(GWBRIDGE);
  const wasActive = state === 'active';
  if (!wasActive) {
    try {
      await docker('swarm', 'init', '--advertise-addr', '127.0.0.1');
    } catch (error) {
      throw new Error(
        `docker swarm init --advertise-addr 127.0.0.1 failed (swarm state ${state}): ${(error as Error).message}`,
      );
    }
  }
  return {
    wasActive,
    async [Symbol.asyncDispose]() {
      if (!wasActive) await leaveSwarm();
      // A swarm that stays keeps it: its ingress sandbox holds an endpoint there (rm refuses).
      if (!hadGwbridge) await docker('network', 'rm', GWBRIDGE).catch(() => undefined);
    },
  };
}

/**
 * `docker stack deploy` of a stack file (the lab's by default) without a registry look-up
 * (the images are local builds). It reads no .env, unlike compose: every variable the file
 * names that the lab's settings define (environment, else .env) is passed, `env` over them.
 */
export async function deployStack(
  stack: string,
  env: Record<string, string> = {},
  file = SWARM_STACK_FILE,
): Promise<string> {
  const names = new Set([...readFileSync(file, 'utf8').matchAll(/\$\{([A-Z][A-Z0-9_]*)/g)].map(([, name]) => name));
  const settings = [...names].flatMap((name = '') => {
    try {
      return [[name, labSetting(name)] as const];
    } catch {
      return []; // Not a lab setting (USERS_REPLICAS...): the file's default applies.
    }
  });
  return runCli('docker', ['stack', 'deploy', '--resolve-image', 'never', '-c', file, stack], {
    env: { ...Object.fromEntries(settings), ...env },
  });
}

/** Every service of the stack runs as many tasks as it wants (running and, with a healthcheck, healthy). */
export async function stackConverged(stack: string): Promise<boolean> {
  const replicas = lines(await docker('stack', 'services', stack, '--format', '{{.Replicas}}'));
  return replicas.length > 0 && replicas.every((r) => /^(\d+)\/\1$/.test(r));
}

/**
 * Removes a stack and what `docker stack rm` leaves: it returns before the tasks stop,
 * removes the overlay networks only once no task uses them, and never the volumes.
 */
export async function removeStack(stack: string, timeoutMs = 60_000): Promise<void> {
  const label = `label=com.docker.stack.namespace=${stack}`;
  await docker('stack', 'rm', stack);
  await waitFor(() => tasksGone(label), timeoutMs, `the tasks of stack ${stack} gone`, 500);
  const networksGone = async () => {
    const networks = lines(await docker('network', 'ls', '--quiet', '--filter', label));
    for (const network of networks) await docker('network', 'rm', network).catch(() => undefined);
    return networks.length === 0;
  };
  await waitFor(networksGone, timeoutMs, `the overlay networks of stack ${stack} gone`, 500);
  const volumes = lines(await docker('volume', 'ls', '--quiet', '--filter', label));
  if (volumes.length > 0) await docker('volume', 'rm', ...volumes);
}
