import { HttpError } from '@lab/platform/problem';

/** The console's additions to the platform's error catalogue. */

/** The detail names what was wrong and where, never echoing the (possibly binary) body. */
export class MalformedOtlpError extends HttpError {
  constructor(encoding: 'protobuf' | 'JSON' | 'gzip', problem: string) {
    super(400, 'MALFORMED_OTLP', `The OTLP ${encoding} body is malformed: ${problem}`);
  }
}

export class UnsupportedMediaTypeError extends HttpError {
  constructor(detail: string) {
    super(415, 'UNSUPPORTED_MEDIA_TYPE', detail);
  }
}

/** OTLP exporters back off on 429 and honour Retry-After. */
export class IngestRateExceededError extends HttpError {
  constructor(bytesPerSecond: number, retryAfterSeconds: number) {
    super(
      429,
      'INGEST_RATE_EXCEEDED',
      `Spans are arriving faster than the ${bytesPerSecond} bytes a second this console takes; retry in ${retryAfterSeconds} s`,
      { retryAfterSeconds },
      { 'retry-after': String(retryAfterSeconds) },
    );
  }
}

export class TooManyStreamsError extends HttpError {
  constructor(limit: number) {
    super(
      503,
      'TOO_MANY_STREAMS',
      `${limit} live streams are already open; close a console tab and retry`,
      {},
      {
        'retry-after': '5',
      },
    );
  }
}

export class PageNotBuiltError extends HttpError {
  constructor() {
    super(
      503,
      'PAGE_NOT_BUILT',
      'The console page is not built: run `npm run build -w @lab/console` (the API under /api still works)',
    );
  }
}

export interface FaultResult {
  replica: string;
  ok: boolean;
  status: number | null;
  error?: string;
}

export class FaultsNotDeliveredError extends HttpError {
  constructor(service: string, results: FaultResult[]) {
    super(
      502,
      'FAULTS_NOT_DELIVERED',
      results.length === 0
        ? `No replica of ${service} is known to the console`
        : `No replica of ${service} took the fault settings (is it running with LAB_FAULTS=on?)`,
      { results },
    );
  }
}
