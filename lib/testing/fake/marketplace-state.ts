import { randomBytes } from 'node:crypto';
import type { SignedWpsEvent, WpsEventReply } from '../send-event';

/** The marketplace mode's options: the companies that installed the app already, and where events go. */
export interface FakeMarketplaceOptions {
  /**
   * Companies that installed the app before the test began: they may buy tenant tokens, and no event was sent for
   * them (so the app has never seen them: `tenants.status()` says `'unknown'`).
   * @default []
   */
  companies?: string[] | undefined;
  /**
   * The app's event URLs (its `wpsEvents()` routes), pushed to in turn, like a load balancer in front of several
   * instances; `marketplace.setEventUrls()` sets them once the app listens.
   * @default []
   */
  eventUrls?: string[] | undefined;
}

/** A company's install state in the fake. `installed` and `enabled` companies may buy tenant tokens. */
export type FakeCompanyState = 'installed' | 'uninstalled' | 'enabled' | 'disabled';

/** One company as the fake knows it. */
export interface FakeMarketplaceCompany {
  /** Its `company_id`. */
  id: string;
  /** Its install state. */
  state: FakeCompanyState;
  /** The app version it installed (sent as `version` in install-state events). */
  version: string;
}

/** One event the fake pushed (or tried to) to the app. */
export interface FakePush {
  /** `kso.app.ticket` or `kso.developer.application.authorization.status`. */
  topic: string;
  /** `create`, `update`, `delete`, `enable` or `disable`. */
  operation: string;
  /** Where it went; `undefined` when the fake had no event URL (or lost the push on purpose). */
  url: string | undefined;
  /** The exact body sent (signed and encrypted), to deliver it again with `marketplace.redeliver()`. */
  body: SignedWpsEvent;
  /** Resolves with the app's answer once it came (`undefined` when nothing was sent, or the request failed). */
  answered: Promise<WpsEventReply | undefined>;
}

/** The marketplace mode's validated options. */
export interface MarketplaceSettings {
  companies: string[];
  eventUrls: string[];
}

/** What the marketplace mode remembers. */
export interface MarketplaceState {
  /** The newest app ticket: the only one that buys tenant tokens. */
  ticket: string;
  /** Every ticket issued, for leak scans. */
  readonly tickets: string[];
  readonly companies: Map<string, FakeMarketplaceCompany>;
  /** Tenant tokens issued: token → company id (the tokens themselves live in `FakeState.accessTokens`). */
  readonly tenantTokens: Map<string, string>;
  eventUrls: string[];
  /** The next event URL's index, round-robin. */
  nextUrl: number;
  /** When set, `ticket/active` answers `{code: 0}` and rotates the ticket, but the push never reaches the app. */
  losePushes: boolean;
  readonly pushes: FakePush[];
}

function requireIds(name: string, values: unknown): string[] {
  if (values === undefined) return [];
  if (!Array.isArray(values) || !values.every((v) => typeof v === 'string' && v !== '')) {
    throw new TypeError(`startFakeWps: 'marketplace.${name}' must be an array of non-empty strings`);
  }
  return [...(values as string[])];
}

/** Validate the marketplace options once (a mistake in the test is named at start-up). */
export function resolveMarketplace(options: FakeMarketplaceOptions | undefined): MarketplaceSettings {
  return {
    companies: requireIds('companies', options?.companies),
    eventUrls: requireIds('eventUrls', options?.eventUrls),
  };
}

/** A new app ticket, which makes every earlier one stale. */
export function rotateTicket(market: MarketplaceState): string {
  market.ticket = `fake_ticket_${randomBytes(24).toString('base64url')}`;
  market.tickets.push(market.ticket);
  return market.ticket;
}

/** A fresh marketplace: a first ticket (never pushed yet), and the companies of the options, installed. */
export function createMarketplaceState(settings: MarketplaceSettings): MarketplaceState {
  const market: MarketplaceState = {
    ticket: '',
    tickets: [],
    companies: new Map(settings.companies.map((id) => [id, { id, state: 'installed', version: '1.0.0' }])),
    tenantTokens: new Map(),
    eventUrls: [...settings.eventUrls],
    nextUrl: 0,
    losePushes: false,
    pushes: [],
  };
  rotateTicket(market);
  return market;
}
