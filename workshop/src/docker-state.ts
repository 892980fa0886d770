import { docker } from '@lab/lab-kit/docker';

/** The parts of `docker inspect` the exercise checks read. */
export interface ContainerInfo {
  Name: string;
  Config: { Image: string; Env: string[] | null; AttachStdout: boolean; Labels: Record<string, string> | null };
  State: { Status: string; Running: boolean; Health?: { Status: string } };
  HostConfig: { PortBindings: Record<string, { HostIp: string; HostPort: string }[]> | null };
  NetworkSettings: {
    Ports: Record<string, { HostIp: string; HostPort: string }[] | null> | null;
    Networks: Record<string, { IPAddress: string; IPAMConfig: { IPv4Address?: string } | null }>;
  };
  Mounts: { Type: string; Name?: string; Destination: string }[];
}

export interface NetworkInfo {
  Name: string;
  Driver: string;
  Internal: boolean;
  IPAM: { Config: { Subnet?: string }[] | null };
  Options: Record<string, string> | null;
}

export interface ImageInfo {
  RepoTags: string[];
  Config: { Healthcheck?: { Test: string[] } };
}

async function inspect<T>(kind: string, name: string, missing: string): Promise<T> {
  try {
    const [info] = JSON.parse(await docker(kind, 'inspect', name)) as T[];
    if (info) return info;
  } catch {
    // falls through to the plain-words message
  }
  throw new Error(missing);
}

export const container = (name: string) =>
  inspect<ContainerInfo>('container', name, `there is no container named ${name} (docker ps -a lists none)`);
export const network = (name: string) =>
  inspect<NetworkInfo>('network', name, `there is no network named ${name} (docker network ls lists none)`);
export const image = (ref: string) =>
  inspect<ImageInfo>('image', ref, `there is no image ${ref} (docker images lists none)`);

export async function runningContainer(name: string): Promise<ContainerInfo> {
  const info = await container(name);
  if (!info.State.Running)
    throw new Error(`${name} exists but is ${info.State.Status}; start it with docker start ${name}`);
  return info;
}

export function envOf(info: ContainerInfo, key: string): string | undefined {
  return info.Config.Env?.find((e) => e.startsWith(`${key}=`))?.slice(key.length + 1);
}

/** The host port a container port is published on, if any. */
export function hostPort(info: ContainerInfo, containerPort: string): string | undefined {
  return info.NetworkSettings.Ports?.[containerPort]?.find((b) => b.HostPort)?.HostPort;
}

/** Runs `node -e` inside a running container (every image here has node) and returns its stdout. */
export const nodeIn = (name: string, script: string) => docker('exec', name, 'node', '-e', script);
