import { randomUUID } from 'node:crypto';
import type { WpsClock } from '../clock';
import { WpsAuthError, WpsTenantError } from '../errors';
import type { TokenResponse } from '../token-set';
import type { WpsLogger } from '../types';
import type { TokenClient } from '../wps/token-client';
import { ticketDigest, type TenantsAtRest, type TenantToken } from './at-rest';
import { pollDelay, type StoreKeeper } from './store-keeper';
import type { TicketKeeper } from './tickets';

/** What the tenant tokens need, resolved once. Internal. */
export interface TokenDeps {
  store: StoreKeeper;
  atRest: TenantsAtRest;
  tickets: TicketKeeper;
  client: TokenClient;
  log: WpsLogger;
  clock: WpsClock;
  refreshSkewMs: number;
  /** How long a company's fetch lock is held at most: every WPS call of one fetch, and the wait for a ticket. */
  lockTtlMs: number;
}

/** A refusal that even a new ticket did not cure is remembered this long for that ticket, per company. */
export const REFUSAL_TTL_MS = 60 * 60 * 1000;

/** The states in which WPS is not called for a company. */
const NOT_INSTALLED = new Set(['uninstalled', 'disabled']);

/** A company's stored token as read: opened, with the string it was stored as (to drop exactly that one). */
interface Read {
  token: (TenantToken & { raw: string }) | undefined;
  refusal: string | undefined;
}

function isRejection(err: unknown): err is WpsAuthError {
  return err instanceof WpsAuthError && err.code === 'wps_rejected';
}

/** The `wps_rejected` of a company WPS refused with a new ticket too: stale ticket, or the app removed? */
function refusedTwice(companyId: string, cause: WpsAuthError | undefined): WpsAuthError {
  const said = cause === undefined ? 'refused earlier with the same ticket' : cause.message.replace(/^WPS /, '');
  return new WpsAuthError(
    'wps_rejected',
    `WPS refused the tenant token for company ${companyId} with a newly pushed app ticket too: the ticket may be ` +
      `stale (are pushes reaching the event URL?) or the company may have removed the app (${said})`,
    {
      ...(cause?.wpsCode !== undefined && { wpsCode: cause.wpsCode }),
      ...(cause?.wpsMsg !== undefined && { wpsMsg: cause.wpsMsg }),
    },
  );
}

/**
 * Each company's tenant token, shared through the store: read on every call (so that an uninstall seen by any
 * instance stops calls at once), fetched by one caller at a time per company across instances (single-flight in
 * the process, a lock in the store; the others wait for its token), and dropped after WPS answered 401 to it. A
 * refusal of the token request is taken as a stale ticket: a push is asked for, and the request made once more with
 * the new ticket. Internal.
 */
export class TenantTokens {
  private readonly inflight = new Map<string, Promise<string>>();
  /** Per company, the token WPS answered 401 to: not served again, and dropped from the store before a fetch. */
  private readonly refused = new Map<string, string>();

  constructor(private readonly d: TokenDeps) {}

  /** A valid tenant token for the company: the cached one, or a new one. */
  async get(companyId: string): Promise<string> {
    const { token } = await this.read(companyId);
    if (token !== undefined && this.usable(companyId, token)) return token.accessToken;
    let pending = this.inflight.get(companyId);
    if (pending === undefined) {
      pending = this.fetchShared(companyId).finally(() => this.inflight.delete(companyId));
      this.inflight.set(companyId, pending);
    }
    return pending;
  }

  /** WPS answered 401 to `token`: the next call fetches another (the API retries once). */
  invalidate(companyId: string, token: string): boolean {
    this.refused.set(companyId, token);
    return true;
  }

  /** The company's token and refusal; rejects with `tenant_not_installed` when it removed or disabled the app. */
  private async read(companyId: string): Promise<Read> {
    const company = await this.d.store.run((s) => s.getCompany(companyId));
    const state = company.state?.state;
    if (state !== undefined && NOT_INSTALLED.has(state)) {
      throw new WpsTenantError(
        'tenant_not_installed',
        `company ${companyId} has ${state === 'disabled' ? 'disabled' : 'removed'} the app (the last install-state ` +
          'event said so); WPS was not called',
        companyId,
      );
    }
    const raw = company.token;
    const opened = this.d.atRest.openToken(raw, companyId);
    return { token: opened && raw !== undefined ? { ...opened, raw } : undefined, refusal: company.refusal };
  }

  private usable(companyId: string, token: TenantToken): boolean {
    return token.renewAt > this.d.clock.now() && this.refused.get(companyId) !== token.accessToken;
  }

  /** Fetch under the company's lock, or wait for the holder's token. A ticket comes first: a cold start waits once. */
  private async fetchShared(companyId: string): Promise<string> {
    await this.d.tickets.current();
    const key = `lock:${encodeURIComponent(companyId)}`;
    for (;;) {
      const owner = randomUUID();
      if (await this.d.store.run((s) => s.claim(key, owner, this.d.lockTtlMs))) {
        try {
          return await this.fetchLocked(companyId);
        } finally {
          await this.d.store.release(key, owner);
        }
      }
      await pollDelay();
      const { token } = await this.read(companyId);
      if (token !== undefined && this.usable(companyId, token)) return token.accessToken;
    }
  }

  private async fetchLocked(companyId: string): Promise<string> {
    const read = await this.read(companyId);
    const old = read.token;
    if (old !== undefined && this.usable(companyId, old)) return old.accessToken;
    if (old !== undefined && this.refused.get(companyId) === old.accessToken) {
      await this.d.store.run((s) => s.dropToken(companyId, old.raw));
    }
    const res = await this.exchange(companyId, read.refusal);
    const now = this.d.clock.now();
    const lifetimeMs = res.expires_in * 1000;
    const renewAt = now + lifetimeMs - Math.min(this.d.refreshSkewMs, lifetimeMs / 2);
    const token: TenantToken = { accessToken: res.access_token, expiresAt: now + lifetimeMs, renewAt };
    const sealed = this.d.atRest.closeToken(token, companyId);
    await this.d.store.run((s) => s.putToken(companyId, sealed, lifetimeMs));
    this.refused.delete(companyId);
    this.d.log.debug('tenant token fetched', { companyId });
    return token.accessToken;
  }

  /** The token request with the newest ticket; refused, once more with a newly pushed one. */
  private async exchange(companyId: string, refusal: string | undefined): Promise<TokenResponse> {
    const { tickets, client, log } = this.d;
    const ticket = await tickets.current();
    if (refusal !== undefined && refusal === ticketDigest(ticket)) throw refusedTwice(companyId, undefined);
    try {
      return await client.tenantToken(ticket, companyId);
    } catch (err) {
      if (!isRejection(err)) throw err;
      log.warn('WPS refused a tenant token request made with the stored app ticket: taking the ticket as stale', {
        companyId,
        ...(err.wpsCode !== undefined && { wpsCode: err.wpsCode }),
      });
    }
    const newer = await tickets.newerThan(ticket);
    try {
      return await client.tenantToken(newer, companyId);
    } catch (err) {
      if (!isRejection(err)) throw err;
      await this.d.store.run((s) => s.putRefusal(companyId, ticketDigest(newer), REFUSAL_TTL_MS));
      throw refusedTwice(companyId, err);
    }
  }
}
