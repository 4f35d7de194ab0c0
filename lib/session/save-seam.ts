import type { Session } from 'express-session';
import { saveSession, type SaveFn } from './save';

/** What runs around one save of a session whose `save` {@link interceptSave} intercepted. */
export interface SaveGuard<T> {
  /**
   * Called instead of the save: prepare `target` (e.g. keep newer tokens from the store), call `write()` once —
   * express-session's own save — and settle after it. A rejection is the save's error.
   */
  aroundSave(target: T, write: () => Promise<void>): Promise<void>;
}

/**
 * The library's one seam in code it does not own (docs/internals.md explains it). express-session saves a session
 * that changed at the end of the request by calling `req.session.save(callback)` — the session object's own `save`,
 * which express-session itself set on that object to note that it was saved. This puts a `save` in front of it on
 * this one session object (same property attributes: non-enumerable, writable, configurable), so the rotation guard
 * sees every save of the request — the end-of-request one and the app's own — before anything reaches the store.
 * Nothing else changes: the store, the prototype and other sessions are untouched; a session replaced by
 * `regenerate()` or `reload()` is a new object without it.
 *
 * Returns the `save` that was there, for the caller's writes that must not go through the guard.
 */
export function interceptSave<T>(session: Session, guard: SaveGuard<T>, target: T): SaveFn {
  // Kept to be called with .call(session) below, never detached from a session.
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const original = session.save as SaveFn;
  Object.defineProperty(session, 'save', {
    configurable: true,
    enumerable: false,
    writable: true,
    value: function guardedSave(this: Session, callback?: (err?: unknown) => void): Session {
      guard
        .aroundSave(target, () => saveSession(this, original))
        .then(
          () => callback?.(),
          (err: unknown) => callback?.(err),
        );
      return this;
    },
  });
  return original;
}
