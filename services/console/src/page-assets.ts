import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LogLevel } from '@lab/platform/config';
import { NotFoundError } from '@lab/platform/problem';
import type { FastifyPluginAsync } from 'fastify';
import { PageNotBuiltError } from './errors.ts';

/**
 * The built page (dist/public beside the bundled main.js), read into memory once at
 * start: a few small files, served without touching the disk or resolving a path a
 * client sent.
 */
export interface PageAsset {
  body: Buffer;
  contentType: string;
}

export interface PageAssets {
  index: PageAsset;
  /** By path under the page directory (`app.js`, `assets/app.js`). */
  files: ReadonlyMap<string, PageAsset>;
}

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.webp': 'image/webp',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

/** A page is a handful of files; past these, something else was copied in by mistake. */
const MAX_FILES = 500;
const MAX_TOTAL_BYTES = 32 * 1024 * 1024;

/** The page's files, or undefined when there is no built page (no directory, or no index.html in it). */
export function loadPageAssets(dir: string | URL): PageAssets | undefined {
  const root = typeof dir === 'string' ? dir : fileURLToPath(dir);
  if (!existsSync(join(root, 'index.html'))) return undefined;
  const files = new Map<string, PageAsset>();
  let total = 0;
  for (const entry of readdirSync(root, { recursive: true, encoding: 'utf8' })) {
    const path = join(root, entry);
    if (!statSync(path).isFile()) continue;
    const body = readFileSync(path);
    total += body.length;
    if (files.size >= MAX_FILES || total > MAX_TOTAL_BYTES) {
      throw new Error(`the page directory ${root} holds more than ${MAX_FILES} files or ${MAX_TOTAL_BYTES} bytes`);
    }
    files.set(entry.split(sep).join('/'), {
      body,
      contentType: CONTENT_TYPES[extname(entry).toLowerCase()] ?? 'application/octet-stream',
    });
  }
  return { index: files.get('index.html') as PageAsset, files };
}

/** GET /assets/<file>: the page's `assets/` directory if it has one, else its top level. */
export function findAsset(assets: PageAssets, file: string): PageAsset | undefined {
  return assets.files.get(`assets/${file}`) ?? assets.files.get(file);
}

/**
 * For every console response: the page loads only its own files and talks only to
 * this origin; no inline script, no CDN, no framing.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export interface PageRoutesOptions {
  page: PageAssets | undefined;
  logLevel: LogLevel;
}

/** GET / and GET /assets/<file>; without a built page, / says so with a 503. */
export const pageRoutes: FastifyPluginAsync<PageRoutesOptions> = async (app, { page, logLevel }) => {
  const quiet = { logLevel };

  app.get('/', quiet, async (_request, reply) => {
    if (page === undefined) throw new PageNotBuiltError();
    return reply.type(page.index.contentType).header('cache-control', 'no-cache').send(page.index.body);
  });

  app.get<{ Params: { '*': string } }>('/assets/*', quiet, async ({ params }, reply) => {
    const asset = page && findAsset(page, params['*']);
    if (asset === undefined) throw new NotFoundError('No such page asset');
    return reply.type(asset.contentType).header('cache-control', 'no-cache').send(asset.body);
  });
};
