import type { SessionData, Store } from 'express-session';
import type { WpsTokenRecord } from '../types';
import { storedTokensOf, withStoredTokens } from './record';
import type { TokenCodec } from './token-codec';

function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/** A failure of the store, saying which call failed; the store's own error is its `cause`. */
function storeFailure(operation: 'get' | 'set', err: unknown): Error {
  const cause = toError(err);
  return new Error(`the session store's ${operation}() failed: ${cause.message}`, { cause: err });
}

/** `store.get` as a promise (a failure names the call, the store's error as its `cause`): the session as the store holds it now (`null`/`undefined` when it has none). */
export function getStoredSession(store: Store, sid: string): Promise<SessionData | null | undefined> {
  return new Promise((resolve, reject) => {
    try {
      store.get(sid, (err: unknown, session?: SessionData | null) =>
        err ? reject(storeFailure('get', err)) : resolve(session),
      );
    } catch (err) {
      reject(storeFailure('get', err));
    }
  });
}

/** `store.set` as a promise. */
export function setStoredSession(store: Store, sid: string, session: SessionData): Promise<void> {
  return new Promise((resolve, reject) => {
    try {
      store.set(sid, session, (err?: unknown) => (err ? reject(storeFailure('set', err)) : resolve()));
    } catch (err) {
      reject(storeFailure('set', err));
    }
  });
}

/**
 * The tokens the session store holds for `sid` right now — another request or process may have rotated them since
 * this request loaded its session. `undefined` when the store has none or cannot say (never rejects).
 */
export async function readStoredTokens(
  store: Store | undefined,
  sid: string,
  codec: TokenCodec,
): Promise<WpsTokenRecord | undefined> {
  if (store === undefined) return undefined;
  try {
    return codec.open(storedTokensOf(await getStoredSession(store, sid)), sid);
  } catch {
    return undefined;
  }
}

/**
 * Rewrite the tokens of a stored session through the store, outside any request: `update` gets them opened and
 * returns the new record. Resolves `false` when the stored session holds no tokens; rejects when the store fails.
 */
export async function updateStoredTokens(
  store: Store,
  sid: string,
  codec: TokenCodec,
  update: (tokens: WpsTokenRecord) => WpsTokenRecord,
): Promise<boolean> {
  const session = await getStoredSession(store, sid);
  const tokens = session ? codec.open(storedTokensOf(session), sid) : undefined;
  if (!session || tokens === undefined) return false;
  await setStoredSession(store, sid, withStoredTokens(session, codec.close(update({ ...tokens }), sid)));
  return true;
}
