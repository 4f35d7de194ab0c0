import type { Request } from 'express';
import type { ResolvedConfig } from '../config';

/** What the request's `Origin` header says about who sent it. */
export type OriginVerdict =
  /** No `Origin` header: not a cross-origin request, nor a `POST` from a browser (they all send one). */
  | { kind: 'none' }
  /** `redirectUri`'s origin or one of `trustedOrigins`. */
  | { kind: 'allowed'; origin: string }
  /** Anything else: another origin, `null` (sandboxed frames, `file:`), a repeated header. */
  | { kind: 'refused'; origin: string };

/** The origins whose pages may post codes: `redirectUri`'s and `trustedOrigins`. Built once per `wpsAuth()`. */
export function signInOrigins(config: ResolvedConfig): ReadonlySet<string> {
  return new Set([new URL(config.redirectUri).origin, ...config.trustedOrigins]);
}

/**
 * Judge the `Origin` header by exact comparison: browsers send it as `scheme://host[:port]`, lower case, and another
 * host name for the same machine (`localhost`, `127.0.0.1`) is another origin.
 */
export function judgeOrigin(req: Request, allowed: ReadonlySet<string>): OriginVerdict {
  const origin = req.headers.origin;
  if (origin === undefined) return { kind: 'none' };
  return allowed.has(origin) ? { kind: 'allowed', origin } : { kind: 'refused', origin };
}

/** What a credentialed `fetch` from `origin` needs to read the answer (same-origin pages ignore it). */
export function corsHeaders(origin: string): Record<string, string> {
  return { 'Access-Control-Allow-Origin': origin, 'Access-Control-Allow-Credentials': 'true' };
}

/** The preflight's answer for an allowed origin: a JSON `POST`, cached by the browser for 10 minutes. */
export function preflightHeaders(origin: string): Record<string, string> {
  return {
    ...corsHeaders(origin),
    'Access-Control-Allow-Methods': 'POST',
    'Access-Control-Allow-Headers': 'Content-Type',
    'Access-Control-Max-Age': '600',
  };
}
