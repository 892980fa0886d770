import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { promisify } from 'node:util';
import { imageFor, REPO_ROOT, resolveNodeImage, type ServiceName } from './lab-env.ts';

const execFileAsync = promisify(execFile);

/** A CLI command's stdout, trimmed; stderr's first line becomes the error message. */
export async function runCli(
  command: string,
  args: string[],
  options: { timeoutMs?: number; env?: Record<string, string> } = {},
): Promise<string> {
  try {
    const { stdout } = await execFileAsync(command, args, {
      maxBuffer: 64 * 1024 * 1024,
      ...(options.timeoutMs ? { timeout: options.timeoutMs } : {}),
      ...(options.env ? { env: { ...process.env, ...options.env } } : {}),
    });
    return stdout.trim();
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim();
    throw new Error(`${command} ${args.slice(0, 2).join(' ')}: ${stderr?.split('\n')[0] || (error as Error).message}`);
  }
}

/** The docker CLI, as a workshop attendee would type it: kill, pause, network disconnect... */
export const docker = (...args: string[]): Promise<string> => runCli('docker', args);

/** The engine's version, or one line saying why there is none and how to get one. */
export async function requireDocker(): Promise<string> {
  try {
    return await docker('version', '--format', '{{.Server.Version}}');
  } catch (error) {
    throw new Error(
      `a running Docker engine is needed and none answered (${(error as Error).message}). Run: eval "$(bash infra/dev/bootstrap.sh)"`,
    );
  }
}

export const imagePresent = (image: string) =>
  docker('image', 'inspect', '--format', '{{.Id}}', image).then(
    () => true,
    () => false,
  );

/** An image's size in bytes, base layers included. */
export const imageBytes = async (image: string) =>
  Number(await docker('image', 'inspect', '--format', '{{.Size}}', image));

/** Builds an image (classic builder and BuildKit alike) with the lab's NODE_IMAGE; returns how long it took (ms). */
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

/** A service image from its real Dockerfile, with the repo root as context, as compose builds it. */
export const buildServiceImage = (
  service: ServiceName,
  { tag, buildArgs }: { tag?: string; buildArgs?: Record<string, string> } = {},
) => buildImage(imageFor(service, tag), `${REPO_ROOT}services/${service}/Dockerfile`, REPO_ROOT, buildArgs);

/** The parts of `docker inspect <container>` the lab reads. */
export interface ContainerInfo {
  Id: string;
  RestartCount: number;
  State: { Running: boolean; StartedAt: string; ExitCode: number };
  Config: { User: string; Labels: Record<string, string> };
  HostConfig: {
    ReadonlyRootfs: boolean;
    CapDrop: string[] | null;
    SecurityOpt: string[] | null;
    PidsLimit: number | null;
    Memory: number;
  };
  NetworkSettings: {
    Ports: Record<string, unknown[] | null> | null;
    Networks: Record<string, { IPAddress: string }> | null;
  };
}

export async function inspectContainer(id: string): Promise<ContainerInfo> {
  const [info] = JSON.parse(await docker('container', 'inspect', id)) as ContainerInfo[];
  if (!info) throw new Error(`docker inspect ${id}: no such container`);
  return info;
}

/** How many host ports a container publishes. */
export const publishedPorts = (info: ContainerInfo) =>
  Object.values(info.NetworkSettings.Ports ?? {}).flatMap((bindings) => bindings ?? []).length;

/** A host port nothing listens on now, for a publish that must name its host port (the swarm stack's). */
export async function freeHostPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Docker names a container's host after the first 12 characters of its id (what x-served-by carries). */
export const dockerHostname = (id: string) => id.slice(0, 12);

/** Removes every container carrying `label` (key or key=value), whatever state it is in, with its anonymous volumes. */
export async function removeLabelled(label: string): Promise<void> {
  const ids = (await docker('ps', '-aq', '--filter', `label=${label}`).catch(() => '')).split('\n').filter(Boolean);
  if (ids.length > 0) await docker('rm', '-f', '-v', ...ids).catch(() => '');
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
export async function killNodeProcess(containerId: string): Promise<void> {
  await docker('exec', containerId, 'sh', '-c', `kill -KILL ${MAIN_PID}`);
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
export async function processMemory(containerId: string): Promise<ProcessMemory> {
  const out = await docker(
    'exec',
    containerId,
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

/** The summed memory of some containers, as `docker stats --no-stream` reports it (MiB). */
export async function memoryMiB(containerIds: string[]): Promise<number> {
  const out = await docker('stats', '--no-stream', '--format', '{{.MemUsage}}', ...containerIds);
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

export function cpuModel(): string {
  const line = readFileSync('/proc/cpuinfo', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('model name'));
  return line?.split(':')[1]?.trim() ?? 'unknown CPU';
}
