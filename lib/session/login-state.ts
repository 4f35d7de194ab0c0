import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { WpsStateMismatchReason } from '../errors';
import { recordOf, writableRecordOf, type PendingLogin, type WpsSessionRecord } from './record';

/** A new CSRF `state`: 256 random bits, URL-safe. */
export function newState(): string {
  return randomBytes(32).toString('base64url');
}

function sameState(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Whether `value` is a well-formed pending login (sessions come from a store: never trust their shape). */
function isPendingLogin(value: unknown): value is PendingLogin {
  const p = value as PendingLogin | null | undefined;
  return (
    typeof p === 'object' &&
    p !== null &&
    typeof p.state === 'string' &&
    typeof p.returnTo === 'string' &&
    typeof p.createdAt === 'number'
  );
}

/** The well-formed pending logins of `data`, whatever the store handed back. */
function pendingOf(data: WpsSessionRecord | undefined): PendingLogin[] {
  const pending: unknown = data?.pending;
  return Array.isArray(pending) ? pending.filter(isPendingLogin) : [];
}

/** Record a started login in the session; drops expired ones and, past `max`, the oldest. Returns how many wait. */
export function addPendingLogin(session: object, login: PendingLogin, max: number, ttlMs: number): number {
  const data = writableRecordOf(session);
  const live = pendingOf(data).filter((p) => login.createdAt - p.createdAt < ttlMs);
  live.push(login);
  data.pending = live.slice(-max);
  return data.pending.length;
}

/** How many sign-ins are in progress in the session. */
export function pendingLoginCount(session: object): number {
  return pendingOf(recordOf(session)).length;
}

/** The sign-ins in progress (other tabs), to carry into the new session of a completed sign-in. */
export function otherLogins(session: object): PendingLogin[] {
  return pendingOf(recordOf(session));
}

/** Put `logins` (from {@link otherLogins}) into the new session's record. */
export function keepOtherLogins(session: object, logins: PendingLogin[]): void {
  if (logins.length > 0) writableRecordOf(session).pending = logins;
}

/** What {@link takePendingLogin} found. */
export type TakenLogin =
  { login: PendingLogin; reason?: undefined } | { login?: undefined; reason: WpsStateMismatchReason };

/**
 * Remove and return the pending login whose state equals `state` (single use), if it is younger than `ttlMs`;
 * else say why there is none. Expired entries are dropped on the way. Every entry is compared in constant time, so
 * the time taken says nothing about how close a guess was.
 */
export function takePendingLogin(session: object, state: string | undefined, now: number, ttlMs: number): TakenLogin {
  const data = recordOf(session);
  const pending = pendingOf(data);
  if (state === undefined) return { reason: 'missing_state' };
  if (data === undefined || pending.length === 0) return { reason: 'no_pending_login' };
  let match: PendingLogin | undefined;
  const rest: PendingLogin[] = [];
  for (const p of pending) {
    if (sameState(p.state, state)) match = p;
    else if (now - p.createdAt < ttlMs) rest.push(p);
  }
  if (rest.length > 0) data.pending = rest;
  else delete data.pending;
  if (match === undefined) return { reason: 'unknown_state' };
  return now - match.createdAt < ttlMs ? { login: match } : { reason: 'expired_state' };
}
