import type { Request } from 'express';
import type { Session } from 'express-session';

/** A session's `save` as a function value: called with the session as `this` (never detached from it). */
export type SaveFn = (this: Session, callback?: (err: unknown) => void) => unknown;

/** The session's current `save` (the guard's, when it is in front), as a value to call with `.call(session)`. */
function saveOf(session: Session): SaveFn {
  return (session as unknown as { save: SaveFn }).save;
}

/** Where {@link shadowSave} keeps a `save` that was already an own property (rare: another library shadowed it). */
const OWN_SAVE = Symbol('express-wps-oauth.ownSave');

const hasOwn = (o: object, key: PropertyKey): boolean => Object.prototype.hasOwnProperty.call(o, key);

type Shadowed = Session & { [OWN_SAVE]?: SaveFn };

/** Persist the session now (before a redirect): through the session guard when there is one. */
export function saveSession(session: Session): Promise<void> {
  return callSave(session, saveOf(session));
}

/**
 * Persist the session with its own `save`, bypassing the session guard: for the refresher, which holds the
 * refresh lock and has just read the store, so the guard would only wait for itself.
 */
export function writeSession(session: Session): Promise<void> {
  return callSave(session, ownSave(session));
}

function callSave(session: Session, save: SaveFn): Promise<void> {
  return new Promise((resolve, reject) => {
    save.call(session, (err?: unknown) => (err ? reject(toError(err)) : resolve()));
  });
}

/**
 * Put `save` in front of the session's own `save` (express-session's end-of-request save calls
 * `req.session.save(cb)`), as a non-enumerable own property, so it is neither serialized nor hashed. Runs on every
 * request of a signed-in session, so it is one property definition: the original is the prototype's `save`,
 * which {@link ownSave} finds without it being stored.
 */
export function shadowSave(session: Session, save: SaveFn): void {
  const current = saveOf(session);
  if (current === save) return;
  if (hasOwn(session, 'save')) Object.defineProperty(session, OWN_SAVE, { value: current, configurable: true });
  Object.defineProperty(session, 'save', { value: save, configurable: true, writable: true });
}

/** The session's own `save`, as it was before {@link shadowSave}. */
export function ownSave(session: Session): SaveFn {
  return (session as Shadowed)[OWN_SAVE] ?? saveOf(Object.getPrototypeOf(session) as Session);
}

/**
 * Replace the session with a new one under a new id: defeats session fixation at login and logout. The new
 * session object keeps the old one's guarded `save`.
 */
export async function regenerateSession(req: Request): Promise<void> {
  const old = req.session as Shadowed;
  const guarded = hasOwn(old, 'save') ? saveOf(old) : undefined;
  await new Promise<void>((resolve, reject) =>
    old.regenerate((err?: unknown) => (err ? reject(toError(err)) : resolve())),
  );
  if (guarded !== undefined) shadowSave(req.session, guarded);
}

function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
