import { composeProject } from '@lab/lab-kit/compose';
import { requireDocker } from '@lab/lab-kit/docker';

/**
 * Once per run: fail every workshop test with one clear line when there is no
 * Docker engine (never a silent skip), and build the project's images the way a
 * learner does (`docker compose build`), so chapters and demos start from them.
 */
export default async function setup(): Promise<void> {
  await requireDocker().catch((error: Error) => {
    throw new Error(`Workshop tests: ${error.message}`);
  });
  const startedAt = Date.now();
  const { compose } = await composeProject('mslab-workshop-build');
  await compose('--profile', 'monolith', 'build');
  process.stdout.write(`workshop: built the project's images with compose in ${Date.now() - startedAt} ms\n`);
}
