const ERRNO = /^[A-Z][A-Z0-9_]{1,40}$/;

/** Why a call to WPS got no usable answer, read from what axios threw — without keeping the error itself. */
export type TransportFailure =
  | { kind: 'timeout' }
  | { kind: 'too_large' }
  /** `errno` is a bare code such as `ECONNREFUSED`, never text from the error (which may quote the request). */
  | { kind: 'unreachable'; errno: string | undefined };

/**
 * Classify a failed axios call. `timedOut` says our whole-call deadline fired (axios's own `timeout` is an idle
 * timeout, so both are checked). The axios error holds the request config — the client secret or the bearer
 * token — so callers build their own error from this and drop the original.
 */
export function classifyTransportFailure(err: unknown, timedOut: boolean): TransportFailure {
  const e = err as { code?: unknown; message?: unknown } | null;
  const errno = typeof e?.code === 'string' && ERRNO.test(e.code) ? e.code : undefined;
  if (timedOut || errno === 'ECONNABORTED' || errno === 'ETIMEDOUT') return { kind: 'timeout' };
  if (typeof e?.message === 'string' && e.message.includes('maxContentLength')) return { kind: 'too_large' };
  return { kind: 'unreachable', errno };
}
