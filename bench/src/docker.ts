import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BENCH_ROOT = fileURLToPath(new URL('../', import.meta.url));

/** The docker CLI; stderr's first line becomes the error message. */
export async function docker(...args: string[]): Promise<string> {
  try {
    const { stdout } = await run('docker', args, { maxBuffer: 64 * 1024 * 1024 });
    return stdout.trim();
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim();
    throw new Error(`docker ${args.slice(0, 2).join(' ')}: ${stderr?.split('\n')[0] || (error as Error).message}`);
  }
}

/** The engine's version, or one line saying why there is none. */
export async function requireDocker(): Promise<string> {
  try {
    return await docker('version', '--format', '{{.Server.Version}}');
  } catch (error) {
    throw new Error(`a running Docker engine is needed and none answered (${(error as Error).message})`);
  }
}

/** As tests/containers: NODE_IMAGE from the environment, else the repo's .env, else the Dockerfiles' default. */
export function resolveNodeImage(env: NodeJS.ProcessEnv = process.env): string {
  if (env.NODE_IMAGE) return env.NODE_IMAGE;
  const dotenv = `${REPO_ROOT}.env`;
  const line = existsSync(dotenv)
    ? readFileSync(dotenv, 'utf8')
        .split('\n')
        .find((l) => l.startsWith('NODE_IMAGE='))
    : undefined;
  return line?.slice('NODE_IMAGE='.length).trim() || 'node:24.21-alpine';
}

export const SERVICE_IMAGES = ['hello', 'users', 'gateway', 'monolith'] as const;
export type ServiceImage = (typeof SERVICE_IMAGES)[number];
export const serviceImage = (service: ServiceImage) => `microservices-lab/${service}:dev`;
export const LOADGEN_IMAGE = 'microservices-lab/bench-loadgen:dev';
export const PROXY_IMAGE = 'microservices-lab/bench-proxy:dev';
export const REPLY_FROM_IMAGE = 'microservices-lab/bench-reply-from:dev';
export const NGINX_PROXY_IMAGE = 'microservices-lab/bench-nginx:dev';
export const OFFICIAL_NGINX_IMAGE = 'nginx:1.27-alpine';
export const LOCAL_NGINX_IMAGE = 'microservices-lab/nginx:local';

const imagePresent = (image: string) =>
  docker('image', 'inspect', '--format', '{{.Id}}', image).then(
    () => true,
    () => false,
  );

/**
 * The base of the nginx baseline: the official image when Docker has it or can pull it,
 * else one made from Debian's nginx by infra/offline-base/build-nginx.sh (built once, then kept).
 */
