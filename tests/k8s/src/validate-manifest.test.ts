import { beforeAll, describe, expect, it } from 'vitest';
import { type K8sObject, renderOverlay } from './kustomize.ts';
import { strictSchema } from './strict-schema.ts';
import { formatProblem, validateObject } from './validate-manifest.ts';

interface Container {
  name: string;
  [field: string]: unknown;
}

let deployment: K8sObject;

/** A deployment as rendered, with one change made to its first container. */
function renderedDeploymentWith(change: (spec: Record<string, unknown>, container: Container) => void): K8sObject {
  const copy = structuredClone(deployment);
  const spec = copy.spec as { replicas?: unknown; template: { spec: { containers: Container[] } } };
  const container = spec.template.spec.containers[0];
  if (!container) throw new Error(`${copy.metadata.name} has no container`);
  change(spec as Record<string, unknown>, container);
  return copy;
}

describe('the manifest validator', () => {
  beforeAll(async () => {
    const { objects } = await renderOverlay('local');
    const found = objects.find((object) => object.kind === 'Deployment' && object.metadata.name === 'users');
    if (!found) throw new Error('the local overlay renders no users Deployment');
    deployment = found;
  });

  it('passes the rendered Deployment as it is', async () => {
    expect((await validateObject(deployment)).map(formatProblem)).toEqual([]);
  });

  it('reports a misspelled field and a wrong type, each where it is', async () => {
    const broken = renderedDeploymentWith((spec, container) => {
      container.readinessProbes = container.readinessProbe;
      spec.replicas = 'two';
    });
    const problems = (await validateObject(broken)).map(formatProblem);
    expect(problems).toContain(
      'Deployment/users /spec/template/spec/containers/0: unknown field "readinessProbes" (strict)',
    );
    expect(problems).toContain('Deployment/users /spec/replicas: must be integer (api)');
    expect(problems).toContain('Deployment/users /spec/replicas: must be integer (strict)');
  });

  it('needs its strict check: the API schema alone lets an unknown field through', async () => {
    const misspelled = renderedDeploymentWith((_spec, container) => {
      container.livenesProbe = container.livenessProbe;
    });
    const problems = await validateObject(misspelled);
    expect(problems.filter((problem) => problem.check === 'api')).toEqual([]);
    expect(problems.map(formatProblem)).toEqual([
      'Deployment/users /spec/template/spec/containers/0: unknown field "livenesProbe" (strict)',
    ]);
  });

  it('reports unknown fields at any depth, metadata included', async () => {
    const broken = renderedDeploymentWith((spec, container) => {
      (container.securityContext as Record<string, unknown>).readOnlyRootFileSystem = true;
      (spec.selector as Record<string, unknown>).matchLabel = { app: 'users' };
    });
    broken.metadata = { ...broken.metadata, label: { team: 'lab' } } as K8sObject['metadata'];
    expect((await validateObject(broken)).map(formatProblem).sort()).toEqual([
      'Deployment/users /metadata: unknown field "label" (strict)',
      'Deployment/users /spec/selector: unknown field "matchLabel" (strict)',
      'Deployment/users /spec/template/spec/containers/0/securityContext: unknown field "readOnlyRootFileSystem" (strict)',
    ]);
  });

  it('reports a missing required field and a value outside an enumeration', async () => {
    const broken = renderedDeploymentWith((spec, container) => {
      delete spec.selector;
      container.imagePullPolicy = 'Sometimes';
    });
    expect((await validateObject(broken)).map(formatProblem).sort()).toEqual([
      'Deployment/users /spec/template/spec/containers/0/imagePullPolicy: must be equal to one of the allowed values (api)',
      'Deployment/users /spec: must have required property selector (api)',
    ]);
  });

  it('fails an object of a kind it has no schema for, rather than passing it unchecked', async () => {
    const unknown: K8sObject = { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } };
    expect((await validateObject(unknown)).map(formatProblem)).toEqual([
      'Widget/w /: no schema for example.com/v1 Widget (api)',
    ]);
  });

  it('closes every API object type of its strict schema to undeclared fields', () => {
    const definitions = Object.values(strictSchema.definitions as Record<string, Record<string, unknown>>);
    // client-node 2.0.1 generates 757 types from Kubernetes 1.36's OpenAPI document.
    expect(definitions.length).toBeGreaterThan(700);
    expect(definitions.filter((definition) => definition.additionalProperties !== false)).toEqual([]);
  });
});
