import { ConfigError } from '@lab/platform/config';

/**
 * The password in a connection string, replaced so the string can be shown in an error or a
 * log. Up to the last `@`: an unencoded `@` in the password must not leave its tail showing.
 */
export function redactDatabaseUrl(url: string): string {
  return url.replace(/^((?:[a-z][a-z0-9+.-]*:\/\/)?[^:/@]*:).*@/i, '$1***@');
}

/** DATABASE_URL checked at start: postgres://user:password@host[:port]/database, or a one-line ConfigError. */
export function checkDatabaseUrl(raw: string): string {
  let url: URL | undefined;
  try {
    url = new URL(raw);
  } catch {
    url = undefined;
  }
  if (!url || !['postgres:', 'postgresql:'].includes(url.protocol) || url.hostname === '' || url.pathname.length < 2) {
    throw new ConfigError(
      'DATABASE_URL',
      'must be a postgres://user:password@host:port/database URL',
      redactDatabaseUrl(raw),
    );
  }
  return raw;
}

/** The database's name, for spans (db.namespace) and the start log line. */
export const databaseName = (url: string) => decodeURIComponent(new URL(url).pathname.slice(1));
