/**
 * The maths of a token record: when it is fresh, when it can be refreshed, which of two is newer, and how a token
 * response becomes one. Pure functions over plain values, shared by every layer above.
 */
import type { WpsTokenRecord } from './types';

/** The token endpoint's success body, after validation (`wps/token-client.ts` parses it). */
export interface TokenResponse {
  access_token: string;
  expires_in: number;
  refresh_token?: string;
  refresh_expires_in?: number;
  token_type?: string;
}

/** Seconds as a positive finite number, from a number or a numeric string (WPS documents one and sends the other). */
export function parseSeconds(value: unknown): number | undefined {
  const n = typeof value === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(value) ? Number(value) : value;
  return typeof n === 'number' && Number.isFinite(n) && n > 0 ? n : undefined;
}

/**
 * Build the record to store from a token response. On refresh, `previous` supplies the refresh token when WPS
 * sent none (rotation off) and the revision to increment.
 */
export function toTokenRecord(res: TokenResponse, now: number, previous?: WpsTokenRecord): WpsTokenRecord {
  const record: WpsTokenRecord = {
    accessToken: res.access_token,
    tokenType: res.token_type ?? 'bearer',
    expiresAt: now + res.expires_in * 1000,
    rev: (previous?.rev ?? 0) + 1,
  };
  const refreshToken = res.refresh_token ?? previous?.refreshToken;
  if (refreshToken !== undefined) record.refreshToken = refreshToken;
  if (res.refresh_expires_in !== undefined) record.refreshExpiresAt = now + res.refresh_expires_in * 1000;
  else if (res.refresh_token === undefined && previous?.refreshExpiresAt !== undefined) {
    record.refreshExpiresAt = previous.refreshExpiresAt;
  }
  return record;
}

/** Whether the record's refresh token can still be used at `now`. */
export function canRefresh(record: WpsTokenRecord, now: number): boolean {
  return record.refreshToken !== undefined && (record.refreshExpiresAt === undefined || record.refreshExpiresAt > now);
}

/**
 * Whether the access token stays valid for more than `skewMs` after `now`: no refresh needed yet. The one freshness
 * rule, for the hot path, the refresher and the save guard alike.
 */
export function isFresh(record: WpsTokenRecord, skewMs: number, now: number): boolean {
  return record.expiresAt - skewMs > now;
}

/** Whether `record` signs the session in at `now`: its access token is valid, or its refresh token can renew it. */
export function isUsable(record: unknown, now: number): record is WpsTokenRecord {
  return isTokenRecord(record) && (record.expiresAt > now || canRefresh(record, now));
}

/** Whether `candidate` is a later revision of the session's tokens than `than` (a missing `rev` counts as 0). */
export function isNewer(candidate: WpsTokenRecord | undefined, than: WpsTokenRecord): candidate is WpsTokenRecord {
  return candidate !== undefined && revOf(candidate) > revOf(than);
}

function revOf(record: WpsTokenRecord): number {
  return typeof record.rev === 'number' && Number.isFinite(record.rev) ? record.rev : 0;
}

/** Whether `value` looks like a token record (sessions come from a store: never trust their shape). */
export function isTokenRecord(value: unknown): value is WpsTokenRecord {
  const r = value as WpsTokenRecord | null | undefined;
  return typeof r === 'object' && r !== null && typeof r.accessToken === 'string' && typeof r.expiresAt === 'number';
}
