import type { WpsClock } from '../clock';
import { canRefresh, isFresh, isNewer } from '../token-set';
import type { WpsLogger, WpsTokenRecord } from '../types';
import type { SaveGuard } from '../session/save-seam';
import { pollDelay, POLL_SLACK_MS, type Lease, type LockKeeper } from './refresh-lock';
import type { RefreshTarget } from './target';

/** Instances' clocks and `refreshSkewSeconds` may differ a little: start guarding this much earlier. */
const MARGIN_MS = 10_000;

/** What the guard reads of the configuration. */
export interface GuardSettings {
  refreshSkewMs: number;
  lockTtlMs: number;
  clock: WpsClock;
}

/**
 * Keeps a request from writing old tokens over newer ones. A request loads its session at the start and
 * express-session saves it at the end — whole, with the tokens as loaded. If a refresh (here or in another
 * instance) stored a newer token record in between, that save would put back a refresh token WPS has already
 * rotated away, and the next refresh would sign the user out.
 *
 * So every save of a session that loaded tokens first reads the stored tokens and keeps them when their `rev` is
 * higher. While the tokens are due for refresh, the save also takes the refresh lock (or waits for the refresh in
 * flight), so it cannot slip between another refresh's read and write. It sees the saves through the one seam of
 * `session/save-seam.ts`. Internal.
 */
export class SessionGuard implements SaveGuard<RefreshTarget> {
  constructor(
    private readonly settings: GuardSettings,
    private readonly locks: LockKeeper,
    private readonly log: WpsLogger,
  ) {}

  async aroundSave(target: RefreshTarget, write: () => Promise<void>): Promise<void> {
    // The save must happen whatever the check meets: a response waits for it.
    const lease = await this.keepNewest(target).catch(() => null);
    try {
      await write();
    } finally {
      // release() never rejects (an unreleased lock expires by its TTL), and the response must not wait for it.
      if (lease !== null) void this.locks.release(lease);
    }
  }

  /** Make the outgoing session hold the newest tokens; resolves with a lease to release after the write. */
  private async keepNewest(target: RefreshTarget): Promise<Lease | null> {
    const outgoing = target.tokens();
    if (outgoing === undefined) return null;
    const lease = this.mayBeRefreshing(outgoing) ? await this.waitForRefresh(target) : null;
    if (lease === 'adopted') return null;
    const stored = await target.readStoredTokens();
    if (isNewer(stored, outgoing)) this.adopt(target, stored);
    return lease;
  }

  /**
   * Take the lock, unless a refresh in flight stores newer tokens first (adopted). `null`: the lock service is down
   * or was held past its TTL — save without it.
   */
  private async waitForRefresh(target: RefreshTarget): Promise<Lease | 'adopted' | null> {
    const { clock, lockTtlMs } = this.settings;
    const deadline = clock.now() + lockTtlMs + POLL_SLACK_MS;
    for (;;) {
      const attempt = await this.locks.tryAcquire(target.sid);
      if (attempt.kind === 'taken') return attempt.lease;
      if (attempt.kind === 'unavailable') return null;
      // A refresh is in flight: the lock holder stores its result before releasing, and that result wins.
      const stored = await target.readStoredTokens();
      const outgoing = target.tokens();
      if (outgoing !== undefined && isNewer(stored, outgoing)) {
        this.adopt(target, stored);
        return 'adopted';
      }
      if (clock.now() >= deadline) {
        this.log.warn('saving the session without the refresh lock: it was held longer than its TTL');
        return null;
      }
      await pollDelay();
    }
  }

  private mayBeRefreshing(tokens: WpsTokenRecord): boolean {
    const now = this.settings.clock.now();
    return canRefresh(tokens, now) && !isFresh(tokens, this.settings.refreshSkewMs + MARGIN_MS, now);
  }

  private adopt(target: RefreshTarget, stored: WpsTokenRecord): void {
    target.setTokens(stored);
    this.log.debug("kept the newer tokens from the session store over this request's older copy", { rev: stored.rev });
  }
}
