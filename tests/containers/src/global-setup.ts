import { GenericContainer, getContainerRuntimeClient } from 'testcontainers';
import { imageFor, REPO_ROOT, resolveNodeImage, SERVICES } from './images.ts';

/**
 * Runs once per `vitest run`: fails the whole suite with one clear line when
 * there is no Docker engine (never a silent skip), then builds every service
 * image from its real Dockerfile so test files only start containers.
 */
export default async function setup(): Promise<void> {
  try {
    await getContainerRuntimeClient();
  } catch (error) {
    const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new Error(
      `Container tests need a running Docker engine and none answered (${reason}). Run: eval "$(bash infra/dev/bootstrap.sh)"`,
    );
  }

  const nodeImage = resolveNodeImage();
  for (const service of SERVICES) {
    const startedAt = Date.now();
    await GenericContainer.fromDockerfile(REPO_ROOT, `services/${service}/Dockerfile`)
      .withBuildArgs(nodeImage ? { NODE_IMAGE: nodeImage } : {})
      .withCache(true)
      .build(imageFor(service), { deleteOnExit: false });
    process.stdout.write(
      `built ${imageFor(service)} from ${nodeImage ?? 'the Dockerfile default base'} in ${Date.now() - startedAt} ms\n`,
    );
  }
}
