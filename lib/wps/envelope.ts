import { cleanExternalText } from '../errors';

/**
 * WPS's answer body as JSON, with its `{ code, msg }` envelope read: a failure body is
 * `{"code": <non-zero>, "msg": "<text>", "debug": {...}}`, a success has `code` 0 or none.
 */
export interface WpsEnvelope {
  /** The parsed body (a JSON object). */
  json: Record<string, unknown>;
  /** `code` is present and not 0 (or `'0'`): WPS says the call failed, whatever the HTTP status. */
  failed: boolean;
  /** The non-zero `code`, when it is a number (or a string of digits). */
  wpsCode?: number;
  /** The `msg`, cleaned for a message: printable, bounded, every one of the secrets redacted. */
  wpsMsg?: string;
}

function numericCode(code: unknown): number | undefined {
  if (typeof code === 'number' && Number.isFinite(code)) return code;
  return typeof code === 'string' && /^-?\d{1,15}$/.test(code) ? Number(code) : undefined;
}

function asJsonObject(raw: unknown): Record<string, unknown> | undefined {
  if (typeof raw === 'object' && raw !== null && !Array.isArray(raw) && !Buffer.isBuffer(raw)) {
    return raw as Record<string, unknown>;
  }
  const text = typeof raw === 'string' ? raw : Buffer.isBuffer(raw) ? raw.toString('utf8') : undefined;
  if (text === undefined || !/^\s*\{/.test(text)) return undefined;
  try {
    const json: unknown = JSON.parse(text);
    return typeof json === 'object' && json !== null && !Array.isArray(json)
      ? (json as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Read a WPS answer body (text, bytes or already-parsed JSON) — the one place WPS's `{ code, msg }` envelope is
 * parsed. `undefined` when the body is not a JSON object. WPS may echo what it was sent, so `msg` is cleaned with
 * `secrets` redacted before it is cut.
 */
export function readEnvelope(raw: unknown, secrets: readonly string[] = []): WpsEnvelope | undefined {
  const json = asJsonObject(raw);
  if (json === undefined) return undefined;
  const code = json.code;
  const failed = code !== undefined && code !== 0 && code !== '0';
  const wpsCode = failed ? numericCode(code) : undefined;
  const wpsMsg = cleanExternalText(json.msg, 200, secrets);
  return {
    json,
    failed,
    ...(wpsCode !== undefined && { wpsCode }),
    ...(wpsMsg !== undefined && { wpsMsg }),
  };
}
