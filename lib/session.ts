import type { Request } from 'express';
import type { Session, SessionData } from 'express-session';
import { isTokenRecord } from './token-set';
import type { WpsTokenRecord } from './types';

/** Persist the session now (before a redirect, or before releasing a refresh lock). */
export function saveSession(session: Session): Promise<void> {
  return new Promise((resolve, reject) => session.save((err?: unknown) => (err ? reject(toError(err)) : resolve())));
}

/** Replace the session with a new one under a new id: defeats session fixation at login and logout. */
export function regenerateSession(req: Request): Promise<void> {
  return new Promise((resolve, reject) => req.session.regenerate((err?: unknown) => (err ? reject(toError(err)) : resolve())));
}

/**
 * The token record as the session store holds it right now — another process may have rotated it since this
 * request loaded its session. `undefined` when the store has none or cannot say.
 */
export function readStoredTokens(req: Request): Promise<WpsTokenRecord | undefined> {
  const store = req.sessionStore;
  if (store === undefined) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    store.get(req.sessionID, (err: unknown, data?: SessionData | null) => {
      const tokens = err ? undefined : data?.wps?.tokens;
      resolve(isTokenRecord(tokens) ? tokens : undefined);
    });
  });
}

function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
