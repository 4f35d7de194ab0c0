import type { WpsSessionData } from '../../lib';

/**
 * The `wps` part of a session exactly as a store hands it back: JSON-based stores keep it as one JSON string (the
 * packed form, see lib/packed-wps.ts), others as an object. Decoded here, independently of the library.
 */
export function storedWps(session: unknown): WpsSessionData | undefined {
  const wps = (session as { wps?: unknown } | null | undefined)?.wps;
  return (typeof wps === 'string' ? JSON.parse(wps) : wps) as WpsSessionData | undefined;
}

/** `session` with its `wps` replaced, packed as the library would store it. */
export function withStoredWps<T extends object>(session: T, wps: WpsSessionData): T {
  return { ...session, wps: JSON.stringify(wps) };
}