export async function resolveNginxImage(): Promise<string> {
  if (await imagePresent(OFFICIAL_NGINX_IMAGE)) return OFFICIAL_NGINX_IMAGE;
  // As infra/dev/bootstrap.sh: a registry that does not answer should not hang the run.
  const pulled = await run('docker', ['pull', '--quiet', OFFICIAL_NGINX_IMAGE], { timeout: 60_000 }).then(
    () => true,
    () => false,
  );
  if (pulled) return OFFICIAL_NGINX_IMAGE;
  if (await imagePresent(LOCAL_NGINX_IMAGE)) return LOCAL_NGINX_IMAGE;
  try {
    await run('bash', [`${REPO_ROOT}infra/offline-base/build-nginx.sh`, LOCAL_NGINX_IMAGE], {
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim().split('\n').at(-1);
    throw new Error(`infra/offline-base/build-nginx.sh: ${stderr || (error as Error).message}`);
  }
  return LOCAL_NGINX_IMAGE;
}

/**
 * Builds a service image from its real Dockerfile (repo root context), exactly as
 * the README and the container tests do, or a bench image from its own folder.
 */
export async function buildImage(
  image: string,
  dockerfile: string,
  context: string,
  buildArgs: Record<string, string> = {},
): Promise<number> {
  const startedAt = performance.now();
  const args = Object.entries({ NODE_IMAGE: resolveNodeImage(), ...buildArgs }).flatMap(([key, value]) => [
    '--build-arg',
    `${key}=${value}`,
  ]);
  await docker('build', '--quiet', ...args, '-f', dockerfile, '-t', image, context);
  return performance.now() - startedAt;
}

export interface ContainerSpec {
  /** Name suffix, unique within a run. */
  role: string;
  image: string;
  /** The DNS name other containers use; replicas share one. */
  alias?: string;
  env?: Record<string, string>;
  /** Which cores; see CPU_LAYOUT in deployments.ts. */
  cpuset: string;
  memoryMiB?: number;
  /** A named volume mounted at /data. */
  volume?: string;
  /** A container port to publish on 127.0.0.1 (a random host port), for host-side probes. */
  publish?: number;
  /** The same least-privilege settings as docker-compose.yml. */
  hardened?: boolean;
  /** Replaces the image's CMD. */
  command?: string[];
}

export interface Container {
  id: string;
  role: string;
  /** `http://127.0.0.1:<port>` when the spec published a port. */
  hostUrl?: string;
}

/**
 * Everything one run creates, labelled with its run id so teardown removes exactly
 * that (and nothing another run or a CI job started), even after a failure.
 */
export class BenchSession {
  readonly name: string;
  readonly runId = randomBytes(4).toString('hex');
  readonly label: string;
  readonly network: string;
  readonly #volumes: string[] = [];
  #networkCreated = false;

  constructor(name: string) {
    this.name = name;
    this.label = `mslab.bench.run=${this.runId}`;
    this.network = `mslab-bench-${name}-${this.runId}`;
  }

  async createNetwork(): Promise<void> {
    // Not --internal: the gateway and the monolith publish a port to 127.0.0.1 for host probes.
    await docker('network', 'create', '--label', this.label, this.network);
    this.#networkCreated = true;
  }

  async createVolume(suffix: string): Promise<string> {
    const volume = `mslab-bench-${this.runId}-${suffix}`;
    this.#volumes.push(volume);
    await docker('volume', 'create', '--label', this.label, volume);
    return volume;
  }

  async run(spec: ContainerSpec): Promise<Container> {
    const args = ['run', '-d', '--name', `mslab-bench-${this.runId}-${spec.role}`, '--label', this.label];
    args.push('--network', this.network, '--init', '--cpuset-cpus', spec.cpuset);
    if (spec.alias) args.push('--network-alias', spec.alias);
    if (spec.memoryMiB) args.push('--memory', `${spec.memoryMiB}m`);
    if (spec.hardened) {
      args.push('--read-only', '--tmpfs', '/tmp:rw,noexec,nosuid', '--cap-drop', 'ALL');
      args.push('--security-opt', 'no-new-privileges:true', '--pids-limit', '64');
      // A crashed process comes back, as under compose; `docker rm -f` still removes it.
      args.push('--restart', 'unless-stopped');
    }
    if (spec.volume) args.push('-v', `${spec.volume}:/data`);
    // A host port picked here, not by Docker: Docker picks a new one when a crashed container restarts.
    const hostPort = spec.publish ? await freePort() : 0;
    if (spec.publish) args.push('-p', `127.0.0.1:${hostPort}:${spec.publish}`);
    for (const [key, value] of Object.entries(spec.env ?? {})) args.push('-e', `${key}=${value}`);
    const id = await docker(...args, spec.image, ...(spec.command ?? []));
    const container: Container = { id, role: spec.role };
    if (spec.publish) container.hostUrl = `http://127.0.0.1:${hostPort}`;
    return container;
  }

  /** Removes this run's containers, network and volumes, whatever state they are in. */
  async teardown(): Promise<void> {
    const ids = (await docker('ps', '-aq', '--filter', `label=${this.label}`).catch(() => ''))
      .split('\n')
      .filter(Boolean);
    if (ids.length > 0) await docker('rm', '-f', '-v', ...ids).catch(() => '');
    if (this.#networkCreated) await docker('network', 'rm', this.network).catch(() => '');
    for (const volume of this.#volumes) await docker('volume', 'rm', '-f', volume).catch(() => '');
  }
}

/** A port nothing on 127.0.0.1 listens on right now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** The summed memory of some containers, as `docker stats --no-stream` reports it (MiB). */
export async function memoryMiB(containers: Container[]): Promise<number> {
  const out = await docker('stats', '--no-stream', '--format', '{{.MemUsage}}', ...containers.map((c) => c.id));
  return out
    .split('\n')
    .map((line) => parseSize(line.split('/')[0] ?? ''))
    .reduce((sum, mib) => sum + mib, 0);
}

const UNITS: Record<string, number> = {
  B: 1 / 2 ** 20,
  KiB: 1 / 1024,
  MiB: 1,
  GiB: 1024,
  kB: 1e3 / 2 ** 20,
  MB: 1e6 / 2 ** 20,
};

function parseSize(text: string): number {
  const match = /([\d.]+)\s*([A-Za-z]+)/.exec(text.trim());
  return match ? Number(match[1]) * (UNITS[match[2] ?? ''] ?? Number.NaN) : Number.NaN;
}

/** Moves running containers to other cores; a restart keeps the new setting. */
export async function setCpuset(containers: Container[], cpuset: string): Promise<void> {
  await docker('update', '--cpuset-cpus', cpuset, ...containers.map((c) => c.id));
}

/** An image's size in bytes, base layers included. */
export async function imageBytes(image: string): Promise<number> {
  return Number(await docker('image', 'inspect', '--format', '{{.Size}}', image));
}

/**
 * The service process's pid, as a shell expression run inside the container: with
 * --init, PID 1 is docker-init and the service its only child.
 */
const MAIN_PID = '$(cat /proc/1/task/1/children)';

/**
 * SIGKILL the service's node process from inside, as a crash would: the container
 * exits non-zero and its restart policy brings it back. `docker kill` would not do:
 * Docker counts it as a manual stop and never restarts the container.
 */
export async function killNodeProcess(container: Container): Promise<void> {
  await docker('exec', container.id, 'sh', '-c', `kill -KILL ${MAIN_PID}`);
}

export interface ProcessMemory {
  /** Resident now (VmRSS), MiB: the node or nginx binary's shared pages included. */
  rssMiB: number;
  /** Of that, the process's own anonymous memory (RssAnon): heap, buffers, compiled code. */
  privateMiB: number;
  /** The most it has been resident since it started (VmHWM), MiB. */
  peakMiB: number;
}

/**
 * The resident memory of a container's service process and its children (nginx's
 * workers), summed, read from /proc inside the container. Pages that a forked child
 * still shares with its parent count twice, so a multi-process figure is an upper bound.
 */
export async function processMemory(container: Container): Promise<ProcessMemory> {
  const out = await docker(
    'exec',
    container.id,
    'sh',
    '-c',
    `main=${MAIN_PID}; for pid in $main $(cat /proc/$main/task/*/children); do cat /proc/$pid/status; done`,
  );
  const mib = (field: string) =>
    out
      .split('\n')
      .filter((line) => line.startsWith(`${field}:`))
      .reduce((sum, line) => sum + Number.parseInt(line.slice(field.length + 1), 10), 0) / 1024;
  return { rssMiB: mib('VmRSS'), privateMiB: mib('RssAnon'), peakMiB: mib('VmHWM') };
}

export async function cpuModel(): Promise<string> {
  const line = readFileSync('/proc/cpuinfo', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('model name'));
  return line?.split(':')[1]?.trim() ?? 'unknown CPU';
}
