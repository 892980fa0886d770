import { requireDocker } from '@lab/bench/docker';
import { composeProject } from '@lab/container-tests/compose';

/**
 * Once per run: fail every workshop test with one clear line when there is no
 * Docker engine (never a silent skip), and build the project's images the way a
 * learner does (`docker compose build`), so chapters and demos start from them.
 */
export default async function setup(): Promise<void> {
  try {
    await requireDocker();
  } catch (error) {
    throw new Error(
      `Workshop tests need a running Docker engine: ${(error as Error).message}. Run: eval "$(bash infra/dev/bootstrap.sh)"`,
    );
  }
  const startedAt = Date.now();
  const { compose } = await composeProject('mslab-workshop-build');
  await compose('--profile', 'monolith', 'build');
  process.stdout.write(`workshop: built the project's images with compose in ${Date.now() - startedAt} ms\n`);
}
