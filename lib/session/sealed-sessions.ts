import type { Request } from 'express';
import type { SessionData, Store } from 'express-session';
import { WpsAuthError } from '../errors';
import { copyWithTokens, replaceRecord, storedRecordOf } from './record';
import type { TokenSealer } from './token-sealer';
import { isTokenRecord } from './token-record';
import type { WpsLogger, WpsTokenRecord } from '../types';

/** Every session store already wrapped, with the keyring that wraps it. */
const wrappedStores = new WeakMap<Store, string>();

const OTHER_KEYS =
  'express-wps-oauth: another wpsAuth() already encrypts the tokens in this session store with other keys. ' +
  'Give every wpsAuth() that shares a session store the same tokenEncryptionKey list.';

type StoreCallback = (err: unknown, session?: SessionData | null) => void;

function tokensOf(session: unknown): unknown {
  return storedRecordOf(session)?.tokens;
}

/**
 * Keeps the token record encrypted in the session store, whichever express-session store it is: the store's
 * `get` opens the record's tokens and its `set` seals them, so the rest of the library — and the app — only ever sees plain
 * records, and express-session's change detection hashes the plain session. `touch` and `destroy` never carry
 * tokens. Internal.
 */
export class SealedSessions {
  constructor(
    private readonly sealer: TokenSealer,
    private readonly log: WpsLogger,
  ) {}

  /**
   * Run before the rest of `wpsAuth` on every request: wraps the request's store on first sight, and opens a
   * session that was loaded before the wrap. Returns a `misconfigured` error when another `wpsAuth()` already
   * encrypts this store with other keys.
   */
  prepare(req: Request): WpsAuthError | undefined {
    const store = req.sessionStore as Store | undefined;
    if (store !== undefined) {
      const keyring = wrappedStores.get(store);
      if (keyring === undefined) this.wrap(store);
      else if (keyring !== this.sealer.keyring) return new WpsAuthError('misconfigured', OTHER_KEYS);
    }
    // Loaded through the store before it was wrapped: this request's session, or one loading while it was wrapped.
    const sealed = tokensOf(req.session);
    if (typeof sealed === 'string') {
      const record: Record<string, unknown> = { ...storedRecordOf(req.session) };
      const tokens = this.open(sealed, req.sessionID);
      if (tokens === undefined) delete record.tokens;
      else record.tokens = tokens;
      replaceRecord(req.session, record);
    }
    return undefined;
  }

  private open(sealed: string, sid: string): WpsTokenRecord | undefined {
    const record = this.sealer.unseal(sealed, sid);
    if (record === undefined) {
      this.log.warn('could not decrypt the WPS tokens stored in this session; treating it as signed out', {
        reason: this.sealer.failureOf(sealed),
      });
    }
    return record;
  }

  private wrap(store: Store): void {
    // The store's own methods, called below with .call(this) on the store: never detached from it.
    // eslint-disable-next-line @typescript-eslint/unbound-method
    const { get, set } = store;
    const sealer = this.sealer;
    const open = (session: SessionData, sid: string): SessionData => {
      const sealed = tokensOf(session);
      return typeof sealed === 'string' ? copyWithTokens(session, this.open(sealed, sid)) : session;
    };
    store.get = function sealedGet(this: Store, sid: string, callback: StoreCallback): void {
      // Promise-style calls (connect-redis, without a callback) come from the app, not express-session: untouched.
      if (typeof callback !== 'function') return get.call(this, sid, callback);
      get.call(this, sid, (err: unknown, session?: SessionData | null) => {
        callback(err, err || !session ? session : open(session, sid));
      });
    };
    store.set = function sealedSet(this: Store, sid: string, session: SessionData, callback?: (err?: unknown) => void) {
      const tokens = tokensOf(session);
      set.call(
        this,
        sid,
        isTokenRecord(tokens) ? copyWithTokens(session, sealer.seal(tokens, sid)) : session,
        callback,
      );
    };
    wrappedStores.set(store, sealer.keyring);
  }
}
