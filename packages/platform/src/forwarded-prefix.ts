/**
 * The path prefix a proxy stripped before forwarding (the gateway strips
 * `/api/users`), so a service can build links that work for the client, such as
 * a 201's Location. Only a plain absolute path is accepted: the value ends up in
 * a header the client follows.
 */
export const FORWARDED_PREFIX_HEADER = 'x-forwarded-prefix';

const SAFE_PREFIX = /^(\/[\w.~-]+)+$/;

export function resolveForwardedPrefix(header: string | string[] | undefined): string {
  const value = Array.isArray(header) ? header[0] : header;
  return value !== undefined && value.length <= 200 && SAFE_PREFIX.test(value) ? value : '';
}

/**
 * The path as the client wrote it, so an error names `/api/users`, not the `/` that
 * the gateway forwarded or the monolith's mounted router saw.
 */
export function clientPath(prefixHeader: string | string[] | undefined, path: string, mountPath = ''): string {
  const prefix = `${resolveForwardedPrefix(prefixHeader)}${mountPath}`;
  return prefix !== '' && path === '/' ? prefix : `${prefix}${path}`;
}

/**
 * What a service behind a prefix sees of a public URL: the gateway's rule, which the
 * monolith follows too. `/api/users/42` is `/42`, `/api/users?limit=2` is `/?limit=2`.
 */
export function pathBelowPrefix(prefix: string, url: string): string {
  const rest = url.slice(prefix.length);
  return rest.startsWith('/') ? rest : `/${rest}`;
}
