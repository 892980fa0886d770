import { STATUS_CODES } from 'node:http';

/**
 * The error catalogue. Every error a client can see is an HttpError with a stable
 * `code`; anything else is a bug and leaves the process as a bare 500 whose body
 * says nothing about internals (RFC 9457 problem details).
 */
export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export interface FieldError {
  field: string;
  message: string;
}

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  code: string;
  errors?: FieldError[];
  [extension: string]: unknown;
}

export class HttpError extends Error {
  readonly status: number;
  readonly code: string;
  readonly extensions: Readonly<Record<string, unknown>>;
  /** Response headers the status requires (RFC 9110: a 405 must carry `Allow`). */
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    status: number,
    code: string,
    detail: string,
    extensions: Record<string, unknown> = {},
    headers: Record<string, string> = {},
  ) {
    super(detail);
    this.name = new.target.name;
    this.status = status;
    this.code = code;
    this.extensions = extensions;
    this.headers = headers;
  }

  toProblem(instance?: string): ProblemBody {
    return {
      type: `https://microservices-lab.dev/problems/${this.code.toLowerCase().replaceAll('_', '-')}`,
      title: STATUS_CODES[this.status] ?? 'Error',
      status: this.status,
      detail: this.message,
      ...(instance === undefined ? {} : { instance }),
      code: this.code,
      ...this.extensions,
    };
  }
}

export class ValidationError extends HttpError {
  constructor(errors: FieldError[]) {
    super(
      400,
      'VALIDATION_FAILED',
      `The request is invalid: ${errors.map((e) => `${e.field} ${e.message}`).join('; ')}`,
      {
        errors,
      },
    );
  }
}

export class NotFoundError extends HttpError {
  constructor(detail: string) {
    super(404, 'NOT_FOUND', detail);
  }
}

export class MethodNotAllowedError extends HttpError {
  constructor(method: string, path: string, allowed: readonly string[]) {
    const allow = allowed.join(', ');
    super(405, 'METHOD_NOT_ALLOWED', `${method} is not allowed on ${path}; use ${allow}`, {}, { allow });
  }
}

export class ConflictError extends HttpError {
  constructor(detail: string) {
    super(409, 'CONFLICT', detail);
  }
}

/** draft-ietf-httpapi-idempotency-key-header: a key replayed with another payload is a 422. */
export class IdempotencyKeyReusedError extends HttpError {
  constructor() {
    super(422, 'IDEMPOTENCY_KEY_REUSED', 'This Idempotency-Key was already used with a different request body');
  }
}

/** A replayed key whose create made a resource deleted since: the first 201 would name what is gone. */
export class IdempotencyKeyResourceGoneError extends HttpError {
  constructor() {
    super(
      410,
      'IDEMPOTENCY_KEY_RESOURCE_GONE',
      'What this Idempotency-Key created has been deleted since; it is not created again. Send a new key to create it anew',
    );
  }
}

const PROTOCOL_ERRORS = {
  MALFORMED_REQUEST: [400, 'The request is not valid HTTP'],
  MALFORMED_URL: [400, 'The URL is not validly percent-encoded'],
  HOST_REQUIRED: [400, 'An HTTP/1.1 request must carry a Host header'],
  URL_TOO_LONG: [414, 'A path segment is longer than this server accepts'],
  HEADERS_TOO_LARGE: [431, 'The request headers are larger than this server accepts'],
  REQUEST_TIMEOUT: [408, 'The request did not arrive in time'],
  ENCODED_PREFIX: [400, "The path's service prefix (such as /api/users) must be written without percent-encoding"],
} as const;

/** The request could not reach a route at all. The detail never echoes the request: it may be huge or binary. */
export class ProtocolError extends HttpError {
  constructor(code: keyof typeof PROTOCOL_ERRORS) {
    const [status, detail] = PROTOCOL_ERRORS[code];
    super(status, code, detail);
  }
}

export class PayloadTooLargeError extends HttpError {
  constructor(limitBytes: number) {
    super(413, 'PAYLOAD_TOO_LARGE', `The request body is larger than the ${limitBytes} bytes accepted here`);
  }
}

/** The gateway's URL limit; see MAX_URL_LENGTH in the gateway for the number's origin. */
export class UriTooLongError extends HttpError {
  constructor(length: number, limit: number) {
    super(414, 'URI_TOO_LONG', `The request URL has ${length} characters; the limit is ${limit}`);
  }
}

export class RateLimitedError extends HttpError {
  constructor(limitPerMinute: number, retryAfterSeconds: number) {
    super(
      429,
      'RATE_LIMITED',
      `Too many requests from this client (limit ${limitPerMinute} a minute); retry in ${retryAfterSeconds} s`,
      { retryAfterSeconds },
    );
  }
}

