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
 * An absolute-form target (`http://host/api/users`, RFC 9112 3.2.2) counts by its path.
 * Undefined when the target does not spell the prefix as it is (`/api/%75sers`): the
 * router matched its decoded form, and cutting characters off the raw one would send
 * the rest of the prefix on as a path.
 */
export function pathBelowPrefix(prefix: string, url: string): string | undefined {
  const rest = afterPrefix(prefix, url);
  return rest === undefined ? undefined : rest.startsWith('/') ? rest : `/${rest}`;
}

/** What follows the prefix in a request target: `''`, `/...` or `?...`; undefined as above. */
export function afterPrefix(prefix: string, url: string): string | undefined {
  const target = url.startsWith('/') ? url : originForm(url);
  if (target === undefined || !target.startsWith(prefix)) return undefined;
  const rest = target.slice(prefix.length);
  return rest === '' || rest[0] === '/' || rest[0] === '?' ? rest : undefined;
}

function originForm(url: string): string | undefined {
  if (!URL.canParse(url)) return undefined;
  const { pathname, search } = new URL(url);
  return `${pathname}${search}`;
}
