import type { WpsEventReply } from '../send-event';
import { rotateTicket, type FakeCompanyState, type FakeMarketplaceCompany, type FakePush } from './marketplace-state';
import { postJson } from '../send-event';
import { pushEvent, pushTicket } from './marketplace-pushes';
import { isHttpUrl } from './params';
import type { RecordedRequest } from './server';
import type { FakeState } from './state';
import { tokenRequestsIn } from './token-endpoint';

/**
 * The fake's marketplace (ISV) mode, as `fake.marketplace`: companies that install, remove, disable and enable the
 * app (each change pushed to the app as `kso.developer.application.authorization.status`), app tickets (pushed as
 * `kso.app.ticket`, and only the newest buys tenant tokens), and what the app asked. Events go to the event URLs in
 * turn, like a load balancer in front of several instances.
 */
export interface FakeMarketplace {
  /** Where to push events from now on (the app's `wpsEvents()` URLs), in turn. */
  setEventUrls(urls: string[]): void;
  /** Every company the fake knows, with its state. */
  companies(): FakeMarketplaceCompany[];
  /**
   * The company installs the app (`create`; a new company, or one that had removed it): the event is pushed, and
   * this resolves once the app answered it.
   * @default version '1.0.0'
   */
  install(companyId: string, options?: { version?: string }): Promise<FakePush>;
  /** The company removes the app (`delete`): its tenant tokens stop working at once, and it can buy no more. */
  uninstall(companyId: string): Promise<FakePush>;
  /** The company disables the app (`disable`): like `uninstall`, until `enable`. */
  disable(companyId: string): Promise<FakePush>;
  /** The company enables the app again (`enable`). */
  enable(companyId: string): Promise<FakePush>;
  /** A new ticket, pushed (`kso.app.ticket`, `update`) to the next event URL; resolves once the app answered. */
  pushTicket(): Promise<FakePush>;
  /** A new ticket, not pushed: as if the push was missed, so that the app's ticket is stale. */
  rotateTicket(): void;
  /** `true`: from now on `ticket/active` answers `{code: 0}` and rotates the ticket, but its push never arrives. */
  losePushes(lose: boolean): void;
  /** The newest ticket (only it buys tenant tokens). */
  currentTicket(): string;
  /**
   * Every tenant token issued so far (only this company's, when given) expires now, so that the app's next call gets
   * a 401 and fetches another; app and user tokens stay valid.
   */
  expireTenantTokens(companyId?: string): void;
  /** Every event pushed (or lost), in order. */
  pushes(): FakePush[];
  /** Send a pushed event's exact body again to `url`, as a re-delivery; resolves with the answer. */
  redeliver(push: FakePush, url: string): Promise<WpsEventReply>;
  /** The recorded `POST /oauth2/ticket/active` requests. */
  ticketRequests(): RecordedRequest[];
  /** The recorded tenant token requests, optionally only those for this company. */
  tenantTokenRequests(companyId?: string): RecordedRequest[];
  /** Every ticket, tenant token and app access token issued so far: for leak scans. */
  secrets(): string[];
}

function requireCompanyId(companyId: unknown): string {
  if (typeof companyId !== 'string' || companyId === '') {
    throw new TypeError('fake.marketplace: companyId must be a non-empty string');
  }
  return companyId;
}

/** Expire now the tenant tokens of `companyId` (of every company when `undefined`). */
function expireTenantTokens(state: FakeState, companyId: string | undefined): void {
  const now = state.now();
  for (const [token, owner] of state.marketplace.tenantTokens) {
    const record = state.accessTokens.get(token);
    if ((companyId === undefined || owner === companyId) && record !== undefined) {
      record.expiresAt = Math.min(record.expiresAt, now);
    }
  }
}

/** Set the company's state (a new one when unknown), end its tokens when it loses the app, and push the event. */
async function changeCompany(
  state: FakeState,
  companyId: string,
  next: FakeCompanyState,
  operation: string,
  version?: string,
): Promise<FakePush> {
  const market = state.marketplace;
  const id = requireCompanyId(companyId);
  const company = market.companies.get(id) ?? { id, state: next, version: version ?? '1.0.0' };
  company.state = next;
  if (version !== undefined) company.version = version;
  market.companies.set(id, company);
  if (next === 'uninstalled' || next === 'disabled') expireTenantTokens(state, id);
  const data = { company_id: id, app_id: state.settings.clientId, version: company.version };
  const push = pushEvent(state, 'kso.developer.application.authorization.status', operation, data);
  await push.answered;
  return push;
}

/** The `fake.marketplace` handle over the fake's state. */
export function marketplaceHandle(state: FakeState): FakeMarketplace {
  const market = state.marketplace;
  return {
    setEventUrls(urls) {
      if (!Array.isArray(urls) || !urls.every((url) => typeof url === 'string' && isHttpUrl(url))) {
        throw new TypeError('fake.marketplace.setEventUrls: every URL must be an absolute http(s) URL');
      }
      market.eventUrls = [...urls];
      market.nextUrl = 0;
    },
    companies: () => [...market.companies.values()].map((c) => ({ ...c })),
    install: (id, options) => changeCompany(state, id, 'installed', 'create', options?.version),
    uninstall: (id) => changeCompany(state, id, 'uninstalled', 'delete'),
    disable: (id) => changeCompany(state, id, 'disabled', 'disable'),
    enable: (id) => changeCompany(state, id, 'enabled', 'enable'),
    async pushTicket() {
      rotateTicket(market);
      const push = pushTicket(state);
      await push.answered;
      return push;
    },
    rotateTicket: () => void rotateTicket(market),
    losePushes: (lose) => void (market.losePushes = lose),
    currentTicket: () => market.ticket,
    expireTenantTokens: (companyId) => expireTenantTokens(state, companyId),
    pushes: () => [...market.pushes],
    redeliver: (push, url) => postJson(url, push.body),
    ticketRequests: () => state.requests.filter((r) => r.method === 'POST' && r.path === '/oauth2/ticket/active'),
    tenantTokenRequests: (companyId) =>
      tokenRequestsIn(state.requests, 'client_credentials').filter(
        (r) => r.form['company_id'] !== undefined && (companyId === undefined || r.form['company_id'] === companyId),
      ),
    secrets: () => [
      ...market.tickets,
      ...[...state.accessTokens].filter(([, record]) => record.kind === 'app').map(([token]) => token),
    ],
  };
}
