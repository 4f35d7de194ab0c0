import type { WpsClock } from '../clock';
import { WpsAuthError } from '../errors';
import { canRefresh, isFresh, isNewer, toTokenRecord, type TokenResponse } from '../token-set';
import type { RefreshLock, WpsLogger, WpsTokenRecord } from '../types';
import { createMemoryRefreshLock, LockKeeper, pollDelay, POLL_SLACK_MS, type Lease } from './refresh-lock';
import { reportRefresh, sessionTag } from './refresh-report';
import { SessionGuard } from './session-guard';
import type { RefreshTarget } from './target';

/** How one refresh ended, shared by every request of the session that waited for it. */
type Outcome =
  /** `source`: WPS answered this instance, or the store held another request's or instance's newer tokens. */
  | { kind: 'fresh'; record: WpsTokenRecord; source: 'wps' | 'store' }
  | { kind: 'revoked'; error: WpsAuthError }
  | { kind: 'transient'; error: WpsAuthError };

/** What the refresher reads of the configuration. */
export interface RefresherSettings {
  refreshSkewMs: number;
  /** How long a refresh lock is held at most, should its holder die. */
  lockTtlMs: number;
  /** `undefined`: the in-process default. */
  refreshLock: RefreshLock | undefined;
  clock: WpsClock;
}

/** The one call to WPS the refresher makes. */
export interface RefreshClient {
  refresh(refreshToken: string): Promise<TokenResponse>;
}

/**
 * After WPS rejected a refresh token, how long to give a sibling that may have just rotated it to store the new
 * one. Only matters when the lock could not keep them apart (a holder outlived its TTL).
 */
const REJECTED_RECHECK_MS = 250;
/** The first wait before writing the session again after a failed write; doubled each time. */
const WRITE_RETRY_MS = 50;
/** Writes are retried until this long before the lock's TTL runs out, so no other instance refreshes meanwhile. */
const WRITE_RETRY_MARGIN_MS = 500;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function asAuthError(err: unknown): WpsAuthError {
  return err instanceof WpsAuthError
    ? err
    : new WpsAuthError('wps_unavailable', 'The WPS token refresh failed unexpectedly');
}

const STORE_DOWN = (what: string) =>
  new WpsAuthError('store_unavailable', `The WPS token could not be refreshed: ${what}; try again shortly`);

/**
 * Keeps each session's access token fresh. WPS rotates refresh tokens, so refreshes of one session are
 * serialized twice: requests in this process share one in-flight refresh (single-flight), and processes take the
 * {@link RefreshLock} and re-read the session store before calling WPS. The outcome is stored before the lock is
 * released (the write is retried while the lock is held), and {@link SessionGuard} keeps every other save of the
 * session from writing older tokens over it. A failing store or lock never signs anybody out.
 */
export class Refresher {
  private readonly inflight = new Map<string, Promise<Outcome>>();
  private readonly locks: LockKeeper;
  /** Guards each request's session saves against stale tokens. */
  readonly guard: SessionGuard;

  constructor(
    private readonly settings: RefresherSettings,
    private readonly client: RefreshClient,
    private readonly log: WpsLogger,
  ) {
    const lock = settings.refreshLock ?? createMemoryRefreshLock({ clock: settings.clock });
    this.locks = new LockKeeper(lock, settings.lockTtlMs, log);
    this.guard = new SessionGuard(settings, this.locks, log);
  }

  /**
   * A valid access token for `target`'s session; refreshes when it expires within the skew, or whenever `force` is
   * set (then a failed refresh rejects instead of serving the old token).
   */
  async getFreshToken(target: RefreshTarget, force = false): Promise<string> {
    const tokens = target.tokens();
    const now = this.settings.clock.now();
    if (tokens === undefined) {
      throw new WpsAuthError('login_required', 'Sign in with WPS first: this session has no WPS tokens');
    }
    if (!force && isFresh(tokens, this.settings.refreshSkewMs, now)) return tokens.accessToken;
    if (!canRefresh(tokens, now)) return this.withoutRefreshToken(target, tokens, now);

    const sid = target.sid;
    let flight = this.inflight.get(sid);
    if (flight === undefined) {
      flight = this.refreshAndReport(target, tokens, force).finally(() => this.inflight.delete(sid));
      this.inflight.set(sid, flight);
    }
    return this.apply(target, tokens, await flight, force);
  }

