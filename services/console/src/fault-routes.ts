import { NotFoundError } from '@lab/platform/problem';
import type { FastifyPluginAsync } from 'fastify';
import { type FaultResult, FaultsNotDeliveredError } from './errors.ts';
import { hostPort, type Poller } from './poller.ts';
import { faultTargets, type ReplicaEntry } from './snapshot.ts';

/**
 * PUT and DELETE /api/faults/:service[/:replica]: the console hands fault settings to
 * the lab port of each targeted replica (services started with LAB_FAULTS=on) and says
 * which took them. The console never touches Docker; it only talks to the lab ports.
 */
export interface FaultRoutesOptions {
  poller: Poller;
  labFaultsPort: number;
  fetch: typeof fetch;
}

export interface FaultChange {
  latencyMs?: number;
  errorRate?: number;
  errorStatus?: number;
  hang?: boolean;
  crash?: boolean;
}

/** A replica that does not take the settings in this long is reported as not reached. */
const FORWARD_TIMEOUT_MS = 2000;

const faultChangeSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    latencyMs: { type: 'integer', minimum: 0, maximum: 60_000 },
    errorRate: { type: 'number', minimum: 0, maximum: 1 },
    errorStatus: { type: 'integer', minimum: 400, maximum: 599 },
    hang: { type: 'boolean' },
    crash: { type: 'boolean' },
  },
} as const;

const serviceParams = {
  type: 'object',
  properties: { service: { type: 'string', maxLength: 64 }, replica: { type: 'string', maxLength: 256 } },
  required: ['service'],
} as const;

function errorText(error: unknown): string {
  const cause = (error as { cause?: { code?: unknown } }).cause;
  if (typeof cause?.code === 'string') return cause.code;
  return (error as Error).name === 'TimeoutError' ? `no answer within ${FORWARD_TIMEOUT_MS} ms` : 'unreachable';
}

export const faultRoutes: FastifyPluginAsync<FaultRoutesOptions> = async (app, { poller, labFaultsPort, fetch }) => {
  async function forward(target: ReplicaEntry, method: 'PUT' | 'DELETE', change?: FaultChange): Promise<FaultResult> {
    const replica = target.node.id;
    try {
      const response = await fetch(`http://${hostPort(target.ip, labFaultsPort)}/faults`, {
        method,
        ...(change ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(change) } : {}),
        signal: AbortSignal.timeout(FORWARD_TIMEOUT_MS),
      });
      await response.arrayBuffer();
      return { replica, ok: response.ok, status: response.status };
    } catch (error) {
      return { replica, ok: false, status: null, error: errorText(error) };
    }
  }

  async function change(method: 'PUT' | 'DELETE', service: string, replica: string | undefined, body?: FaultChange) {
    const targets = faultTargets(poller.view(), service);
    if (targets === undefined) throw new NotFoundError(`No service named ${service} is running behind this console`);
    const chosen =
      replica === undefined
        ? targets
        : targets.filter(({ node, ip }) => node.id === replica || node.address === replica || ip === replica);
    if (replica !== undefined && chosen.length === 0) {
      throw new NotFoundError(`${service} has no replica ${replica}`);
    }
    const results = await Promise.all(chosen.map((target) => forward(target, method, body)));
    if (!results.some((result) => result.ok)) throw new FaultsNotDeliveredError(service, results);
    // The next snapshot, pushed now, shows the settings as the replicas report them.
    await poller.refreshFaults(chosen.map(({ ip }) => ip));
    return { results };
  }

  type Params = { service: string; replica?: string };
  const put = { schema: { params: serviceParams, body: faultChangeSchema } };
  const remove = { schema: { params: serviceParams } };

  for (const path of ['/api/faults/:service', '/api/faults/:service/:replica']) {
    app.put<{ Params: Params; Body: FaultChange }>(path, put, async ({ params, body }) =>
      change('PUT', params.service, params.replica, body),
    );
    app.delete<{ Params: Params }>(path, remove, async ({ params }) =>
      change('DELETE', params.service, params.replica),
    );
  }
};
