import { cleanExternalText } from '../errors';
import type { WpsLogger } from '../types';
import type { TenantHooks } from './config';
import type { StoreKeeper } from './store-keeper';
import type { TicketKeeper } from './tickets';
import type { TenantEvent } from './types';

/** The topic of the app tickets WPS pushes (operation `create` or `update`, data `{ app_id, app_ticket }`). */
export const TICKET_TOPIC = 'kso.app.ticket';
/** The topic of install states (operation `create`, `delete`, `enable`, `disable`; data `{ company_id, app_id, version }`). */
export const AUTHORIZATION_TOPIC = 'kso.developer.application.authorization.status';

/** A company's state is kept this long after its last event; then it reads `'unknown'` (calls are allowed). */
export const STATE_TTL_MS = 400 * 24 * 60 * 60 * 1000;

const STATES: ReadonlyMap<string, keyof TenantHooks> = new Map([
  ['create', 'installed'],
  ['delete', 'uninstalled'],
  ['enable', 'enabled'],
  ['disable', 'disabled'],
]);

/** What the two handlers need. Internal. */
export interface HandlerDeps {
  clientId: string;
  store: StoreKeeper;
  tickets: TicketKeeper;
  hooks: TenantHooks;
  log: WpsLogger;
}

/** A handler of the tenants, as `wpsEvents` runs it before the app's own. Internal. */
export type TenantEventHandler = (event: TenantEvent) => Promise<void>;

function fieldsOf(data: unknown): Record<string, unknown> {
  return typeof data === 'object' && data !== null && !Array.isArray(data) ? (data as Record<string, unknown>) : {};
}

/** Whether the event names another app: it is not this app's to act on (it is signed with this app's key, though). */
function otherApp(d: HandlerDeps, fields: Record<string, unknown>): boolean {
  return typeof fields.app_id === 'string' && fields.app_id !== d.clientId;
}

/** `kso.app.ticket`: keep the ticket as the newest. A malformed one is logged (never shown) and acknowledged. */
async function onTicket(d: HandlerDeps, event: TenantEvent): Promise<void> {
  const fields = fieldsOf(event.data);
  const ticket = fields.app_ticket;
  const operation = cleanExternalText(event.operation, 40);
  if (event.operation !== 'create' && event.operation !== 'update') {
    d.log.warn('app ticket event ignored: its operation is not create or update', { operation });
  } else if (typeof ticket !== 'string' || ticket === '' || ticket.length > 4096) {
    d.log.warn('app ticket event ignored: its data has no app_ticket string', { operation });
  } else if (otherApp(d, fields)) {
    d.log.warn('app ticket event ignored: its app_id is not this app’s clientId', { operation });
  } else {
    await d.tickets.keep(ticket, event.time);
  }
}

/** `kso.developer.application.authorization.status`: store the company's state, then run its hook. */
async function onAuthorization(d: HandlerDeps, event: TenantEvent): Promise<void> {
  const fields = fieldsOf(event.data);
  const state = STATES.get(event.operation);
  const companyId = fields.company_id;
  const operation = cleanExternalText(event.operation, 40);
  if (state === undefined || typeof companyId !== 'string' || companyId === '' || companyId.length > 256) {
    d.log.warn('install-state event ignored: unknown operation, or no company_id in its data', { operation });
    return;
  }
  if (otherApp(d, fields)) {
    d.log.warn('install-state event ignored: its app_id is not this app’s clientId', { operation });
    return;
  }
  const time = Math.floor(event.time.getTime() / 1000);
  const applied = await d.store.run((s) => s.putState(companyId, { state, time }, STATE_TTL_MS));
  if (!applied) {
    d.log.info('install-state event ignored: a later one is stored', { companyId, operation });
    return;
  }
  const version = typeof fields.version === 'string' ? fields.version : undefined;
  d.log.info(`company ${state}`, { companyId, ...(version !== undefined && { version }) });
  await d.hooks[state]?.(companyId, { version, time: event.time });
}

/** The tenants' handlers, by topic, for `wpsEvents({ tenants })` to run before the app's own. Internal. */
export function tenantEventHandlers(d: HandlerDeps): Map<string, TenantEventHandler[]> {
  return new Map([
    [TICKET_TOPIC, [(event: TenantEvent) => onTicket(d, event)]],
    [AUTHORIZATION_TOPIC, [(event: TenantEvent) => onAuthorization(d, event)]],
  ]);
}
