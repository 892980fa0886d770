import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { buildImage, imagePresent } from './docker.ts';
import { CONSOLE_IMAGE, imageFor, labImage, labSetting, REPO_ROOT, SERVICES } from './lab-env.ts';
import { LOADGEN_IMAGE } from './loadgen.ts';

/**
 * Every image the project builds, with how to build it: the one place a script, a test or a
 * benchmark asks for an image. A script that starts an image goes through `ensureImage`, so it
 * builds what it runs on a fresh machine too (an image left by another script never counts).
 */
export interface ImageRecipe {
  image: string;
  dockerfile: string;
  context: string;
  /** Build arguments beyond NODE_IMAGE, resolved when the image is built. */
  buildArgs?: () => Promise<Record<string, string>>;
}

export const PROXY_IMAGE = labImage('bench-proxy');
export const REPLY_FROM_IMAGE = labImage('bench-reply-from');
export const NGINX_PROXY_IMAGE = labImage('bench-nginx');
export const OTLP_SINK_IMAGE = labImage('bench-otlp-sink');
export const OFFICIAL_NGINX_IMAGE = 'nginx:1.27-alpine';
export const LOCAL_NGINX_IMAGE = labImage('nginx', 'local');

const run = promisify(execFile);
let nginxBase: Promise<string> | undefined;

/**
 * The base of the nginx baseline: the official image when Docker has it or can pull it,
 * else one made from Debian's nginx by infra/offline-base/build-nginx.sh (built once, then kept).
 */
export function resolveNginxImage(): Promise<string> {
  nginxBase ??= (async () => {
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
  })();
  return nginxBase;
}

const fromRepoRoot = (image: string, dockerfile: string): ImageRecipe => ({
  image,
  dockerfile: `${REPO_ROOT}${dockerfile}`,
  context: REPO_ROOT,
});
const fromBenchDir = (image: string, dir: string, buildArgs?: ImageRecipe['buildArgs']): ImageRecipe => ({
  image,
  dockerfile: `${REPO_ROOT}bench/${dir}/Dockerfile`,
  context: `${REPO_ROOT}bench/${dir}`,
  ...(buildArgs ? { buildArgs } : {}),
});

export const IMAGE_RECIPES: readonly ImageRecipe[] = Object.freeze([
  ...SERVICES.map((service) => fromRepoRoot(imageFor(service), `services/${service}/Dockerfile`)),
  fromRepoRoot(CONSOLE_IMAGE, 'services/console/Dockerfile'),
  fromBenchDir(LOADGEN_IMAGE, 'loadgen'),
  fromBenchDir(PROXY_IMAGE, 'proxy'),
  fromBenchDir(REPLY_FROM_IMAGE, 'reply-from'),
  fromBenchDir(NGINX_PROXY_IMAGE, 'nginx', async () => ({ NGINX_IMAGE: await resolveNginxImage() })),
  fromBenchDir(OTLP_SINK_IMAGE, 'otlp-sink'),
]);

/** The images infra/dev/bootstrap.sh provides (pulled, or built from this machine's software). */
export const bootstrapImages = (env: NodeJS.ProcessEnv = process.env) => [
  labSetting('NODE_IMAGE', env),
  labSetting('POSTGRES_IMAGE', env),
];

export interface ImageBuilds {
  /** Builds `image` from its recipe unless this process already did; a bootstrap image must be present. */
  ensure(image: string): Promise<void>;
}

export interface ImageBuildsOptions {
  recipes?: readonly ImageRecipe[];
  bootstrap?: () => string[];
  build?: (recipe: ImageRecipe) => Promise<void>;
  present?: (image: string) => Promise<boolean>;
  log?: (message: string) => void;
}

export function createImageBuilds({
  recipes = IMAGE_RECIPES,
  bootstrap = bootstrapImages,
  build = async (recipe) => {
    await buildImage(recipe.image, recipe.dockerfile, recipe.context, await recipe.buildArgs?.());
  },
  present = imagePresent,
  log = (message) => process.stderr.write(`${message}\n`),
}: ImageBuildsOptions = {}): ImageBuilds {
  const done = new Map<string, Promise<void>>();
  const ensureOnce = async (image: string) => {
    const recipe = recipes.find((r) => r.image === image);
    if (recipe) {
      const startedAt = performance.now();
      await build(recipe);
      log(`built ${image} in ${((performance.now() - startedAt) / 1000).toFixed(1)} s`);
      return;
    }
    if (!bootstrap().includes(image)) {
      throw new Error(
        `${image} is neither an image the project builds (packages/lab-kit/src/images.ts) nor one infra/dev/bootstrap.sh provides`,
      );
    }
    if (!(await present(image))) {
      throw new Error(`${image} is missing; run: eval "$(bash infra/dev/bootstrap.sh)"`);
    }
  };
  return {
    ensure(image) {
      let pending = done.get(image);
      if (!pending) {
        pending = ensureOnce(image);
        // A failed build is tried again by the next caller, not remembered.
        pending.catch(() => done.delete(image));
        done.set(image, pending);
      }
      return pending;
    },
  };
}

/**
 * Builds (or checks) images in order, before anything starts, so no build runs beside a
 * measurement. One ImageBuilds per run, shared by everything the run starts.
 */
export async function ensureImages(images: readonly string[], builds: ImageBuilds): Promise<void> {
  for (const image of images) await builds.ensure(image);
}
