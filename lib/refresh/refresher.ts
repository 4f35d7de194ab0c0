import type { Request } from 'express';
import type { ResolvedConfig } from '../config';
import { WpsAuthError } from '../errors';
import { LockKeeper, pollDelay, POLL_SLACK_MS } from './refresh-lock';
import { readStoredTokens, recordOf, writableRecordOf } from '../session/record';
import { writeSession } from '../session/save';
import { SessionGuard } from './session-guard';
import type { TokenClient } from '../wps/token-client';
import { canRefresh, isFresh, isNewer, isTokenRecord, toTokenRecord } from '../session/token-record';
import type { WpsLogger, WpsTokenRecord } from '../types';
import { reportRefresh, sessionTag } from './refresh-report';

/** How one refresh ended, shared by every request of the session that waited for it. */
type Outcome =
  /** `source`: WPS answered this instance, or the store held another request's or instance's newer tokens. */
  | { kind: 'fresh'; record: WpsTokenRecord; source: 'wps' | 'store' }
  | { kind: 'revoked'; error: WpsAuthError }
  | { kind: 'transient'; error: WpsAuthError };

/**
 * After WPS rejected a refresh token, how long to give a sibling that may have just rotated it to store the new
 * one. Only matters when the lock could not keep them apart (lock service down, or a holder outlived its TTL).
 */
const REJECTED_RECHECK_MS = 250;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function asAuthError(err: unknown): WpsAuthError {
  return err instanceof WpsAuthError
    ? err
    : new WpsAuthError('wps_unavailable', 'The WPS token refresh failed unexpectedly');
}

/**
 * Keeps each session's access token fresh. WPS rotates refresh tokens, so refreshes of one session are
 * serialized twice: requests in this process share one in-flight refresh (single-flight), and processes take the
 * {@link RefreshLock} and re-read the session store before calling WPS. The outcome is stored before the lock is
 * released, and {@link SessionGuard} keeps every other save of the session from writing older tokens over it.
 */
export class Refresher {
  private readonly inflight = new Map<string, Promise<Outcome>>();
  /** The refresh lock, shared with {@link Refresher.guard}. */
  readonly locks: LockKeeper;
  /** Guards each request's session saves against stale tokens; `wpsAuth` applies it to every request. */
  readonly guard: SessionGuard;

  constructor(
    private readonly config: ResolvedConfig,
    private readonly client: TokenClient,
    private readonly log: WpsLogger,
  ) {
    this.locks = new LockKeeper(config.refreshLock, config.lockTtlMs, log, config.clock);
    this.guard = new SessionGuard(config, this.locks, log);
  }

  /**
   * A valid access token for this request's session; refreshes when it expires within the skew, or whenever
   * `force` is set (then a failed refresh rejects instead of serving the old token).
   */
  async getFreshToken(req: Request, force = false): Promise<string> {
    const data = recordOf(req.session);
    const tokens = data?.tokens;
    const now = this.config.clock.now();
    if (data === undefined || !isTokenRecord(tokens)) {
      throw new WpsAuthError('login_required', 'Sign in with WPS first: this session has no WPS tokens');
    }
    if (!force && isFresh(tokens, this.config.refreshSkewMs, now)) return tokens.accessToken;
    if (!canRefresh(tokens, now)) {
      if (tokens.expiresAt > now) return tokens.accessToken;
      delete data.tokens;
      const error = new WpsAuthError('login_required', 'Sign in with WPS again: the WPS session has expired');
      reportRefresh(this.log, {
        outcome: 'signed_out',
        session: sessionTag(req.sessionID),
        rev: tokens.rev,
        ms: 0,
        code: error.code,
      });
      throw error;
    }

    const sid = req.sessionID;
    let flight = this.inflight.get(sid);
    if (flight === undefined) {
      flight = this.refreshAndReport(req, tokens, force).finally(() => this.inflight.delete(sid));
      this.inflight.set(sid, flight);
    }
    const outcome = await flight;

    const session = writableRecordOf(req.session);
    if (outcome.kind === 'fresh') {
      session.tokens = outcome.record;
      return outcome.record.accessToken;
    }
    if (outcome.kind === 'revoked') {
      delete session.tokens;
      throw new WpsAuthError('login_required', `Sign in with WPS again: ${outcome.error.message}`, {
        ...(outcome.error.wpsCode !== undefined && { wpsCode: outcome.error.wpsCode }),
        ...(outcome.error.wpsMsg !== undefined && { wpsMsg: outcome.error.wpsMsg }),
      });
    }
    // WPS is down or slow: the current access token is still good for a while, so keep serving with it.
    if (!force && tokens.expiresAt > this.config.clock.now()) return tokens.accessToken;
    throw outcome.error;
  }

