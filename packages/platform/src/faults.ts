import type { ServerResponse } from 'node:http';
import { isIP, type Socket } from 'node:net';
import { type FieldError, HttpError, InjectedFaultError, ValidationError } from './problem.js';
import { recordFailure } from './request-failure.js';

/**
 * Lab fault injection (LAB_FAULTS): a learner slows, fails, hangs or crashes one process
 * through its lab port (faults-listener.ts) and watches the gateway and the console react.
 * The faults apply to every request on the main port but probes and scrapes.
 */
export interface FaultSettings {
  /** Every request waits this long before it is handled. */
  latencyMs: number;
  /** The share of requests (0 to 1) answered with `errorStatus` instead of being handled. */
  errorRate: number;
  errorStatus: number;
  /** Requests are never answered. */
  hang: boolean;
}

/** The body of `PUT /faults`: settings (an omitted one is off) and a one-off crash. */
export interface FaultRequest {
  settings: Partial<FaultSettings>;
  crash: boolean;
}

const isIntegerFrom = (min: number, max: number) => (value: unknown) =>
  Number.isInteger(value) && (value as number) >= min && (value as number) <= max;

const FIELD_RULES: Readonly<Record<string, readonly [(value: unknown) => boolean, string]>> = {
  latencyMs: [isIntegerFrom(0, 60_000), 'must be an integer from 0 to 60000'],
  errorRate: [(value) => typeof value === 'number' && value >= 0 && value <= 1, 'must be a number from 0 to 1'],
  errorStatus: [isIntegerFrom(400, 599), 'must be an integer from 400 to 599'],
  hang: [(value) => typeof value === 'boolean', 'must be true or false'],
  crash: [(value) => typeof value === 'boolean', 'must be true or false'],
};

/** Checks a parsed `PUT /faults` body; every problem is named in one ValidationError. */
export function parseFaultRequest(body: unknown): FaultRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ValidationError([{ field: 'body', message: 'must be a JSON object' }]);
  }
  const errors: FieldError[] = [];
  for (const [name, value] of Object.entries(body)) {
    const rule = Object.hasOwn(FIELD_RULES, name) ? FIELD_RULES[name] : undefined;
    if (rule === undefined) errors.push({ field: `body/${name}`, message: 'is not an allowed field' });
    else if (!rule[0](value)) errors.push({ field: `body/${name}`, message: rule[1] });
  }
  if (errors.length > 0) throw new ValidationError(errors);
  const { crash = false, ...settings } = body as Partial<FaultSettings> & { crash?: boolean };
  return { settings, crash };
}

/** A page elsewhere, or a DNS-rebound name, asking this browser to talk to a lab surface. */
export class UntrustedOriginError extends HttpError {
  constructor(refused: 'host' | 'origin') {
    super(
      403,
      'UNTRUSTED_ORIGIN',
      refused === 'host'
        ? 'The lab answers only requests addressed to an IP address or a single-label name such as localhost'
        : 'The lab takes no request from a page of another origin',
    );
  }
}

/**
 * The lab's surfaces (the console, every lab port) are reached only from this machine and
 * the compose networks, but a browser here can be made to call them: any page can send to
 * localhost, and a DNS-rebound name reaches them as that page's own origin, free to read the
 * answers. So they answer only for a Host that is an IP or a single-label name (localhost,
 * console, a compose service), which no public name is, and only to their own origin.
 */
export function untrustedOrigin(
  host: string | undefined,
  origin: string | undefined,
): UntrustedOriginError | undefined {
  const name = (host ?? '').replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1');
  if (name === '' || (isIP(name) === 0 && name.includes('.'))) return new UntrustedOriginError('host');
  if (origin !== undefined && origin !== `http://${host}` && origin !== `https://${host}`) {
    return new UntrustedOriginError('origin');
  }
  return undefined;
}

type Proceed = (error?: HttpError) => void;

interface DelayedRequest {
  res: ServerResponse;
  timer: NodeJS.Timeout;
  proceed: () => void;
}

/**
 * The process's fault settings and the requests they hold. Adapters (fastify.ts,
 * express.ts) exist only when LAB_FAULTS is on and check `current` once per request;
 * only while a fault is active does a request go through `meet`.
 */
export class Faults {
  #active: Readonly<FaultSettings> | null = null;
  #released = false;
  readonly #random: () => number;
  readonly #hung = new Set<Socket>();
  readonly #delayed = new Set<DelayedRequest>();

  constructor({ random = Math.random }: { random?: () => number } = {}) {
    this.#random = random;
  }

  /** The active settings, or null when no fault is active. */
  get current(): Readonly<FaultSettings> | null {
    return this.#active;
  }

  /** Replaces the active settings (an omitted one is off); settings with every fault off clear them. */
  set({ latencyMs = 0, errorRate = 0, errorStatus = 500, hang = false }: Partial<FaultSettings>) {
    const allOff = latencyMs === 0 && errorRate === 0 && !hang;
    this.#active = allOff ? null : Object.freeze({ latencyMs, errorRate, errorStatus, hang });
    return this.#active;
  }

  clear(): void {
    this.#active = null;
  }

  /**
   * A main-port request under the active faults: held for ever (hang), or delayed
   * (latency) and then passed on, with an injected error (errorRate) or without.
   * An injected error is recorded as the request's failure, so its log line shows it.
   */
  meet(res: ServerResponse, proceed: Proceed): void {
    const active = this.#active;
    if (active === null || this.#released) {
      proceed();
      return;
    }
    if (active.hang) {
      this.#hold(res.socket);
      return;
    }
    if (active.latencyMs === 0) {
      this.#decide(active, res, proceed);
      return;
    }
    const delayed: DelayedRequest = {
      res,
      timer: setTimeout(() => {
        this.#delayed.delete(delayed);
        delayed.proceed();
      }, active.latencyMs),
      proceed: () => this.#decide(active, res, proceed),
    };
    this.#delayed.add(delayed);
  }

  /**
   * For shutdown, which must end within its grace period: hung requests lose their
   * connection, delayed ones go ahead now, and no request is held from here on.
   */
  release(): void {
    this.#released = true;
    for (const socket of this.#hung) socket.destroy();
    this.#hung.clear();
    for (const delayed of this.#delayed) {
      clearTimeout(delayed.timer);
      // The closing listener has already let its idle connections go; this one must not linger after its answer.
      if (!delayed.res.headersSent) delayed.res.setHeader('connection', 'close');
      delayed.proceed();
    }
    this.#delayed.clear();
  }

  #hold(socket: Socket | null): void {
    if (socket === null || this.#hung.has(socket)) return;
    this.#hung.add(socket);
    socket.once('close', () => this.#hung.delete(socket));
  }

  #decide(active: Readonly<FaultSettings>, res: ServerResponse, proceed: Proceed): void {
    if (active.errorRate === 0 || this.#random() >= active.errorRate) {
      proceed();
      return;
    }
    const error = new InjectedFaultError(active.errorStatus, active.errorRate);
    recordFailure(res, error);
    proceed(error);
  }
}
