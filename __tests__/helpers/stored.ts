import type { MemoryStore, Store } from 'express-session';
import type { WpsSessionData } from '../../lib';

/**
 * The `wps` part of a session exactly as a store hands it back: JSON-based stores keep it as one JSON string (the
 * packed form, see lib/session/record.ts), others as an object. Decoded here, independently of the library.
 */
export function storedWps(session: unknown): WpsSessionData | undefined {
  const wps = (session as { wps?: unknown } | null | undefined)?.wps;
  return (typeof wps === 'string' ? JSON.parse(wps) : wps) as WpsSessionData | undefined;
}

/** `session` with its `wps` replaced, packed as the library would store it. */
export function withStoredWps<T extends object>(session: T, wps: WpsSessionData): T {
  return { ...session, wps: JSON.stringify(wps) };
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
