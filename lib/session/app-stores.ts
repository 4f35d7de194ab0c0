import type { Request } from 'express';
import type { Store } from 'express-session';

/**
 * The session store each Express app signed a user in with, so that `express-wps-oauth/testing` can reach the
 * server-side session of a test agent (it sees the app, never its express-session middleware). Weak keys: an app
 * that is dropped takes its entry with it. Internal.
 */
const storesByApp = new WeakMap<object, Store>();

/** How many enclosing apps are followed at most (a guard: Express mounts never loop). */
const MAX_PARENTS = 16;

/**
 * Remember the request's session store for its app and every app that app is mounted in (`app.parent`): a test
 * agent talks to the outermost one. Called once per completed sign-in, never on the hot path.
 */
export function rememberSessionStore(req: Request): void {
  const store = req.sessionStore as Store | undefined;
  let app: unknown = req.app;
  for (let depth = 0; store !== undefined && typeof app === 'function' && depth < MAX_PARENTS; depth++) {
    storesByApp.set(app, store);
    app = (app as { parent?: unknown }).parent;
  }
}

/** The session store `app` last signed a user in with, if any. */
export function sessionStoreOf(app: unknown): Store | undefined {
  return typeof app === 'function' ? storesByApp.get(app) : undefined;
}