  /** No usable refresh token: the access token while it lasts, then signed out (a real expiry, not a fault). */
  private withoutRefreshToken(target: RefreshTarget, tokens: WpsTokenRecord, now: number): string {
    if (tokens.expiresAt > now) return tokens.accessToken;
    target.setTokens(undefined);
    const error = new WpsAuthError('login_required', 'Sign in with WPS again: the WPS session has expired');
    reportRefresh(this.log, {
      outcome: 'signed_out',
      session: sessionTag(target.sid),
      rev: tokens.rev,
      ms: 0,
      code: error.code,
    });
    throw error;
  }

  /** What a shared refresh outcome means for one request of the session. */
  private apply(target: RefreshTarget, tokens: WpsTokenRecord, outcome: Outcome, force: boolean): string {
    if (outcome.kind === 'fresh') {
      target.setTokens(outcome.record);
      return outcome.record.accessToken;
    }
    if (outcome.kind === 'revoked') {
      target.setTokens(undefined);
      throw new WpsAuthError('login_required', `Sign in with WPS again: ${outcome.error.message}`, {
        ...(outcome.error.wpsCode !== undefined && { wpsCode: outcome.error.wpsCode }),
        ...(outcome.error.wpsMsg !== undefined && { wpsMsg: outcome.error.wpsMsg }),
      });
    }
    // WPS, the store or the lock is down or slow: the current access token is still good for a while.
    if (!force && tokens.expiresAt > this.settings.clock.now()) return tokens.accessToken;
    throw outcome.error;
  }

  /** One refresh, reported once — however many requests share it — by a log line and on the diagnostics channel. */
  private async refreshAndReport(target: RefreshTarget, tokens: WpsTokenRecord, force: boolean): Promise<Outcome> {
    const started = performance.now();
    const outcome = await this.refreshSerialized(target, tokens);
    const common = { session: sessionTag(target.sid), ms: Math.round(performance.now() - started) };
    if (outcome.kind === 'fresh') {
      reportRefresh(this.log, {
        outcome: outcome.source === 'wps' ? 'refreshed' : 'adopted',
        ...common,
        rev: outcome.record.rev,
      });
      return outcome;
    }
    const { code, wpsMsg } = outcome.error;
    const kept = !force && tokens.expiresAt > this.settings.clock.now();
    reportRefresh(this.log, {
      outcome: outcome.kind === 'revoked' ? 'signed_out' : kept ? 'kept_old_token' : 'failed',
      ...common,
      rev: tokens.rev,
      code,
      ...(wpsMsg !== undefined && { wpsMsg }),
    });
    return outcome;
  }

  /** Take the lock (or wait for its holder's outcome), then refresh holding it. */
  private async refreshSerialized(target: RefreshTarget, tokens: WpsTokenRecord): Promise<Outcome> {
    // A dead holder's lock expires within its TTL, and the refresh after it is bounded by timeoutMs: so no
    // request waits longer than the TTL plus timeoutMs.
    const deadline = this.settings.clock.now() + this.settings.lockTtlMs + POLL_SLACK_MS;
    for (;;) {
      const attempt = await this.locks.tryAcquire(target.sid);
      if (attempt.kind === 'taken') return this.refreshWithLease(target, tokens, attempt.lease);
      const stored = await target.readStoredTokens().catch(() => undefined);
      if (isNewer(stored, tokens) && this.isFresh(stored)) return { kind: 'fresh', record: stored, source: 'store' };
      // Without the lock another instance may be rotating this refresh token right now: refresh nothing.
      if (attempt.kind === 'unavailable')
        return { kind: 'transient', error: STORE_DOWN('the refresh lock is unavailable') };
      if (this.settings.clock.now() >= deadline) {
        return {
          kind: 'transient',
          error: new WpsAuthError('wps_timeout', 'Timed out waiting for another instance to refresh the WPS token'),
        };
      }
      await pollDelay();
    }
  }

