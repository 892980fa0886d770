import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';

/**
 * Typed, fail-fast configuration. A service describes its settings once with a
 * ConfigReader; a bad or missing value throws a ConfigError whose message is a
 * single line naming the variable, which `loadConfigOrExit` prints before exiting.
 */
export type Env = Readonly<Record<string, string | undefined>>;

export class ConfigError extends Error {
  readonly variable: string;
  /** What is wrong, without the variable's name or value. */
  readonly problem: string;

  constructor(variable: string, problem: string, raw?: string) {
    super(`${variable} ${problem}${raw === undefined ? '' : ` (got ${JSON.stringify(raw)})`}`);
    this.name = 'ConfigError';
    this.variable = variable;
    this.problem = problem;
  }
}

interface IntegerOptions {
  min?: number;
  max?: number;
}

export class ConfigReader {
  readonly #env: Env;

  constructor(env: Env) {
    this.#env = env;
  }

  /** An unset or empty variable counts as absent, so `FOO=` falls back to the default. */
  #raw(name: string): string | undefined {
    const value = this.#env[name];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  }

  string(name: string, fallback?: string): string {
    const raw = this.#raw(name);
    if (raw !== undefined) return raw;
    if (fallback === undefined) throw new ConfigError(name, 'is required');
    return fallback;
  }

  /**
   * A setting that may come from a file instead, by Docker's and Kubernetes' `_FILE` convention for
   * secrets: NAME, or the content of the file that NAME_FILE names, without its trailing newline.
   * `parse` (a ConfigError for a bad value) runs on either. No error shows a file's content, which
   * is likely a secret that may not even be this setting's (a password file named by mistake).
   */
  secret(name: string, fallback?: string): string;
  secret<T>(name: string, fallback: string | undefined, parse: (value: string) => T): T;
  secret<T>(name: string, fallback?: string, parse?: (value: string) => T): T | string {
    const fileVariable = `${name}_FILE`;
    const path = this.#raw(fileVariable);
    if (path === undefined) {
      const value = this.string(name, fallback);
      return parse ? parse(value) : value;
    }
    if (this.#raw(name) !== undefined) throw new ConfigError(name, `and ${fileVariable} are both set; set one of them`);
    let content: string;
    try {
      content = readFileSync(path, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'unknown error';
      throw new ConfigError(fileVariable, `names a file that cannot be read (${code})`, path);
    }
    const value = content.replace(/(\r?\n)+$/, '');
    if (value.trim() === '') throw new ConfigError(fileVariable, 'names an empty file', path);
    if (!parse) return value;
    try {
      return parse(value);
    } catch (error) {
      if (error instanceof ConfigError) {
        throw new ConfigError(fileVariable, `holds a ${name} that ${error.problem}`, path);
      }
      throw error;
    }
  }

  integer(
    name: string,
    fallback: number,
    { min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER }: IntegerOptions = {},
  ): number {
    const raw = this.#raw(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!/^-?\d+$/.test(raw) || value < min || value > max) {
      throw new ConfigError(name, `must be an integer from ${min} to ${max}`, raw);
    }
    return value;
  }

  /** A number from 0 to 1, such as a sampling ratio. */
  fraction(name: string, fallback: number): number {
    const raw = this.#raw(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!/^\d*\.?\d+$/.test(raw) || value > 1) throw new ConfigError(name, 'must be a number from 0 to 1', raw);
    return value;
  }

  port(name: string, fallback: number): number {
    return this.integer(name, fallback, { min: 0, max: 65535 });
  }

  boolean(name: string, fallback: boolean): boolean {
    const raw = this.#raw(name);
    if (raw === undefined) return fallback;
    if (/^(true|1|yes|on)$/i.test(raw)) return true;
    if (/^(false|0|no|off)$/i.test(raw)) return false;
    throw new ConfigError(name, 'must be true or false', raw);
  }

  oneOf<const T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const raw = this.#raw(name);
    if (raw === undefined) return fallback;
    if (!(allowed as readonly string[]).includes(raw)) {
      throw new ConfigError(name, `must be one of ${allowed.join(', ')}`, raw);
    }
    return raw as T;
  }

  /** An absolute http(s) URL, returned without a trailing slash. */
  httpUrl(name: string, fallback: string): string {
    const raw = this.#raw(name) ?? fallback;
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new ConfigError(name, 'must be an absolute http(s) URL', raw);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new ConfigError(name, 'must be an absolute http(s) URL', raw);
    }
    return url.href.replace(/\/+$/, '');
  }
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The settings every service has; each service adds its own beside them. */
export function readServiceSettings(read: ConfigReader, defaults: { service: string; port: number; version: string }) {
  const port = read.port('PORT', defaults.port);
  const host = read.string('HOST', '0.0.0.0');
  return {
    service: defaults.service,
    host,
    port,
    /** In a container the hostname is the container id: what `x-served-by` shows. */
    instance: read.string('INSTANCE_NAME', hostname()),
    version: read.string('SERVICE_VERSION', defaults.version),
    logLevel: read.oneOf('LOG_LEVEL', LOG_LEVELS, 'info'),
    shutdownGraceMs: read.integer('SHUTDOWN_GRACE_MS', 8000, { min: 0, max: 60_000 }),
    /**
     * How long a stopping replica keeps serving while it reports unready, so that
     * balancers probing readiness (the gateway probes every second) stop sending
     * new requests before the listener closes.
     */
    drainDelayMs: read.integer('SHUTDOWN_DRAIN_DELAY_MS', 1500, { min: 0, max: 30_000 }),
    ...readLabFaults(read, port, host),
  };
}

/**
 * LAB_FAULTS (see faults.ts) opens a second listener that lets anyone who reaches it
 * slow, fail or crash the process: off unless asked for. LAB_FAULTS_HOST narrows it to one
 * network when the process sits on more than one (see faults-listener.ts).
 */
function readLabFaults(read: ConfigReader, mainPort: number, mainHost: string) {
  const labFaults = read.boolean('LAB_FAULTS', false);
  const labFaultsHost = read.string('LAB_FAULTS_HOST', mainHost);
  const labFaultsPort = read.port('LAB_FAULTS_PORT', 8099);
  if (labFaults && labFaultsPort !== 0 && labFaultsPort === mainPort) {
    throw new ConfigError('LAB_FAULTS_PORT', `must differ from PORT (${mainPort})`, String(labFaultsPort));
  }
  return { labFaults, labFaultsHost, labFaultsPort };
}

/** Builds a frozen config object from `env` with the given description. */
export function parseConfig<T extends object>(env: Env, describe: (read: ConfigReader) => T): Readonly<T> {
  return Object.freeze(describe(new ConfigReader(env)));
}

/**
 * A ConfigError ends the process with one line on stderr and exit code 78 (EX_CONFIG),
 * so orchestrators and humans see exactly which variable is wrong; anything else is
 * left to the caller. Also for settings only checkable once used (a database URL that
 * refuses the login).
 */
export function exitIfConfigError(error: unknown): void {
  if (error instanceof ConfigError) {
    process.stderr.write(`configuration error: ${error.message}\n`);
    process.exit(78);
  }
}

/** For `main.ts`: the config, or the process ends on a ConfigError (exitIfConfigError). */
export function loadConfigOrExit<T>(load: () => T): T {
  try {
    return load();
  } catch (error) {
    exitIfConfigError(error);
    throw error;
  }
}
