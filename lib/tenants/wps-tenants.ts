import { randomUUID } from 'node:crypto';
import { createLog } from '../logger';
import type { WpsTenantClient, WpsTenants, WpsTenantStatus } from '../types';
import { apiSettings } from '../wps/api';
import { TokenClient } from '../wps/token-client';
import { TenantsAtRest } from './at-rest';
import { resolveTenantsConfig } from './config';
import { tenantEventHandlers, type TenantEventHandler } from './event-handlers';
import { createMemoryTenantStore } from './memory-store';
import { StoreKeeper } from './store-keeper';
import { checkCompanyId, createTenantClient } from './tenant-client';
import { TenantTokens } from './tenant-tokens';
import { TicketPusher } from './ticket-push';
import { TicketKeeper } from './tickets';
import type { WpsTenantsOptions, WpsTenantStore } from './types';

/** What `wpsEvents({ tenants })` takes from the tenants. Internal. */
export interface TenantEventSetup {
  /** The APPID: the events must be signed for it. */
  clientId: string;
  /** The tenants' handlers by topic, to run before the app's own. */
  handlers: Map<string, TenantEventHandler[]>;
  /** An event dedupe on the tenant store, for a `wpsEvents` given none: a hook then runs once across instances. */
  dedupe: { claim(key: string, ttlMs: number): Promise<boolean>; release(key: string): Promise<void> };
}

const setups = new WeakMap<object, TenantEventSetup>();

/** The event setup of what `wpsTenants()` returned; `undefined` for anything else. Internal. */
export function tenantEventSetup(tenants: unknown): TenantEventSetup | undefined {
  return typeof tenants === 'object' && tenants !== null ? setups.get(tenants) : undefined;
}

/** How many company clients are kept; beyond it the oldest is made again when next asked for. */
const MAX_CLIENTS = 10_000;

const STATUSES: ReadonlySet<string> = new Set(['installed', 'uninstalled', 'enabled', 'disabled']);

/** An event dedupe on the store's claims, owned by this process (a release drops only its own claims). */
function eventDedupe(store: WpsTenantStore): TenantEventSetup['dedupe'] {
  const owner = randomUUID();
  return {
    claim: (key, ttlMs) => store.claim(`event:${key}`, owner, ttlMs),
    release: (key) => store.release(`event:${key}`, owner),
  };
}

/**
 * Marketplace (ISV) apps: one tenant access token per customer company, shared by every instance through the store,
 * bought with the newest app ticket WPS pushed to the app's event URL; each company's install state, kept from
 * WPS's events, with a hook per change. Mount `wpsEvents({ tenants })` at the event URL (it stores the tickets and
 * install states), then call WPS as a company with `tenants.client(companyId)`, or as the signed-in user's company
 * with `wpsAuth({ tenants })` and `req.wps.tenant`. Create it once, at startup; a bad option throws a `TypeError`.
 *
 * @example
 * import express from 'express';
 * import { Redis } from 'ioredis';
 * import { redisTenantStore, wpsEvents, wpsTenants } from 'express-wps-oauth';
 *
 * const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { lazyConnect: true });
 * await redis.connect();
 * const tenants = wpsTenants({
 *   store: redisTenantStore(redis),
 *   onInstall: async (companyId, { version }) => console.log('installed', companyId, version),
 * });
 * const app = express();
 * app.post('/wps/events', wpsEvents({ tenants }));
 * app.get('/companies/:id/ping', async (req, res) => {
 *   const { data } = await tenants.client(req.params.id).api.get('/v7/ping');
 *   res.json(data);
 * });
 */
export function wpsTenants(options?: WpsTenantsOptions): WpsTenants {
  const config = resolveTenantsConfig(options);
  const log = createLog(config.logger);
  const rawStore = config.store ?? createMemoryTenantStore(config.clock);
  const store = new StoreKeeper(rawStore, log);
  const atRest = new TenantsAtRest(config.tokenKeys);
  const client = new TokenClient({ ...config, redirectUri: '' });
  const pusher = new TicketPusher(client, config.clock, config.refreshSkewMs);
  const tickets = new TicketKeeper({ store, atRest, pusher, log, ticketWaitMs: config.ticketWaitMs });
  const { clock, refreshSkewMs } = config;
  const lockTtlMs = 4 * config.timeoutMs + config.ticketWaitMs + 5000;
  const tokens = new TenantTokens({ store, atRest, tickets, client, log, clock, refreshSkewMs, lockTtlMs });
  const settings = apiSettings(config);
  const clients = new Map<string, WpsTenantClient>();

  function clientFor(companyId: string): WpsTenantClient {
    const id = checkCompanyId(companyId, 'client');
    let made = clients.get(id);
    if (made === undefined) {
      if (clients.size >= MAX_CLIENTS) clients.delete(clients.keys().next().value as string);
      made = createTenantClient(tokens, settings, id);
      clients.set(id, made);
    }
    return made;
  }

  async function status(companyId: string): Promise<WpsTenantStatus> {
    const id = checkCompanyId(companyId, 'status');
    const state = (await store.run((s) => s.getCompany(id))).state?.state;
    return state !== undefined && STATUSES.has(state) ? (state as WpsTenantStatus) : 'unknown';
  }

  const tenants: WpsTenants = Object.freeze({ clientId: config.clientId, client: clientFor, status });
  const handlers = tenantEventHandlers({ clientId: config.clientId, store, tickets, hooks: config.hooks, log });
  setups.set(tenants, { clientId: config.clientId, handlers, dedupe: eventDedupe(rawStore) });
  return tenants;
}
