// What the console's server sends its page: the `snapshot` events of GET /api/live
// (server-sent events, one a second), GET /api/snapshot and GET /api/traces/:traceId.
// The page imports these types, so the two sides cannot drift apart.

/** green: ready and under 5% errors; amber: 5-50% errors or readiness unknown; red: down, ejected, breaker open or >= 50% errors; grey: no data. */
export type HealthColour = 'green' | 'amber' | 'red' | 'grey';

/** Over the last few seconds (the console's window), from successive /health/stats samples. */
export interface Figures {
  requestsPerSecond: number;
  /** null when the window saw no request. */
  errorPercent: number | null;
  p50Ms: number | null;
  p99Ms: number | null;
}

/** A service's fault settings, as its lab port reports them (null: none active). */
export interface FaultSettings {
  latencyMs: number;
  errorRate: number;
  errorStatus: number;
  hang: boolean;
}

export interface ReplicaNode {
  /** The replica's instance name (its container's hostname), or its address until it is known. */
  id: string;
  /** ip:port the gateway reaches it on. */
  address: string;
  ready: boolean | null;
  ejected: boolean;
  inFlight: number;
  health: HealthColour;
  figures: Figures;
  /** Process restarts the console has seen (its /health/stats startedAt changed): a crash the restart policy undid. */
  restarts: number;
  /** Epoch ms at which the newest restarted process started; null if none was seen. */
  restartedAt: number | null;
  /** false when the replica was not started with LAB_FAULTS=on (or its lab port does not answer). */
  faultsAvailable: boolean;
  faults: FaultSettings | null;
}

export interface ServiceNode {
  name: string;
  /** The worst of its replicas', or red when the gateway's breaker to it is open. */
  health: HealthColour;
  /** The gateway's circuit breaker on the edge to this service; null for the monolith twin. */
  breaker: 'closed' | 'open' | 'half-open' | null;
  ejections: number;
  retries: number;
  /** Why the gateway retried (its /metrics): a status such as 503, or a connection error such as ECONNREFUSED. */
  retriesByReason: Record<string, number>;
  /** Summed over its replicas. */
  figures: Figures;
  replicas: ReplicaNode[];
  /** What it keeps its data in, drawn below it: users has its volume. */
  store: string | null;
}

export interface RecentRequest {
  traceId: string;
  requestId: string | null;
  /** Epoch ms at which the gateway received it. */
  at: number;
  method: string;
  path: string;
  status: number | null;
  durationMs: number;
  /** The upstream that served it (hello, users), or the service itself for the monolith. */
  service: string;
  /** The replica (instance id) whose answer the client got. */
  replica: string | null;
  /** Upstream attempts: 2 means the gateway retried on another replica. */
  attempts: number;
}

export interface LiveSnapshot {
  /** Epoch ms. */
  at: number;
  gateway: {
    reachable: boolean;
    instance: string | null;
    health: HealthColour;
    figures: Figures;
  };
  /** Behind the gateway: hello and users. */
  services: ServiceNode[];
  /** The monolith twin, when the `monolith` profile runs; null otherwise. */
  monolith: ServiceNode | null;
  /** Newest first. */
  recent: RecentRequest[];
  traces: { count: number; bytes: number; maxTraces: number; maxBytes: number };
  /** `docker compose up -d --scale users=N` with N = the current count, for the page to adapt. */
  scaleCommand: string;
}

export type SpanKindName = 'internal' | 'server' | 'client' | 'producer' | 'consumer' | 'unspecified';

export interface SpanView {
  spanId: string;
  parentSpanId: string | null;
  name: string;
  /** The resource's service.name. */
  service: string;
  /** The resource's service.instance.id. */
  instance: string | null;
  kind: SpanKindName;
  /** Milliseconds from the trace's first span's start. */
  startMs: number;
  durationMs: number;
  status: 'unset' | 'ok' | 'error';
  attributes: Record<string, string | number | boolean>;
}

export interface TraceView {
  traceId: string;
  spans: SpanView[];
}