/**
 * The gateway holds each request body whole before it goes upstream, and what lies beyond a
 * body's first 64 KiB comes out of one shared budget: when other uploads hold all of it, this
 * one is refused at once instead of growing the process towards its memory limit.
 */
export class UploadCapacityError extends HttpError {
  constructor(budgetBytes: number) {
    super(
      503,
      'UPLOAD_CAPACITY',
      `The gateway already holds ${budgetBytes} bytes of request bodies beyond their first 64 KiB; retry shortly`,
      {},
      { 'retry-after': '1' },
    );
  }
}

/** The gateway's bulkhead is full for this upstream: refused at once rather than queued. */
export class UpstreamAtCapacityError extends HttpError {
  constructor(upstream: string, limit: number) {
    super(503, 'UPSTREAM_AT_CAPACITY', `The ${upstream} service already has ${limit} requests in flight`, {
      upstream,
    });
  }
}

export class UpstreamUnavailableError extends HttpError {
  constructor(upstream: string, status: 502 | 503 = 503, reason?: string) {
    super(status, 'UPSTREAM_UNAVAILABLE', `The ${upstream} service is unavailable${reason ? ` (${reason})` : ''}`, {
      upstream,
    });
  }
}

export class UpstreamTimeoutError extends HttpError {
  constructor(upstream: string, timeoutMs: number) {
    super(504, 'UPSTREAM_TIMEOUT', `The ${upstream} service did not answer within ${timeoutMs} ms`, { upstream });
  }
}

/**
 * The service's own database cannot answer now (down, restarting, unreachable). A write cut
 * off mid-commit may or may not have landed: retrying a create with its Idempotency-Key is safe.
 * `reason` is the driver's or server's words: the 5xx log line shows it, the client never does.
 */
export class DatabaseUnavailableError extends HttpError {
  readonly reason: string;

  constructor(reason: string) {
    super(
      503,
      'DATABASE_UNAVAILABLE',
      'The database is unavailable; retry, with the same Idempotency-Key for a create',
      {},
      {
        'retry-after': '1',
      },
    );
    this.reason = reason;
  }
}

/** LAB_FAULTS answered a request with an error instead of handling it (see faults.ts). */
export class InjectedFaultError extends HttpError {
  constructor(status: number, errorRate: number) {
    super(
      status,
      'INJECTED_FAULT',
      `LAB_FAULTS injected this error (errorRate ${errorRate}); the request was not handled`,
    );
  }

  /** The status's own title would read as a real failure; this one says what happened. */
  override toProblem(instance?: string): ProblemBody {
    return { ...super.toProblem(instance), title: 'Injected fault' };
  }
}

export class InternalError extends HttpError {
  constructor() {
    super(500, 'INTERNAL', 'An unexpected error occurred; it has been logged with the request id');
  }
}

interface ValidationIssue {
  instancePath?: string;
  message?: string;
  params?: Record<string, unknown>;
}

/** Ajv issues (Fastify's `error.validation`) as field errors a client can act on. */
function fieldErrorsFrom(issues: ValidationIssue[], context: string): FieldError[] {
  return issues.map((issue) => {
    const missing = issue.params?.missingProperty;
    const extra = issue.params?.additionalProperty;
    const path = `${issue.instancePath ?? ''}${typeof missing === 'string' ? `/${missing}` : ''}${typeof extra === 'string' ? `/${extra}` : ''}`;
    const message = typeof extra === 'string' ? 'is not an allowed field' : (issue.message ?? 'is invalid');
    return { field: `${context}${path}` || context, message };
  });
}

/**
 * Maps anything thrown in a request to an HttpError. Framework client errors
 * (Fastify's and body-parser's, both carrying a 4xx status) keep their status and
 * message; everything else becomes InternalError, so no internal message or stack
 * reaches a client.
 */
export function toHttpError(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  if (typeof error !== 'object' || error === null) return new InternalError();
  const candidate = error as {
    validation?: ValidationIssue[];
    validationContext?: string;
    statusCode?: unknown;
    status?: unknown;
    code?: unknown;
    message?: unknown;
  };
  if (Array.isArray(candidate.validation)) {
    return new ValidationError(fieldErrorsFrom(candidate.validation, candidate.validationContext ?? 'body'));
  }
  const status = typeof candidate.statusCode === 'number' ? candidate.statusCode : candidate.status;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const code = typeof candidate.code === 'string' ? candidate.code : `HTTP_${status}`;
    const detail =
      typeof candidate.message === 'string' && candidate.message !== ''
        ? candidate.message
        : (STATUS_CODES[status] ?? 'Client error');
    return new HttpError(status, code, detail);
  }
  return new InternalError();
}
