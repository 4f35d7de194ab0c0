import { createHash } from 'node:crypto';
import diagnosticsChannel from 'node:diagnostics_channel';
import type { WpsAuthErrorCode } from '../errors';
import type { WpsLogger } from '../types';

/**
 * The `node:diagnostics_channel` channel on which every refresh outcome is published, once per refresh (however many
 * requests waited for it), so an app can count refreshes and rotation races per instance without patching the
 * library. Subscribe with `diagnostics_channel.subscribe(WPS_REFRESH_CHANNEL, (message) => …)`; the message is a
 * {@link WpsRefreshReport}. Publishing costs nothing while nobody subscribes.
 */
export const WPS_REFRESH_CHANNEL = 'express-wps-oauth:refresh';

/**
 * How a refresh ended:
 * - `'refreshed'`: this instance called WPS and stored the new tokens;
 * - `'adopted'`: another request or instance refreshed first (it won the rotation race, or held the lock), and this
 *   one took over its stored tokens without calling WPS;
 * - `'signed_out'`: WPS rejected the refresh token, or it had expired — the user must sign in again;
 * - `'kept_old_token'`: WPS, the refresh lock or the session store was unavailable or slow, and the still-valid
 *   access token is served meanwhile;
 * - `'failed'`: the same, but the access token has expired (or a refresh was forced): the request fails with
 *   `wps_unavailable`, `wps_timeout` or `store_unavailable`, the tokens are kept for the next try.
 */
export type WpsRefreshOutcome = 'refreshed' | 'adopted' | 'signed_out' | 'kept_old_token' | 'failed';

/** What {@link WPS_REFRESH_CHANNEL} publishes, and what the refresh's log line carries. Never a token. */
export interface WpsRefreshReport {
  /** How the refresh ended. */
  outcome: WpsRefreshOutcome;
  /** A short, one-way tag of the session id (the first 12 hex digits of its SHA-256): correlates lines, reveals nothing. */
  session: string;
  /** The revision of the token record the session holds now (`signed_out`: the last one it had). */
  rev: number;
  /** Milliseconds from the start of the refresh (lock wait included) to its outcome. */
  ms: number;
  /**
   * The error behind `signed_out`, `kept_old_token` and `failed`: `login_required`, `wps_rejected`,
   * `wps_unavailable`, `wps_timeout`, or `store_unavailable` (the refresh lock or the session store failed).
   */
  code?: WpsAuthErrorCode;
  /** What WPS said (its `msg`, cleaned, secrets redacted), when it said something. */
  wpsMsg?: string;
}

const channel = diagnosticsChannel.channel(WPS_REFRESH_CHANNEL);

const LEVEL: Readonly<Record<WpsRefreshOutcome, keyof WpsLogger>> = {
  refreshed: 'info',
  adopted: 'info',
  signed_out: 'warn',
  kept_old_token: 'warn',
  failed: 'error',
};

const MESSAGE: Readonly<Record<WpsRefreshOutcome, string>> = {
  refreshed: 'refresh: refreshed the access token',
  adopted: 'refresh: another request or instance refreshed first; took over its tokens',
  signed_out: 'refresh: the refresh token was refused or has expired; the user must sign in again',
  kept_old_token: 'refresh: WPS unavailable; serving the still-valid access token',
  failed: 'refresh: WPS unavailable and the access token has expired',
};

/** The tag {@link WpsRefreshReport.session} carries for session id `sid`. */
export function sessionTag(sid: string): string {
  return createHash('sha256').update(sid).digest('hex').slice(0, 12);
}

/** When the store or the lock failed, not WPS: the two outcomes that say why say so. */
const STORE_MESSAGE: Partial<Record<WpsRefreshOutcome, string>> = {
  kept_old_token: 'refresh: the refresh lock or the session store is unavailable; serving the still-valid access token',
  failed: 'refresh: the refresh lock or the session store is unavailable, and the access token has expired',
};

/** One logger line at the outcome's level, and one message on {@link WPS_REFRESH_CHANNEL}. */
export function reportRefresh(log: WpsLogger, report: WpsRefreshReport): void {
  const message = (report.code === 'store_unavailable' && STORE_MESSAGE[report.outcome]) || MESSAGE[report.outcome];
  log[LEVEL[report.outcome]](message, { ...report });
  if (channel.hasSubscribers) channel.publish(report);
}
