import type { WpsTokenRecord } from '../types';

/**
 * One request's session, as the refresher and the rotation guard see it: its tokens (as this request holds them),
 * the tokens the store holds now, and a write of the session. `req.wps` implements it; nothing here knows Express.
 */
export interface RefreshTarget {
  /** The session id: the key of the refresh lock and of the store. */
  readonly sid: string;
  /** The tokens this request holds, opened; `undefined` when signed out. Never mutate them: {@link setTokens}. */
  tokens(): WpsTokenRecord | undefined;
  /** Make `tokens` this request's tokens (`undefined`: signed out); written with the session. */
  setTokens(tokens: WpsTokenRecord | undefined): void;
  /** The tokens the session store holds now (`undefined` when none); rejects when the store fails. */
  readStoredTokens(): Promise<WpsTokenRecord | undefined>;
  /** Write the session to the store now, around the rotation guard (the caller holds the refresh lock). */
  persist(): Promise<void>;
}