  private async refreshWithLease(target: RefreshTarget, tokens: WpsTokenRecord, lease: Lease): Promise<Outcome> {
    const leaseEnds = this.settings.clock.now() + this.settings.lockTtlMs - WRITE_RETRY_MARGIN_MS;
    this.log.debug('refresh lock acquired', { rev: tokens.rev });
    try {
      return await this.refreshHoldingLock(target, tokens, leaseEnds);
    } finally {
      await this.locks.release(lease);
      this.log.debug('refresh lock released');
    }
  }

  private isFresh(record: WpsTokenRecord): boolean {
    return isFresh(record, this.settings.refreshSkewMs, this.settings.clock.now());
  }

  private async refreshHoldingLock(target: RefreshTarget, tokens: WpsTokenRecord, leaseEnds: number): Promise<Outcome> {
    // Another request or process may have rotated the tokens while we waited: use theirs, not a dead refresh token.
    let stored: WpsTokenRecord | undefined;
    try {
      stored = await target.readStoredTokens();
    } catch {
      return { kind: 'transient', error: STORE_DOWN('the session store could not be read') };
    }
    let current = tokens;
    if (isNewer(stored, tokens)) {
      const now = this.settings.clock.now();
      if (this.isFresh(stored) || (!canRefresh(stored, now) && stored.expiresAt > now)) {
        return { kind: 'fresh', record: stored, source: 'store' };
      }
      if (!canRefresh(stored, now)) {
        return { kind: 'revoked', error: new WpsAuthError('login_required', 'the WPS session has expired') };
      }
      current = stored;
    }
    let record: WpsTokenRecord;
    try {
      const res = await this.client.refresh(current.refreshToken as string);
      record = toTokenRecord(res, this.settings.clock.now(), current);
    } catch (err) {
      return this.refused(target, current, asAuthError(err));
    }
    target.setTokens(record);
    await this.persist(target, leaseEnds);
    return { kind: 'fresh', record, source: 'wps' };
  }

  /** WPS refused the refresh: signed out when it rejected the token (unless a sibling just rotated it), else transient. */
  private async refused(target: RefreshTarget, current: WpsTokenRecord, error: WpsAuthError): Promise<Outcome> {
    if (error.code !== 'wps_rejected') return { kind: 'transient', error };
    await sleep(REJECTED_RECHECK_MS);
    let again: WpsTokenRecord | undefined;
    try {
      again = await target.readStoredTokens();
    } catch {
      return { kind: 'transient', error: STORE_DOWN('the session store could not be read') };
    }
    if (isNewer(again, current)) return { kind: 'fresh', record: again, source: 'store' };
    target.setTokens(undefined);
    await this.persist(target, this.settings.clock.now() + REJECTED_RECHECK_MS);
    return { kind: 'revoked', error };
  }

  /**
   * Write the session before the lock is released, so other processes see the outcome. WPS has already rotated the
   * refresh token, so a failed write is retried — with backoff, while the lock is still ours — rather than lost.
   */
  private async persist(target: RefreshTarget, until: number): Promise<void> {
    for (let attempt = 0, waitMs = WRITE_RETRY_MS; ; attempt++, waitMs *= 2) {
      try {
        await target.persist();
        if (attempt > 0) this.log.info('saved the session after a refresh, after retrying', { attempts: attempt + 1 });
        return;
      } catch {
        if (attempt === 0) this.log.warn('could not save the session after a refresh; retrying while holding the lock');
        if (this.settings.clock.now() + waitMs >= until) {
          this.log.error('could not save the session after a refresh; the new tokens live in this request only', {
            attempts: attempt + 1,
          });
          return;
        }
        await sleep(waitMs);
      }
    }
  }
}
