import type { Request } from 'express';
import type { Session, SessionData } from 'express-session';
import type { ResolvedConfig } from '../config';
import { pollDelay, POLL_SLACK_MS, type Lease, type LockKeeper } from './refresh-lock';
import { readStoredTokens, recordOf, writableRecordOf } from '../session/record';
import { ownSave, shadowSave, type SaveFn } from '../session/save';
import { canRefresh, isFresh, isNewer, isTokenRecord } from '../session/token-record';
import type { WpsLogger, WpsTokenRecord } from '../types';

/** Instances' clocks and `refreshSkewSeconds` may differ a little: start guarding this much earlier. */
const MARGIN_MS = 10_000;

/** express-session's `Session` keeps its request in a non-enumerable `req` (its own `save` uses it). */
type StoredSession = Session & Partial<SessionData> & { req?: Request };

/**
 * Keeps a request from writing old tokens over newer ones. A request loads its session at the start and
 * express-session saves it at the end — whole, with the tokens as loaded. If a refresh (here or in another
 * instance) stored a newer token record in between, that save would put back a refresh token WPS has already
 * rotated away, and the next refresh would sign the user out.
 *
 * So every save of a session that holds tokens first reads the stored record and keeps it when its `rev` is
 * higher. While the record is due for refresh, the save also takes the refresh lock (or waits for the refresh in
 * flight), so it cannot slip between another refresh's read and write. Saves of sessions without tokens, and
 * requests that do not save, cost nothing. Internal.
 */
export class SessionGuard {
  /** The `save` every guarded session gets: one function for every request, no per-request closure. */
  readonly save: SaveFn;

  constructor(
    private readonly config: ResolvedConfig,
    private readonly locks: LockKeeper,
    private readonly log: WpsLogger,
  ) {
    const commit = (session: Session, callback: ((err: unknown) => void) | undefined) => this.commit(session, callback);
    this.save = function guardedSave(this: Session, callback?: (err: unknown) => void) {
      commit(this, callback);
      return this;
    };
  }

  /** Put the guard in front of this session object's `save`; a no-op when it is already there. */
  protect(session: Session | undefined): void {
    if (session !== undefined && typeof session.save === 'function') shadowSave(session, this.save);
  }

  private commit(session: StoredSession, callback: ((err: unknown) => void) | undefined): void {
    const write = (lease: Lease | null) => {
      ownSave(session).call(session, (err: unknown) => {
        // release() never rejects (an unreleased lock expires by its TTL), and the response must not wait for it.
        if (lease !== null) void this.locks.release(lease);
        callback?.(err);
      });
    };
    // The save must happen whatever reconcile() meets: a response waits for it.
    this.reconcile(session).then(write, () => write(null));
  }

  /** Make the outgoing session hold the newest token record; resolves with a lease to release after the write. */
  private async reconcile(session: StoredSession): Promise<Lease | null> {
    const outgoing = recordOf(session)?.tokens;
    const req = session.req;
    if (!isTokenRecord(outgoing) || req?.sessionStore === undefined) return null;
    const sid = session.id;
    let lease: Lease | null = null;
    if (this.mayBeRefreshing(outgoing)) {
      const deadline = this.config.clock.now() + this.config.lockTtlMs + POLL_SLACK_MS;
      for (;;) {
        lease = await this.locks.tryAcquire(sid);
        if (lease !== null) break;
        // A refresh is in flight: the lock holder stores its result before releasing, and that result wins.
        const stored = await readStoredTokens(req, sid);
        if (isNewer(stored, outgoing)) {
          this.adopt(session, stored);
          return null;
        }
        if (this.config.clock.now() >= deadline) {
          this.log.warn('saving the session without the refresh lock: it was held longer than its TTL');
          break;
        }
        await pollDelay();
      }
    }
    const stored = await readStoredTokens(req, sid);
    if (isNewer(stored, outgoing)) this.adopt(session, stored);
    return lease;
  }

  private mayBeRefreshing(record: WpsTokenRecord): boolean {
    const now = this.config.clock.now();
    return canRefresh(record, now) && !isFresh(record, this.config.refreshSkewMs + MARGIN_MS, now);
  }

  private adopt(session: StoredSession, stored: WpsTokenRecord): void {
    const data = writableRecordOf(session);
    data.tokens = stored;
    this.log.debug("kept the newer tokens from the session store over this request's older copy", { rev: stored.rev });
  }
}
