const MAX_RETURN_TO = 2048;
const PRINTABLE_ASCII = /^[\x21-\x7e]+$/;
const PROBE_ORIGIN = 'http://return-to.invalid';
// In a decoded form: control characters, and slashes that some parsers or people read as "/".
// eslint-disable-next-line no-control-regex
const DECODED_DANGER = /[\u0000-\u001f\u007f\u2044\u2215\u29f8\uff0f\uff3c]/;

function looksOffOrigin(path: string): boolean {
  // Browsers read "\" as "/", so "/\evil.com" is as protocol-relative as "//evil.com".
  return !path.startsWith('/') || path[1] === '/' || path[1] === '\\' || path.includes('\\');
}

/**
 * `value` when it is a safe same-origin path to redirect to, otherwise `undefined`. Safe means: printable ASCII,
 * one leading `/`, no `//` or `/\` prefix, no backslash, no scheme — in the value as given and in every
 * percent-decoded form of it.
 */
export function safeReturnTo(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_RETURN_TO) return undefined;
  if (!PRINTABLE_ASCII.test(value) || looksOffOrigin(value)) return undefined;
  let decoded = value;
  for (let i = 0; i < 3 && decoded.includes('%'); i++) {
    try {
      decoded = decodeURIComponent(decoded);
    } catch {
      return undefined;
    }
    if (DECODED_DANGER.test(decoded) || looksOffOrigin(decoded)) return undefined;
  }
  if (decoded.includes('%')) return undefined;
  try {
    if (new URL(value, PROBE_ORIGIN).origin !== PROBE_ORIGIN) return undefined;
  } catch {
    return undefined;
  }
  return value;
}
