// Builds the console's page into dist/public, which the server serves under / and /assets/.
import { copyFile, mkdir } from 'node:fs/promises';
import { build } from 'esbuild';

const outdir = 'dist/public';

await mkdir(outdir, { recursive: true });
await Promise.all([
  build({
    entryPoints: ['page/main.ts'],
    outfile: `${outdir}/app.js`,
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    minify: true,
    sourcemap: true,
    logLevel: 'warning',
  }),
  copyFile('page/index.html', `${outdir}/index.html`),
  copyFile('page/app.css', `${outdir}/app.css`),
]);
