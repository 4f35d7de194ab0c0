import type { Request } from 'express';
import type { ResolvedConfig } from './config';
import { WpsAuthError } from './errors';
import { readStoredTokens, saveSession } from './session';
import type { TokenClient } from './token-client';
import { canRefresh, isTokenRecord, toTokenRecord } from './token-set';
import type { WpsLogger, WpsTokenRecord } from './types';

/** How one refresh ended, shared by every request of the session that waited for it. */
type Outcome =
  | { kind: 'fresh'; record: WpsTokenRecord }
  | { kind: 'revoked'; error: WpsAuthError }
  | { kind: 'transient'; error: WpsAuthError };

const LOCK_POLL_MS = 50;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function asAuthError(err: unknown): WpsAuthError {
  return err instanceof WpsAuthError
    ? err
    : new WpsAuthError('wps_unavailable', 'The WPS token refresh failed unexpectedly');
}

/** Whether `stored` replaced `current` (another request or process refreshed, or the user signed in again). */
function replaced(stored: WpsTokenRecord | undefined, current: WpsTokenRecord): stored is WpsTokenRecord {
  return stored !== undefined && stored.accessToken !== current.accessToken;
}

/**
 * Keeps each session's access token fresh. WPS rotates refresh tokens, so refreshes of one session are
 * serialized twice: requests in this process share one in-flight refresh (single-flight), and processes take the
 * {@link RefreshLock} and re-read the session store before calling WPS.
 */
export class Refresher {
  private readonly inflight = new Map<string, Promise<Outcome>>();
  private lockDown = false;

  constructor(
    private readonly config: ResolvedConfig,
    private readonly client: TokenClient,
    private readonly log: WpsLogger,
  ) {}

  /** A valid access token for this request's session; refreshes when it expires within the skew. */
  async getFreshToken(req: Request): Promise<string> {
    const data = req.session.wps;
    const tokens = data?.tokens;
    const now = Date.now();
    if (data === undefined || !isTokenRecord(tokens)) {
      throw new WpsAuthError('login_required', 'Sign in with WPS first: this session has no WPS tokens');
    }
    if (tokens.expiresAt - this.config.refreshSkewMs > now) return tokens.accessToken;
    if (!canRefresh(tokens, now)) {
      if (tokens.expiresAt > now) return tokens.accessToken;
      delete data.tokens;
      throw new WpsAuthError('login_required', 'Sign in with WPS again: the WPS session has expired');
    }

    const sid = req.sessionID;
    let flight = this.inflight.get(sid);
    if (flight === undefined) {
      flight = this.refreshSerialized(req, tokens).finally(() => this.inflight.delete(sid));
      this.inflight.set(sid, flight);
    }
    const outcome = await flight;

    const session = req.session.wps ?? (req.session.wps = {});
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
    if (tokens.expiresAt > Date.now()) {
      this.log.warn('refresh failed; serving the still-valid access token', { code: outcome.error.code });
      return tokens.accessToken;
    }
    throw outcome.error;
  }

  private async refreshSerialized(req: Request, tokens: WpsTokenRecord): Promise<Outcome> {
    const key = `wps:refresh:${req.sessionID}`;
    const deadline = Date.now() + this.config.timeoutMs + this.config.lockTtlMs;
    let owner: string | null;
    for (;;) {
      owner = await this.tryAcquire(key);
      if (owner !== null) break;
      const stored = await readStoredTokens(req);
      if (replaced(stored, tokens) && stored.expiresAt - this.config.refreshSkewMs > Date.now()) {
        return { kind: 'fresh', record: stored };
      }
      if (Date.now() >= deadline) {
        return {
          kind: 'transient',
          error: new WpsAuthError('wps_timeout', 'Timed out waiting for another instance to refresh the WPS token'),
        };
      }
      await sleep(LOCK_POLL_MS + Math.floor(Math.random() * LOCK_POLL_MS));
    }
    try {
      return await this.refreshHoldingLock(req, tokens);
    } finally {
      await this.config.refreshLock.release(key, owner).catch(() => {
        this.log.warn('could not release the refresh lock; it expires by its TTL');
      });
    }
  }

  private async tryAcquire(key: string): Promise<string | null> {
    try {
      const owner = await this.config.refreshLock.acquire(key, this.config.lockTtlMs);
      if (this.lockDown) this.log.info('refresh lock available again');
      this.lockDown = false;
      return owner;
    } catch {
      // The lock service is down: single-flight still serializes this process, which beats refusing service.
      // Said once per outage, not once per request.
      if (!this.lockDown) this.log.error('refresh lock unavailable; serializing refreshes within this process only');
      this.lockDown = true;
      return 'unlocked';
    }
  }

  private async refreshHoldingLock(req: Request, tokens: WpsTokenRecord): Promise<Outcome> {
    // Another process may have rotated the tokens while we waited: use theirs rather than a dead refresh token.
    let current = tokens;
    const stored = await readStoredTokens(req);
    if (replaced(stored, tokens)) {
      if (stored.expiresAt - this.config.refreshSkewMs > Date.now() || !canRefresh(stored, Date.now())) {
        return { kind: 'fresh', record: stored };
      }
      current = stored;
    }
    const started = Date.now();
    try {
      const res = await this.client.refresh(current.refreshToken as string);
      const record = toTokenRecord(res, Date.now(), current);
      await this.persist(req, record);
      this.log.debug('refreshed access token', { ms: Date.now() - started, rev: record.rev });
      return { kind: 'fresh', record };
    } catch (err) {
      const error = asAuthError(err);
      if (error.code !== 'wps_rejected') {
        this.log.warn('token refresh failed', { code: error.code, ms: Date.now() - started });
        return { kind: 'transient', error };
      }
      // A sibling may have rotated the refresh token just now: believe the store before giving up.
      const again = await readStoredTokens(req);
      if (replaced(again, current)) return { kind: 'fresh', record: again };
      this.log.info('WPS rejected the refresh token; the user must sign in again', { wpsMsg: error.wpsMsg });
      await this.persist(req, undefined);
      return { kind: 'revoked', error };
    }
  }

  /** Write the outcome to the store before the lock is released, so other processes see it. */
  private async persist(req: Request, record: WpsTokenRecord | undefined): Promise<void> {
    const data = req.session.wps ?? (req.session.wps = {});
    if (record === undefined) delete data.tokens;
    else data.tokens = record;
    try {
      await saveSession(req.session);
    } catch {
      this.log.error('could not save the session after a refresh');
    }
  }
}
