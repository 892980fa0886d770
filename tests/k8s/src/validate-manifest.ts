import { runValidateFunc, type ValidateFunc } from '@kubernetes-models/validate';
import { Ajv, type ErrorObject } from 'ajv';
import type { K8sObject } from './kustomize.ts';
import { STRICT_SCHEMA_ID, strictDefinitionFor, strictSchema } from './strict-schema.ts';

/** One reason an object would not be accepted as written: where, and what. */
export interface Problem {
  /** `Deployment/users` */
  object: string;
  /** JSON pointer into the object, `/spec/template/spec/containers/0` */
  path: string;
  message: string;
  /** `api`: kubernetes-models' schema (required fields, types, enums, formats); `strict`: unknown fields and types. */
  check: 'api' | 'strict';
}

export const formatProblem = (problem: Problem) =>
  `${problem.object} ${problem.path || '/'}: ${problem.message} (${problem.check})`;

// Union types: int-or-string fields are `type: [integer, string]`.
const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
ajv.addSchema(strictSchema);

const capitalize = (word: string) => `${word.charAt(0).toUpperCase()}${word.slice(1)}`;

const explain = (error: ErrorObject) =>
  error.keyword === 'additionalProperties'
    ? `unknown field "${(error.params as { additionalProperty: string }).additionalProperty}"`
    : (error.message ?? error.keyword);

/**
 * kubernetes-models ships one compiled JSON Schema validator per API type, named after its
 * OpenAPI definition: apps/v1 Deployment is `IoK8sApiAppsV1Deployment`, v1 Service
 * `IoK8sApiCoreV1Service`, networking.k8s.io/v1 NetworkPolicy `IoK8sApiNetworkingV1NetworkPolicy`.
 */
async function apiSchemaFor(apiVersion: string, kind: string): Promise<ValidateFunc<unknown> | undefined> {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['core', apiVersion];
  if (!group || !version || !/^[a-z0-9]+$/.test(version)) return undefined;
  const definition = `IoK8sApi${capitalize(group.split('.')[0] ?? '')}${capitalize(version)}${kind}`;
  try {
    const module = (await import(`kubernetes-models/_schemas/${definition}`)) as { validate: ValidateFunc<unknown> };
    return module.validate;
  } catch (error) {
    if ((error as { code?: string }).code === 'ERR_MODULE_NOT_FOUND') return undefined;
    throw error;
  }
}

/**
 * Everything that stops an object being accepted as written: the API's schema (required
 * fields, types, enumerations, formats such as int-or-string) and, strictly, any field the
 * API does not declare. An object of a kind neither knows is itself a problem: nothing
 * passes unchecked.
 */
export async function validateObject(object: K8sObject): Promise<Problem[]> {
  const name = `${object.kind}/${object.metadata?.name ?? '(no name)'}`;
  const problems: Problem[] = [];
  const apiSchema = await apiSchemaFor(object.apiVersion, object.kind);
  const strictDefinition = strictDefinitionFor(object.apiVersion, object.kind);
  if (!apiSchema || !strictDefinition) {
    return [{ object: name, path: '', message: `no schema for ${object.apiVersion} ${object.kind}`, check: 'api' }];
  }
  try {
    // Runs the compiled schema and words its errors in English (ajv-i18n), throwing on any.
    runValidateFunc(apiSchema, object);
  } catch (error) {
    const apiErrors = (error as { errors?: ErrorObject[] }).errors;
    if (!apiErrors) throw error;
    for (const apiError of apiErrors) {
      problems.push({ object: name, path: apiError.instancePath, message: explain(apiError), check: 'api' });
    }
  }
  const strict = ajv.getSchema(`${STRICT_SCHEMA_ID}#/definitions/${strictDefinition}`);
  if (!strict) throw new Error(`strict schema lost its definition ${strictDefinition}`);
  if (!strict(object)) {
    for (const error of strict.errors ?? []) {
      problems.push({ object: name, path: error.instancePath, message: explain(error), check: 'strict' });
    }
  }
  return problems;
}

export async function validateObjects(objects: readonly K8sObject[]): Promise<Problem[]> {
  return (await Promise.all(objects.map(validateObject))).flat();
}
