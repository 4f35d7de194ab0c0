import type { Request } from 'express';
import type { Session } from 'express-session';

/** A session's `save` as a function value: called with the session as `this` (never detached from it). */
export type SaveFn = (this: Session, callback?: (err?: unknown) => void) => unknown;

function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/** Call `save` on `session` (its own `save` by default) as a promise. */
export function saveSession(session: Session, save?: SaveFn): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (err?: unknown) => (err ? reject(toError(err)) : resolve());
    if (save === undefined) session.save(done);
    else save.call(session, done);
  });
}

/** Replace the session with a new one under a new id (express-session's `regenerate`): against session fixation. */
export function regenerateSession(req: Request): Promise<void> {
  return new Promise((resolve, reject) => {
    req.session.regenerate((err?: unknown) => (err ? reject(toError(err)) : resolve()));
  });
}
