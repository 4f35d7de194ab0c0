import type { IncomingMessage } from 'node:http';
import { sendJson } from './answers';
import { invalidRequest, invalidToken } from './errors';
import { answerWithFault, takeFault } from './faults';
import { firstValues } from './params';
import type { RequestContext, RouteRegistry } from './routes';
import type { RecordedRequest } from './server';
import { verifySignature } from './signature';
import { isExpired, type AccessTokenRecord, type FakeState } from './state';

const API_PREFIX = '/v7/';
const BEARER_PATTERN = /^Bearer ([^\s]+)$/i;

/**
 * The `/v7/*` API: `GET /v7/users/current`, `POST /v7/echo`, `GET /v7/ping`, each behind the API faults and, in
 * strict mode, the KSO-1 check (both run for every `/v7/` path, unknown ones included).
 */
export function registerUserApi(routes: RouteRegistry, state: FakeState): void {
  routes.guard(API_PREFIX, async ({ req, res, body }) => {
    const fault = await takeFault(state.apiFaults, state.timers);
    if (fault) {
      answerWithFault(req, res, fault, state.timers);
      return 'answered';
    }
    if (state.settings.requireSignature) verifySignature(req, body, state.settings);
    return 'continue';
  });
  routes.add('GET', '/v7/users/current', (ctx) => handleCurrentUser(state, ctx));
  routes.add('POST', '/v7/echo', (ctx) => handleEcho(state, ctx));
  routes.add('GET', '/v7/ping', (ctx) => handlePing(state, ctx));
}

/** `apiRequests()`: the recorded `/v7/*` requests, optionally only those to this exact path. */
export function apiRequestsIn(requests: RecordedRequest[], path?: string): RecordedRequest[] {
  return requests.filter((r) => r.path.startsWith(API_PREFIX) && (path === undefined || r.path === path));
}

/** The bearer check: the request's access token, known and unexpired, else 401 `invalid_token`. */
function authenticate(state: FakeState, req: IncomingMessage): AccessTokenRecord {
  const token = BEARER_PATTERN.exec(req.headers.authorization ?? '')?.[1];
  if (!token) throw invalidToken('Authorization: Bearer <access_token> header is missing');
  const record = state.accessTokens.get(token);
  if (!record || isExpired(record, state.now())) throw invalidToken('access token is unknown or expired');
  return record;
}

/** `GET /v7/users/current` (user token only): the sign-in's user, else the fake's. */
function handleCurrentUser(state: FakeState, { req, res }: RequestContext): void {
  const record = authenticate(state, req);
  if (record.kind !== 'user') throw invalidToken('an app access token has no user; use a user access token');
  const { id, name, avatar, companyId } = record.grant?.user ?? state.settings.user;
  sendJson(res, 200, { code: 0, msg: 'success', data: { id, user_name: name, avatar, company_id: companyId } });
}

/** `POST /v7/echo` (user or app token): a JSON body comes back as `data`. */
function handleEcho(state: FakeState, { req, res, body }: RequestContext): void {
  authenticate(state, req);
  let data: unknown;
  try {
    data = JSON.parse(body.toString('utf8'));
  } catch {
    throw invalidRequest('the body must be JSON');
  }
  sendJson(res, 200, { code: 0, msg: 'success', data });
}

/** `GET /v7/ping` (user or app token): the query comes back as `data.query`, the token kind as `data.kind`. */
function handlePing(state: FakeState, { req, res, query }: RequestContext): void {
  const record = authenticate(state, req);
  sendJson(res, 200, { code: 0, msg: 'success', data: { kind: record.kind, query: firstValues(query) } });
}
