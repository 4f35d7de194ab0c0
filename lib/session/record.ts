import type { Request } from 'express';
import type { SessionData } from 'express-session';
import { isTokenRecord } from './token-record';
import type { WpsTokenRecord, WpsUser } from '../types';

/**
 * The session key of the library's record. Private: apps read `req.wps`, never this key, and the stored form may
 * change in any release. Every read and write of it goes through this module.
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

/** The record this library keeps in the session, under {@link RECORD_KEY}. Internal. */
export interface WpsSessionRecord {
  tokens?: WpsTokenRecord;
  pending?: PendingLogin[];
  /** The signed-in user's profile (or what `afterLogin` returned). */
  user?: WpsUser;
}

/** A session (live, or as a store hands it out) seen as a bag of keys, for the one key this module owns. */
type Bag = { [RECORD_KEY]?: unknown } | null | undefined;

/**
 * How the record is kept: an object in memory, one JSON string at rest.
 *
 * express-session serializes and hashes the whole session several times per request, even when nothing changed
 * (a hash when it loads, two when the response ends; the MemoryStore parses and re-serializes on every load and
 * touch), and its hash calls a replacer function for every key. A token record and a user profile are a dozen
 * keys, and that work was the larger part of what a signed-in session cost per request (`npm run
 * bench:instructions` counts it). So the record serializes itself as one JSON string (its `toJSON`):
 * express-session and JSON-based stores (MemoryStore, connect-redis, …) handle one string, and {@link recordOf} turns
 * it back into an object the first time a request looks. While that object holds what it was read with, it
 * serializes to the very string it came from (checked by comparing values, far cheaper than serializing them), so
 * an untouched session still counts as unmodified and costs no serialization.
 *
 * Stores that do not go through `JSON.stringify` (BSON, msgpack) keep a plain object, which reads as it always did;
 * plain objects are never converted, so such a session is not rewritten on every request. Internal.
 */

/** Where a packed object read from the store keeps the string it came from, and a copy of what it held then. */
const SOURCE = Symbol('express-wps-oauth.packedSource');

interface Source {
  text: string;
  copy: unknown;
}

type Packed = WpsSessionRecord & { [SOURCE]?: Source };

/** A deep copy of a JSON value (what JSON.parse returns): plain objects, arrays and primitives. */
function copyOf(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map(copyOf);
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(value)) copy[key] = copyOf((value as Record<string, unknown>)[key]);
  return copy;
}

/**
 * Whether `value` holds what `copy` holds (enumerable keys, deeply; key order aside — equal content is an equal
 * session). Loops, no allocation: this runs two or three times per request.
 */
function same(value: unknown, copy: unknown): boolean {
  if (value === copy) return true;
  if (typeof value !== 'object' || value === null || typeof copy !== 'object' || copy === null) return false;
  if (Array.isArray(value) !== Array.isArray(copy)) return false;
  const a = value as Record<string, unknown>;
  const b = copy as Record<string, unknown>;
  let keys = 0;
  for (const key in a) {
    if (!same(a[key], b[key])) return false;
    keys++;
  }
  for (const _key in b) keys--;
  return keys === 0;
}

const PACKED: object = Object.defineProperty({}, 'toJSON', {
  value: function toJSON(this: Packed): string {
    // express-session serializes the session two or three times per request: while nothing changed, hand back the
    // string the store gave (comparing a dozen values costs far less than serializing them).
    const source = this[SOURCE];
    if (source !== undefined && same(this, source.copy)) return source.text;
    // A plain copy (own string keys, in order, without this prototype), so the string round-trips through wpsOf.
    return JSON.stringify({ ...this });
  },
});

/** `data` as a packed record: same keys, serialized as one string. */
function packRecord(data: WpsSessionRecord): WpsSessionRecord {
  return Object.assign(Object.create(PACKED) as WpsSessionRecord, data);
}

/** Whether `value` is a plain (or packed) object, not an array: what a record must be. */
function isRecord(value: unknown): value is WpsSessionRecord {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A stored record value as an object — parsing the packed string — without changing where it came from; for
 * sessions read straight from the store. `undefined` for anything else (missing, corrupted, written by others).
 */
function parseRecord(value: unknown): WpsSessionRecord | undefined {
  if (typeof value === 'string') {
    try {
      const parsed: unknown = JSON.parse(value);
      return isRecord(parsed) ? parsed : undefined;
    } catch {
      return undefined;
    }
  }
  return isRecord(value) ? value : undefined;
}

/**
 * The session's record, unpacking the stored string in place the first time (the packed object serializes
 * back to the same string, so this does not mark the session modified). `undefined` when there is none, or when
 * the stored value is corrupted — left as it is until the library writes a new one.
 */
export function recordOf(session: Partial<SessionData>): WpsSessionRecord | undefined {
  const bag = session as { [RECORD_KEY]?: unknown };
  const stored = bag[RECORD_KEY];
  if (typeof stored !== 'string') return isRecord(stored) ? stored : undefined;
  const data = parseRecord(stored);
  if (data === undefined) return undefined;
  const packed: Packed = packRecord(data);
  // Symbol-keyed: JSON.stringify and Object.keys skip it, and a spread copy of the object carries it harmlessly.
  packed[SOURCE] = { text: stored, copy: copyOf(data) };
  bag[RECORD_KEY] = packed;
  return packed;
}

/**
 * The session's record, created when missing. Sessions come from a store: a value that is not an object
 * (corrupted, or written by something else) is replaced rather than trusted.
 */
export function writableRecordOf(session: Partial<SessionData>): WpsSessionRecord {
  return recordOf(session) ?? replaceRecord(session, {});
}

/** Make `data` the session's record (a new packed object), whatever was there. */
export function replaceRecord(session: Partial<SessionData>, data: WpsSessionRecord): WpsSessionRecord {
  const packed = packRecord(data);
  (session as { [RECORD_KEY]?: unknown })[RECORD_KEY] = packed;
  return packed;
}

/** The record of a session object as a store handed it out (packed or not), without changing the object. */
export function storedRecordOf(session: unknown): WpsSessionRecord | undefined {
  return parseRecord((session as Bag)?.[RECORD_KEY]);
}

/**
 * A shallow copy of a stored session — same prototype, every own property (the `cookie` object as is, which
 * stores read) — whose record's `tokens` is `tokens` (removed for `undefined`). The original stays as it is.
 */
export function copyWithTokens<T extends object>(session: T, tokens: unknown): T {
  const record: Record<string, unknown> = { ...storedRecordOf(session) };
  if (tokens === undefined) delete record.tokens;
  else record.tokens = tokens;
  const copy = Object.create(Object.getPrototypeOf(session) as object, Object.getOwnPropertyDescriptors(session)) as T;
  Object.defineProperty(copy, RECORD_KEY, {
    value: packRecord(record),
    enumerable: true,
    writable: true,
    configurable: true,
  });
  return copy;
}

/**
 * The token record as the session store holds it right now — another request or process may have rotated it
 * since this request loaded its session. `undefined` when the store has none or cannot say.
 */
export function readStoredTokens(req: Request, sid: string = req.sessionID): Promise<WpsTokenRecord | undefined> {
  const store = req.sessionStore;
  if (store === undefined) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    try {
      store.get(sid, (err: unknown, data?: SessionData | null) => {
        const tokens = err ? undefined : storedRecordOf(data)?.tokens;
        resolve(isTokenRecord(tokens) ? tokens : undefined);
      });
    } catch {
      resolve(undefined);
    }
  });
}