  /** One refresh, reported once — however many requests share it — by a log line and on the diagnostics channel. */
  private async refreshAndReport(req: Request, tokens: WpsTokenRecord, force: boolean): Promise<Outcome> {
    const started = performance.now();
    const outcome = await this.refreshSerialized(req, tokens);
    const common = { session: sessionTag(req.sessionID), ms: Math.round(performance.now() - started) };
    switch (outcome.kind) {
      case 'fresh':
        reportRefresh(this.log, {
          outcome: outcome.source === 'wps' ? 'refreshed' : 'adopted',
          ...common,
          rev: outcome.record.rev,
        });
        break;
      case 'revoked':
        reportRefresh(this.log, {
          outcome: 'signed_out',
          ...common,
          rev: tokens.rev,
          code: outcome.error.code,
          ...(outcome.error.wpsMsg !== undefined && { wpsMsg: outcome.error.wpsMsg }),
        });
        break;
      case 'transient': {
        const kept = !force && tokens.expiresAt > this.config.clock.now();
        reportRefresh(this.log, {
          outcome: kept ? 'kept_old_token' : 'failed',
          ...common,
          rev: tokens.rev,
          code: outcome.error.code,
          ...(outcome.error.wpsMsg !== undefined && { wpsMsg: outcome.error.wpsMsg }),
        });
        break;
      }
    }
    return outcome;
  }

  private async refreshSerialized(req: Request, tokens: WpsTokenRecord): Promise<Outcome> {
    const sid = req.sessionID;
    // A dead holder's lock expires within its TTL, and the refresh after it is bounded by timeoutMs: so no
    // request waits longer than the TTL plus timeoutMs.
    const deadline = this.config.clock.now() + this.config.lockTtlMs + POLL_SLACK_MS;
    for (;;) {
      const lease = await this.locks.tryAcquire(sid);
      if (lease !== null) {
        this.log.debug('refresh lock acquired', { rev: tokens.rev });
        try {
          return await this.refreshHoldingLock(req, tokens);
        } finally {
          await this.locks.release(lease);
          this.log.debug('refresh lock released');
        }
      }
      const stored = await readStoredTokens(req);
      if (isNewer(stored, tokens) && this.isFresh(stored)) return { kind: 'fresh', record: stored, source: 'store' };
      if (this.config.clock.now() >= deadline) {
        return {
          kind: 'transient',
          error: new WpsAuthError('wps_timeout', 'Timed out waiting for another instance to refresh the WPS token'),
        };
      }
      await pollDelay();
    }
  }

  private isFresh(record: WpsTokenRecord): boolean {
    return isFresh(record, this.config.refreshSkewMs, this.config.clock.now());
  }

  private async refreshHoldingLock(req: Request, tokens: WpsTokenRecord): Promise<Outcome> {
    // Another request or process may have rotated the tokens while we waited: use theirs, not a dead refresh token.
    let current = tokens;
    const stored = await readStoredTokens(req);
    if (isNewer(stored, tokens)) {
      if (this.isFresh(stored)) return { kind: 'fresh', record: stored, source: 'store' };
      if (!canRefresh(stored, this.config.clock.now())) {
        if (stored.expiresAt > this.config.clock.now()) return { kind: 'fresh', record: stored, source: 'store' };
        return { kind: 'revoked', error: new WpsAuthError('login_required', 'the WPS session has expired') };
      }
      current = stored;
    }
    try {
      const res = await this.client.refresh(current.refreshToken as string);
      const record = toTokenRecord(res, this.config.clock.now(), current);
      await this.persist(req, record);
      return { kind: 'fresh', record, source: 'wps' };
    } catch (err) {
      const error = asAuthError(err);
      if (error.code !== 'wps_rejected') return { kind: 'transient', error };
      // A sibling may have rotated the refresh token just now: believe the store before giving up.
      await sleep(REJECTED_RECHECK_MS);
      const again = await readStoredTokens(req);
      if (isNewer(again, current)) return { kind: 'fresh', record: again, source: 'store' };
      await this.persist(req, undefined);
      return { kind: 'revoked', error };
    }
  }

  /** Write the outcome to the store before the lock is released, so other processes see it. */
  private async persist(req: Request, record: WpsTokenRecord | undefined): Promise<void> {
    const data = writableRecordOf(req.session);
    if (record === undefined) delete data.tokens;
    else data.tokens = record;
    try {
      // Straight to the store: this request holds the lock and has just read the store, so the guard has nothing to add.
      await writeSession(req.session);
    } catch {
      this.log.error('could not save the session after a refresh');
    }
  }
}
