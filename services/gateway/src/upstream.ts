import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import type { CheckResult } from '@lab/platform/health';
import { UpstreamTimeoutError, UpstreamUnavailableError } from '@lab/platform/problem';
import { Agent } from 'undici';
import type { UpstreamConfig } from './config.ts';

/** RFC 9110 7.6.1: connection-specific headers are never forwarded by a proxy. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
]);

export function withoutHopByHop(headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>) {
  const kept: Record<string, string | string[]> = {};
  for (const [key, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(key.toLowerCase())) kept[key] = value;
  }
  return kept;
}

export interface ForwardRequest {
  method: string;
  /** Path and query as the upstream should see them. */
  path: string;
  headers: Record<string, string | string[]>;
  body?: Buffer;
}

export interface ForwardResponse {
  statusCode: number;
  headers: Record<string, string | string[]>;
  body: Readable;
}

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

export interface UpstreamOptions extends UpstreamConfig {
  connectTimeoutMs: number;
  responseTimeoutMs: number;
  probeTimeoutMs: number;
}

/**
 * One upstream service reached through a keep-alive connection pool. The idle
 * keep-alive (4 s) stays below Node's server default (5 s), so the upstream never
 * closes a socket the gateway is about to reuse.
 */
export class Upstream {
  readonly name: string;
  readonly prefix: string;
  readonly baseUrl: string;
  readonly #agent: Agent;
  readonly #responseTimeoutMs: number;
  readonly #probeTimeoutMs: number;

  constructor(options: UpstreamOptions) {
    this.name = options.name;
    this.prefix = options.prefix;
    this.baseUrl = options.baseUrl;
    this.#responseTimeoutMs = options.responseTimeoutMs;
    this.#probeTimeoutMs = options.probeTimeoutMs;
    this.#agent = new Agent({
      connect: { timeout: options.connectTimeoutMs },
      keepAliveTimeout: 4_000,
      keepAliveMaxTimeout: 4_000,
    });
  }

  /** The path the upstream sees for a public URL: the prefix is stripped. */
  upstreamPath(publicUrl: string): string {
    const rest = publicUrl.slice(this.prefix.length);
    return rest.startsWith('/') ? rest : `/${rest}`;
  }

  async forward(request: ForwardRequest): Promise<ForwardResponse> {
    try {
      const response = await this.#agent.request({
        origin: this.baseUrl,
        path: request.path,
        method: request.method as 'GET',
        headers: request.headers,
        body: request.body ?? null,
        headersTimeout: this.#responseTimeoutMs,
        bodyTimeout: this.#responseTimeoutMs,
      });
      return {
        statusCode: response.statusCode,
        headers: withoutHopByHop(response.headers as Record<string, string | string[] | undefined>),
        body: response.body,
      };
    } catch (error) {
      throw this.#translate(error);
    }
  }

  #translate(error: unknown): Error {
    const code = (error as { code?: string }).code ?? '';
    if (TIMEOUT_CODES.has(code)) return new UpstreamTimeoutError(this.name, this.#responseTimeoutMs);
    return new UpstreamUnavailableError(this.name, 502);
  }

  /** Readiness of the upstream as the gateway sees it, for the gateway's own report. */
  async probe(): Promise<CheckResult> {
    const startedAt = performance.now();
    try {
      const response = await this.#agent.request({
        origin: this.baseUrl,
        path: '/health/ready',
        method: 'GET',
        headersTimeout: this.#probeTimeoutMs,
        bodyTimeout: this.#probeTimeoutMs,
        signal: AbortSignal.timeout(this.#probeTimeoutMs),
      });
      await response.body.dump();
      return {
        ok: response.statusCode === 200,
        statusCode: response.statusCode,
        latencyMs: Math.round(performance.now() - startedAt),
      };
    } catch (error) {
      return { ok: false, error: (error as { code?: string }).code ?? (error as Error).message };
    }
  }

  close(): Promise<void> {
    return this.#agent.close();
  }
}
