import { buildImage, buildServiceImage, requireDocker } from '@lab/lab-kit/docker';
import { CONSOLE_IMAGE, imageFor, REPO_ROOT, resolveNodeImage, SERVICES } from '@lab/lab-kit/lab-env';
import { buildLoadgenImage, LOADGEN_IMAGE } from '@lab/lab-kit/loadgen';

/**
 * Runs once per `vitest run`: fails the whole suite with one clear line when
 * there is no Docker engine (never a silent skip), then builds every service
 * image from its real Dockerfile, and the load generator's, so test files only start containers.
 */
export default async function setup(): Promise<void> {
  try {
    await requireDocker();
  } catch (error) {
    throw new Error(`Container tests: ${(error as Error).message}`);
  }
  for (const service of SERVICES) {
    const ms = await buildServiceImage(service);
    process.stdout.write(`built ${imageFor(service)} from ${resolveNodeImage()} in ${Math.round(ms)} ms\n`);
  }
  const consoleMs = await buildImage(CONSOLE_IMAGE, `${REPO_ROOT}services/console/Dockerfile`, REPO_ROOT);
  process.stdout.write(`built ${CONSOLE_IMAGE} in ${Math.round(consoleMs)} ms\n`);
  const ms = await buildLoadgenImage();
  process.stdout.write(`built ${LOADGEN_IMAGE} in ${Math.round(ms)} ms\n`);
}
