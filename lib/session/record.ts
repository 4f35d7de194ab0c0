import type { SessionData } from 'express-session';
import type { WpsSessionData } from '../types';

/**
 * How `req.session.wps` is kept: an object in memory, one JSON string at rest.
 *
 * express-session serializes and hashes the whole session several times per request, even when nothing changed
 * (a hash when it loads, two when the response ends; the MemoryStore parses and re-serializes on every load and
 * touch), and its hash calls a replacer function for every key. A token record and a user profile are a dozen
 * keys, and that work was the larger part of what a signed-in session cost per request (`npm run
 * bench:instructions` counts it). So the `wps` object serializes itself as one JSON string (its `toJSON`):
 * express-session and JSON-based stores (MemoryStore, connect-redis, …) handle one string, and {@link wpsOf} turns
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

type Packed = WpsSessionData & { [SOURCE]?: Source };

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

/** `data` as a packed `wps` object: same keys, serialized as one string. */
export function packWps(data: WpsSessionData): WpsSessionData {
  return Object.assign(Object.create(PACKED) as WpsSessionData, data);
}

/** Whether `value` is a plain (or packed) object, not an array: what a `wps` object must be. */
function isRecord(value: unknown): value is WpsSessionData {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A stored `wps` value as an object — parsing the packed string — without changing where it came from; for
 * sessions read straight from the store. `undefined` for anything else (missing, corrupted, written by others).
 */
export function readWps(value: unknown): WpsSessionData | undefined {
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
 * The session's `wps` object, unpacking the stored string in place the first time (the packed object serializes
 * back to the same string, so this does not mark the session modified). `undefined` when there is none, or when
 * the stored value is corrupted — left as it is until the library writes a new one.
 */
export function wpsOf(session: Partial<SessionData>): WpsSessionData | undefined {
  const wps: unknown = session.wps;
  if (typeof wps !== 'string') return isRecord(wps) ? wps : undefined;
  const data = readWps(wps);
  if (data === undefined) return undefined;
  const packed: Packed = packWps(data);
  // Symbol-keyed: JSON.stringify and Object.keys skip it, and a spread copy of the object carries it harmlessly.
  packed[SOURCE] = { text: wps, copy: copyOf(data) };
  return (session.wps = packed);
}
