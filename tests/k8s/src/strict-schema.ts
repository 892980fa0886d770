import * as apiModels from '@kubernetes/client-node/dist/gen/models/all.js';
import type { AnySchemaObject } from 'ajv';

/**
 * Strict JSON Schemas for the Kubernetes API, built from the models that
 * @kubernetes/client-node generates from Kubernetes' own OpenAPI document (release-1.36).
 *
 * Kubernetes' published schemas, and the JSON Schemas generated from them, leave
 * `additionalProperties` open, so a misspelled field (`readinessProbes`) validates and is
 * then dropped by the API server without a word. Here every object type declares exactly
 * its fields and `additionalProperties: false`; free-form fields stay free-form.
 *
 * One rule is stricter than the API server: client-node types quantities as strings, so
 * `cpu: 0.5` fails here and must be written `cpu: 500m` (the server also takes numbers).
 */

/** The field list the generator emits for every API type (`V1Container.attributeTypeMap`). */
interface ApiField {
  baseName: string;
  type: string;
  format: string;
}

const isApiType = (value: unknown): value is { attributeTypeMap: ApiField[] } =>
  typeof value === 'function' && Array.isArray((value as { attributeTypeMap?: unknown }).attributeTypeMap);

const apiTypes = new Map(
  Object.entries(apiModels).flatMap(([name, value]) => (isApiType(value) ? [[name, value.attributeTypeMap]] : [])),
);

const ARRAY = /^Array<(.+)>$/;
const MAP = /^\{ \[key: string\]: (.+); \}$/;

function fieldSchema(type: string, format: string): AnySchemaObject {
  const array = ARRAY.exec(type);
  if (array?.[1]) return { type: 'array', items: fieldSchema(array[1], '') };
  const map = MAP.exec(type);
  if (map?.[1]) return { type: 'object', additionalProperties: fieldSchema(map[1], '') };
  switch (type) {
    case 'string':
    case 'Date':
    // Events' microsecond timestamps: a string in the API; the one type referred to without a model.
    case 'V1MicroTime':
      return { type: 'string' };
    case 'boolean':
      return { type: 'boolean' };
    case 'number':
      return { type: format === 'int32' || format === 'int64' ? 'integer' : 'number' };
    case 'IntOrString':
      return { type: ['integer', 'string'] };
    // RawExtension, JSON and the like: any value, as in the API.
    case 'any':
      return {};
    default:
      if (!apiTypes.has(type)) throw new Error(`client-node declares a field of unknown type ${type}`);
      return { $ref: `#/definitions/${type}` };
  }
}

export const STRICT_SCHEMA_ID = 'k8s-strict';

/** One schema document holding every API type as a definition, each closed to unknown fields. */
export const strictSchema: AnySchemaObject = {
  $id: STRICT_SCHEMA_ID,
  definitions: Object.fromEntries(
    [...apiTypes].map(([name, fields]) => [
      name,
      {
        type: 'object',
        properties: Object.fromEntries(fields.map((field) => [field.baseName, fieldSchema(field.type, field.format)])),
        additionalProperties: false,
      },
    ]),
  ),
};

/** The definition of a top-level kind: apps/v1 Deployment is `V1Deployment`, autoscaling/v2 HorizontalPodAutoscaler `V2HorizontalPodAutoscaler`. */
export function strictDefinitionFor(apiVersion: string, kind: string): string | undefined {
  const version = apiVersion.split('/').at(-1) ?? '';
  const name = `${version.charAt(0).toUpperCase()}${version.slice(1)}${kind}`;
  return apiTypes.has(name) ? name : undefined;
}
