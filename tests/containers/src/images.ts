import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export const SERVICES = ['hello', 'users', 'gateway', 'monolith'] as const;
export type ServiceName = (typeof SERVICES)[number];

/** The tag compose uses too, so the compose test starts from the images built here. */
export const imageFor = (service: ServiceName, tag = 'dev') => `microservices-lab/${service}:${tag}`;

export const SERVICE_PORTS: Record<ServiceName, number> = { hello: 8070, users: 8090, gateway: 8080, monolith: 8060 };

/**
 * The base image the Dockerfiles build FROM: NODE_IMAGE from the environment,
 * else from the repo's .env (where the bootstrap writes the offline base), else
 * the Dockerfiles' own default.
 */
export function resolveNodeImage(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.NODE_IMAGE) return env.NODE_IMAGE;
  const dotenv = `${REPO_ROOT}.env`;
  if (!existsSync(dotenv)) return undefined;
  const line = readFileSync(dotenv, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('NODE_IMAGE='));
  return line?.slice('NODE_IMAGE='.length).trim() || undefined;
}
