// Prints an overlay's manifests, rendered by kustomize, after validating them strictly:
//   node tests/k8s/src/render-cli.ts local | kubectl apply -f -
// Nothing is printed to stdout unless every object validates, so a pipe never applies half.
import { OVERLAYS, renderOverlay } from './kustomize.ts';
import { formatProblem, validateObjects } from './validate-manifest.ts';

const overlay = process.argv[2];
if (!overlay || !OVERLAYS.includes(overlay)) {
  process.stderr.write(`usage: render-cli.ts <overlay>, one of: ${OVERLAYS.join(', ')}\n`);
  process.exit(2);
}
const { yaml, objects } = await renderOverlay(overlay);
const problems = await validateObjects(objects);
if (problems.length > 0) {
  process.stderr.write(`${problems.map(formatProblem).join('\n')}\n${problems.length} problem(s): nothing printed\n`);
  process.exit(1);
}
process.stdout.write(yaml);
process.stderr.write(`${overlay}: ${objects.length} objects, all valid\n`);
