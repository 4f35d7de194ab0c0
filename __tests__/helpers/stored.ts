import type { MemoryStore, Store } from 'express-session';
import type { WpsTokenRecord, WpsUser } from '../../lib';

/** The session key of the library's private record, stated here independently of lib/session/record.ts. */
export const RECORD_KEY = 'wpsAuth';

/** The library's record as the tests read it: its private shape, written out independently of the library. */
export interface StoredRecord {
  tokens?: WpsTokenRecord;
  pending?: { state: string; returnTo: string; createdAt: number }[];
  user?: WpsUser;
}

/** A copy of the record, from its stored form: a plain object under the record key. */
export function decodeRecord(value: unknown): StoredRecord | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? { ...(value as StoredRecord) }
    : undefined;
}

/**
 * The record of a session exactly as a store hands it back, or of a live `req.session`. Read here, independently of
 * the library.
 */
export function storedRecord(session: unknown): StoredRecord | undefined {
  return decodeRecord((session as Record<string, unknown> | null | undefined)?.[RECORD_KEY]);
}

/**
 * The live record object of a request's session (what the library reads and writes during this request), to
 * change it in place as a test needs.
 */
export function liveRecord(session: object): StoredRecord | undefined {
  const value = (session as Record<string, unknown>)[RECORD_KEY];
  return typeof value === 'object' && value !== null ? value : undefined;
}

/** `session` with its record replaced, in the form the library stores it. */
export function withStoredRecord<T extends object>(session: T, record: StoredRecord): T {
  return { ...session, [RECORD_KEY]: record };
}

/** A MemoryStore's entries: session id → the JSON string it keeps. */
export function sessionsOf(store: MemoryStore): Record<string, string> {
  return (store as unknown as { sessions: Record<string, string> }).sessions;
}

/** Count the writes that reach the store from now on. */
export function countSets(store: Store): { count: number } {
  const counter = { count: 0 };
  // Called below with .apply(this) on the store, never detached.
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const set = store.set;
  store.set = function countedSet(this: Store, ...args: Parameters<Store['set']>) {
    counter.count++;
    set.apply(this, args);
  };
  return counter;
}
