import { requireDocker } from '@lab/lab-kit/docker';
import { createImageBuilds, ensureImages } from '@lab/lab-kit/images';
import { CONSOLE_IMAGE, imageFor, resolveNodeImage, SERVICES } from '@lab/lab-kit/lab-env';
import { LOADGEN_IMAGE } from '@lab/lab-kit/loadgen';

/** What the test files start: every service, the lab console and the load generator. */
const TEST_IMAGES = [...SERVICES.map((service) => imageFor(service)), CONSOLE_IMAGE, LOADGEN_IMAGE];

/**
 * Runs once per `vitest run`: fails the whole suite with one clear line when
 * there is no Docker engine (never a silent skip), then builds every image the
 * test files start from its real Dockerfile, so test files only start containers.
 */
export default async function setup(): Promise<void> {
  try {
    await requireDocker();
  } catch (error) {
    throw new Error(`Container tests: ${(error as Error).message}`);
  }
  process.stdout.write(`building the test images from ${resolveNodeImage()}\n`);
  const builds = createImageBuilds({ log: (message) => process.stdout.write(`${message}\n`) });
  await ensureImages(TEST_IMAGES, builds);
}
