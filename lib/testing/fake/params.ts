import { invalidRequest } from './errors';

/** The only request body type the OAuth endpoints read. */
export const FORM_TYPE = 'application/x-www-form-urlencoded';

const HTTP_URL_PATTERN = /^https?:\/\/[^\s#]+$/i;

/** Callbacks must be absolute http(s) URLs without a fragment, in options and in requests alike. */
export function isHttpUrl(value: string): boolean {
  if (!HTTP_URL_PATTERN.test(value)) return false;
  try {
    new URL(value);
    return true;
  } catch {
    return false;
  }
}

/** Whether a Content-Type header names a form body, parameters such as `charset` aside. */
export function isFormContentType(header: string | undefined): boolean {
  return header?.split(';')[0]?.trim().toLowerCase() === FORM_TYPE;
}

/** A plain record of parameters for tests to read; the first value of a repeated name wins. */
export function firstValues(params: URLSearchParams): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [name, value] of params) if (!(name in result)) result[name] = value;
  return result;
}

/** WPS refuses a repeated parameter rather than guess which value was meant. */
export function rejectRepeated(params: URLSearchParams): void {
  const seen = new Set<string>();
  for (const name of params.keys()) {
    if (seen.has(name)) throw invalidRequest(`'${name}' parameter is repeated`);
    seen.add(name);
  }
}

/** Per RFC 6749 §3.1 a parameter sent without a value counts as omitted. */
export function requireParam(params: URLSearchParams, name: string): string {
  const value = params.get(name);
  if (!value) throw invalidRequest(`'${name}' parameter is missing`);
  return value;
}

/** Several required parameters at once, named as the caller destructures them. */
export function requireParams<K extends string>(params: URLSearchParams, names: readonly K[]): Record<K, string> {
  const result = {} as Record<K, string>;
  for (const name of names) result[name] = requireParam(params, name);
  return result;
}

/** Appends to the query by hand so the redirect_uri's own query stays byte-for-byte as registered. */
export function appendQuery(uri: string, params: URLSearchParams): string {
  const separator = !uri.includes('?') ? '?' : uri.endsWith('?') || uri.endsWith('&') ? '' : '&';
  return `${uri}${separator}${params.toString()}`;
}
