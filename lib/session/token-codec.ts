import type { Store } from 'express-session';
import { isTokenRecord } from '../token-set';
import type { WpsLogger, WpsTokenRecord } from '../types';
import type { TokenSealer } from './token-sealer';

/**
 * How the tokens of a session are kept in its record: as they are, or sealed with `tokenEncryptionKey`. Every read
 * and write of a record's tokens goes through one. Internal.
 */
export interface TokenCodec {
  /** The token record that `stored` (a record's `tokens`, as stored) holds for session `sid`, if any. */
  open(stored: unknown, sid: string): WpsTokenRecord | undefined;
  /** What to store as the record's `tokens` for `tokens` in session `sid`. */
  close(tokens: WpsTokenRecord, sid: string): unknown;
}

/** Tokens stored as they are (no `tokenEncryptionKey`). */
export const plainTokens: TokenCodec = Object.freeze({
  open: (stored: unknown) => (isTokenRecord(stored) ? stored : undefined),
  close: (tokens: WpsTokenRecord) => tokens,
});

/**
 * Tokens sealed with AES-256-GCM, bound to the session id (see {@link TokenSealer}). A plain record — stored before
 * encryption was switched on — still opens, and is sealed at its next write; a sealed string that no key opens counts
 * as signed out (logged, without the string).
 */
export class SealedTokens implements TokenCodec {
  constructor(
    private readonly sealer: TokenSealer,
    private readonly log: WpsLogger,
  ) {}

  /** The key ids this codec seals with and opens: two codecs with the same keyring read each other's records. */
  get keyring(): string {
    return this.sealer.keyring;
  }

  open(stored: unknown, sid: string): WpsTokenRecord | undefined {
    if (typeof stored !== 'string') return isTokenRecord(stored) ? stored : undefined;
    const tokens = this.sealer.unseal(stored, sid);
    if (tokens === undefined) {
      this.log.warn('could not decrypt the WPS tokens stored in this session; treating it as signed out', {
        reason: this.sealer.failureOf(stored),
      });
    }
    return tokens;
  }

  close(tokens: WpsTokenRecord, sid: string): string {
    return this.sealer.seal(tokens, sid);
  }
}

/** The sealing codec each session store is used with, so that two `wpsAuth()` with other keys are caught. */
const sealedStores = new WeakMap<Store, SealedTokens>();

/**
 * Record that `codec` seals the tokens of `store`'s sessions. `false` when another codec with other keys already
 * does: the two would make each other's sessions unreadable.
 */
export function claimStore(store: Store, codec: SealedTokens): boolean {
  const known = sealedStores.get(store);
  if (known === undefined) sealedStores.set(store, codec);
  return known === undefined || known === codec || known.keyring === codec.keyring;
}

/** The codec of `store`'s sessions: the sealing one a `wpsAuth()` claimed it with, else plain. */
export function codecOfStore(store: Store | undefined): TokenCodec {
  return (store !== undefined && sealedStores.get(store)) || plainTokens;
}
