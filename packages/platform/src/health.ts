/**
 * Liveness says "the process works"; readiness says "send me traffic". Readiness
 * turns false the moment shutdown starts so a balancer stops routing here while
 * in-flight requests drain.
 */
export interface CheckResult {
  ok: boolean;
  [detail: string]: unknown;
}

export type HealthCheck = () => CheckResult | Promise<CheckResult>;

export interface HealthReport {
  statusCode: 200 | 503;
  body: {
    status: 'ok' | 'ready' | 'degraded' | 'not_ready' | 'draining';
    service: string;
    instance: string;
    checks?: Record<string, CheckResult>;
  };
}

interface RegisteredCheck {
  run: HealthCheck;
  /** A non-critical check is reported but does not make the service unready. */
  critical: boolean;
}

export class Health {
  readonly service: string;
  readonly instance: string;
  readonly #checks = new Map<string, RegisteredCheck>();
  #draining = false;

  constructor(service: string, instance: string) {
    this.service = service;
    this.instance = instance;
  }

  addCheck(name: string, run: HealthCheck, { critical = true }: { critical?: boolean } = {}): void {
    this.#checks.set(name, { run, critical });
  }

  startDraining(): void {
    this.#draining = true;
  }

  get draining(): boolean {
    return this.#draining;
  }

  live(): HealthReport {
    return { statusCode: 200, body: { status: 'ok', service: this.service, instance: this.instance } };
  }

  async ready(): Promise<HealthReport> {
    const identity = { service: this.service, instance: this.instance };
    if (this.#draining) return { statusCode: 503, body: { status: 'draining', ...identity } };
    const entries = await Promise.all(
      [...this.#checks].map(async ([name, check]) => {
        let result: CheckResult;
        try {
          result = await check.run();
        } catch (error) {
          result = { ok: false, error: error instanceof Error ? error.message : String(error) };
        }
        return { name, critical: check.critical, result };
      }),
    );
    const checks = Object.fromEntries(entries.map((e) => [e.name, e.result]));
    if (entries.some((e) => e.critical && !e.result.ok)) {
      return { statusCode: 503, body: { status: 'not_ready', ...identity, checks } };
    }
    const status = entries.some((e) => !e.result.ok) ? 'degraded' : 'ready';
    return { statusCode: 200, body: { status, ...identity, checks } };
  }
}
