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
