#!/usr/bin/env node
// Usage (from a service folder): lab-bundle [entry=src/main.ts] [outfile=dist/main.js]
import { build } from 'esbuild';

const [entry = 'src/main.ts', outfile = 'dist/main.js'] = process.argv.slice(2);

await build({
  entryPoints: [entry],
  outfile,
  bundle: true,
  platform: 'node',
  target: 'node22',
  format: 'esm',
  sourcemap: 'linked',
  logLevel: 'warning',
  // pg's optional native binding (pg-native): loaded only on request, never installed here.
  external: ['pg-native'],
  // CommonJS dependencies (pino, express) call require(); an ES module has none,
  // so the bundle defines one. The alias avoids clashing with the app's own imports.
  banner: {
    js: "import { createRequire as __bundleCreateRequire } from 'node:module'; const require = __bundleCreateRequire(import.meta.url);",
  },
});
