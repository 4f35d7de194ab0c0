import type { WpsUser } from '../types';
import { isWpsUser } from '../wps-user';

/**
 * The session key of the library's record. Private: apps read `req.wps`, never this key, and the stored form may
 * change in any release. Every read and write of the record goes through this module (and login-state.ts for the
 * pending sign-ins inside it).
 */
export const RECORD_KEY = 'wpsAuth';

/** A login that was started and whose callback has not come back yet. Internal. */
export interface PendingLogin {
  /** The CSRF `state` sent to WPS. */
  state: string;
  /** Where to go after the callback. */
  returnTo: string;
  /** When the login started (epoch ms). */
  createdAt: number;
}

/**
 * The record this library keeps in the session, under {@link RECORD_KEY}: a plain object, stored as the session
 * store stores the rest of the session. Internal.
 */
export interface WpsSessionRecord {
  /**
   * The tokens as stored: a token record, or — with `tokenEncryptionKey` — the sealed string that holds one. Only
   * a `TokenCodec` reads or writes it.
   */
  tokens?: unknown;
  pending?: PendingLogin[];
  /** The signed-in user's profile (or what `afterLogin` returned). */
  user?: WpsUser;
}

/** A session (live, or as a store hands it out) seen as a bag of keys, for the one key this module owns. */
type Bag = Record<string, unknown>;

/** Whether `value` is an object, not an array: what a record must be (sessions come from a store). */
function isRecord(value: unknown): value is WpsSessionRecord {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The session's record; `undefined` when there is none, or when the stored value is not an object (corrupted). */
export function recordOf(session: object | null | undefined): WpsSessionRecord | undefined {
  const value = (session as Bag | null | undefined)?.[RECORD_KEY];
  return isRecord(value) ? value : undefined;
}

/** Make `data` the session's record, whatever was there. */
export function replaceRecord(session: object, data: WpsSessionRecord): WpsSessionRecord {
  (session as Bag)[RECORD_KEY] = data;
  return data;
}

/**
 * The session's record, created when missing. A value that is not an object (corrupted, or written by something
 * else) is replaced rather than trusted.
 */
export function writableRecordOf(session: object): WpsSessionRecord {
  return recordOf(session) ?? replaceRecord(session, {});
}

/** The session's tokens as stored (a token record, a sealed string, or anything a store handed back). */
export function storedTokensOf(session: object | null | undefined): unknown {
  return recordOf(session)?.tokens;
}

/** Store `stored` (what a `TokenCodec` closed) as the session's tokens; `undefined` removes them. */
export function setStoredTokens(session: object, stored: unknown): void {
  const record = writableRecordOf(session);
  if (stored === undefined) delete record.tokens;
  else record.tokens = stored;
}

/** The profile kept in the session, when it is well formed. */
export function userOf(session: object | null | undefined): WpsUser | undefined {
  const user = recordOf(session)?.user;
  return isWpsUser(user) ? user : undefined;
}

/** Keep `user` as the session's profile. */
export function setUser(session: object, user: WpsUser): void {
  writableRecordOf(session).user = user;
}

/**
 * A copy of a session as a store handed it out, with its record's stored tokens replaced by `stored` (removed for
 * `undefined`); the original is left as it is (a store may hand out an object it keeps).
 */
export function withStoredTokens<T extends object>(session: T, stored: unknown): T {
  const record: WpsSessionRecord = { ...recordOf(session) };
  if (stored === undefined) delete record.tokens;
  else record.tokens = stored;
  return { ...session, [RECORD_KEY]: record };
}
