import type { IncomingMessage } from 'node:http';
import { sendJson } from './answers';
import { invalidClient, invalidGrant, invalidToken } from './errors';
import { answerWithFault, takeFault } from './faults';
import { issueAccessToken } from './issue';
import { rotateTicket } from './marketplace-state';
import { pushTicket } from './marketplace-pushes';
import { rejectRepeated, requireParams } from './params';
import type { RequestContext, RouteRegistry } from './routes';
import { isExpired, type AccessTokenRecord, type FakeState } from './state';

const BEARER_PATTERN = /^Bearer ([^\s]+)$/i;
const NO_STORE = { 'Cache-Control': 'no-store', Pragma: 'no-cache' };

/**
 * The marketplace (ISV) mode: tenant tokens on `POST /oauth2/token` (`client_credentials` with `app_ticket` and
 * `company_id`, a guard in front of the token endpoint), `POST /oauth2/ticket/active` (answers `{code: 0}`, then
 * pushes a new ticket), and `GET /v7/fake/whoami` (which company, or kind of token, a bearer token is for — the
 * fake's own endpoint, not WPS's). The app access token is the token endpoint's plain `client_credentials`.
 */
export function registerMarketplace(routes: RouteRegistry, state: FakeState): void {
  routes.guard('/oauth2/token', (ctx) => tenantGrant(state, ctx));
  routes.add('POST', '/oauth2/ticket/active', (ctx) => activateTicket(state, ctx));
  routes.add('GET', '/v7/fake/whoami', (ctx) => whoAmI(state, ctx));
}

/** The bearer token's record, known and unexpired, else 401 `invalid_token`. */
function bearer(state: FakeState, req: IncomingMessage): { token: string; record: AccessTokenRecord } {
  const token = BEARER_PATTERN.exec(req.headers.authorization ?? '')?.[1];
  if (!token) throw invalidToken('Authorization: Bearer <access_token> header is missing');
  const record = state.accessTokens.get(token);
  if (!record || isExpired(record, state.now())) throw invalidToken('access token is unknown or expired');
  return { token, record };
}

/**
 * A tenant token for the company, bought with the newest ticket only. The platform publishes no error code for a
 * stale ticket or an uninstalled company (§9 of the platform notes): the fake refuses both as `invalid_grant`.
 */
async function tenantGrant(state: FakeState, { req, res, form }: RequestContext): Promise<'answered' | 'continue'> {
  if (form?.get('grant_type') !== 'client_credentials' || !(form.has('app_ticket') || form.has('company_id'))) {
    return 'continue';
  }
  const fault = await takeFault(state.tokenFaults, state.timers);
  await state.timers.sleep(state.settings.tokenLatencyMs);
  if (fault) {
    answerWithFault(req, res, fault, state.timers);
    return 'answered';
  }
  rejectRepeated(form);
  const p = requireParams(form, ['client_id', 'client_secret', 'app_ticket', 'company_id']);
  const { settings, marketplace: market } = state;
  if (p.client_id !== settings.clientId || p.client_secret !== settings.clientSecret) throw invalidClient();
  if (p.app_ticket !== market.ticket) throw invalidGrant('app_ticket is not the newest ticket pushed');
  const company = market.companies.get(p.company_id);
  if (company === undefined || company.state === 'uninstalled' || company.state === 'disabled') {
    throw invalidGrant('the company has not installed the app, or has disabled it');
  }
  const ttl = settings.accessTokenTtlSeconds;
  const token = issueAccessToken(state, 'app', ttl);
  market.tenantTokens.set(token, company.id);
  sendJson(res, 200, { access_token: token, expires_in: ttl, token_type: 'bearer' }, NO_STORE);
  return 'answered';
}

/** `POST /oauth2/ticket/active` with the app token: `{code: 0}`, then a new ticket pushed to the next event URL. */
function activateTicket(state: FakeState, { req, res }: RequestContext): void {
  const { token, record } = bearer(state, req);
  if (record.kind !== 'app' || state.marketplace.tenantTokens.has(token)) {
    throw invalidToken('an app access token (client_credentials without a company) is required');
  }
  sendJson(res, 200, { code: 0, msg: 'success' });
  rotateTicket(state.marketplace);
  pushTicket(state, state.marketplace.losePushes);
}

/** `GET /v7/fake/whoami`: `{ kind: 'tenant', company_id }` for a tenant token, else `{ kind: 'app' | 'user' }`. */
function whoAmI(state: FakeState, { req, res }: RequestContext): void {
  const { token, record } = bearer(state, req);
  const companyId = state.marketplace.tenantTokens.get(token);
  const data = companyId === undefined ? { kind: record.kind } : { kind: 'tenant', company_id: companyId };
  sendJson(res, 200, { code: 0, msg: 'success', data });
}
