import { sendJson } from './answers';
import { invalidClient, invalidGrant, invalidRequest, WpsHttpError } from './errors';
import { answerWithFault, takeFault } from './faults';
import { issueAccessToken, issueUserTokens, type FakeTokenPair } from './issue';
import { FORM_TYPE, isHttpUrl, rejectRepeated, requireParam, requireParams } from './params';
import type { RequestContext, RouteRegistry } from './routes';
import type { RecordedRequest } from './server';
import { isExpired, secondsLeft, type FakeState, type IssuedCode } from './state';

/** `POST /oauth2/token`: the code, refresh and client-credentials grants, behind the latency and token faults. */
export function registerTokenEndpoint(routes: RouteRegistry, state: FakeState): void {
  routes.add('POST', '/oauth2/token', (ctx) => handleToken(state, ctx));
}

/** `tokenRequests()`: the recorded `POST /oauth2/token` requests, optionally only those with this `grant_type`. */
export function tokenRequestsIn(requests: RecordedRequest[], grantType?: string): RecordedRequest[] {
  return requests.filter(
    (r) =>
      r.method === 'POST' &&
      r.path === '/oauth2/token' &&
      (grantType === undefined || r.form['grant_type'] === grantType),
  );
}

async function handleToken(state: FakeState, { req, res, form }: RequestContext): Promise<void> {
  const fault = await takeFault(state.tokenFaults, state.timers);
  await state.timers.sleep(state.settings.tokenLatencyMs);
  if (fault) {
    answerWithFault(req, res, fault, state.timers);
    return;
  }
  if (!form) throw invalidRequest(`Content-Type must be ${FORM_TYPE}`);
  rejectRepeated(form);
  const body = grant(state, requireParam(form, 'grant_type'), form);
  sendJson(res, 200, body, { 'Cache-Control': 'no-store', Pragma: 'no-cache' });
}

function grant(state: FakeState, grantType: string, form: URLSearchParams): object {
  switch (grantType) {
    case 'authorization_code':
      return grantAuthorizationCode(state, form);
    case 'refresh_token':
      return grantRefreshToken(state, form);
    case 'client_credentials':
      return grantClientCredentials(state, form);
    default:
      throw new WpsHttpError(400, 40000004, 'unsupported_grant_type', `grant_type '${grantType}' is not supported`);
  }
}

function authenticateClient(state: FakeState, clientId: string, clientSecret: string): void {
  if (clientId !== state.settings.clientId || clientSecret !== state.settings.clientSecret) throw invalidClient();
}

function grantAuthorizationCode(state: FakeState, form: URLSearchParams): object {
  const p = requireParams(form, ['client_id', 'client_secret', 'code', 'redirect_uri']);
  authenticateClient(state, p.client_id, p.client_secret);
  const issued = state.codes.get(p.code);
  if (!issued || isExpired(issued, state.now())) {
    state.codes.delete(p.code);
    throw invalidGrant('code is unknown, already used or expired');
  }
  const mismatch = redirectMismatch(state, issued, p.redirect_uri);
  if (mismatch !== undefined) throw invalidGrant(mismatch);
  state.codes.delete(p.code);
  return toWire(state, issueUserTokens(state, issued.grant));
}

/**
 * Why `redirectUri` cannot redeem `issued`: a redirect's code needs its own callback again; a client bridge's code
 * (which WPS does not document) takes any registered callback, or any http(s) URL when none is registered.
 */
function redirectMismatch(state: FakeState, issued: IssuedCode, redirectUri: string): string | undefined {
  if (issued.redirectUri !== undefined) {
    return issued.redirectUri === redirectUri
      ? undefined
      : "'redirect_uri' does not match the one the code was issued for";
  }
  const registered = state.settings.redirectUris;
  const ok = registered === undefined ? isHttpUrl(redirectUri) : registered.includes(redirectUri);
  return ok ? undefined : "'redirect_uri' parameter does not match any registered callback";
}

function grantRefreshToken(state: FakeState, form: URLSearchParams): object {
  const p = requireParams(form, ['refresh_token', 'client_id', 'client_secret']);
  authenticateClient(state, p.client_id, p.client_secret);
  const record = state.refreshTokens.get(p.refresh_token);
  if (!record || isExpired(record, state.now())) {
    state.refreshTokens.delete(p.refresh_token);
    throw invalidGrant('refresh_token is unknown, expired or already rotated');
  }
  if (state.settings.rotateRefreshTokens) {
    state.refreshTokens.delete(p.refresh_token);
    return toWire(state, issueUserTokens(state, record.grant));
  }
  const ttl = record.grant?.accessTokenTtlSeconds ?? state.settings.accessTokenTtlSeconds;
  return toWire(state, {
    access_token: issueAccessToken(state, 'user', ttl, record.grant),
    expires_in: ttl,
    refresh_token: p.refresh_token,
    refresh_expires_in: secondsLeft(record, state.now()),
    token_type: 'bearer',
  });
}

function grantClientCredentials(state: FakeState, form: URLSearchParams): object {
  const p = requireParams(form, ['client_id', 'client_secret']);
  authenticateClient(state, p.client_id, p.client_secret);
  const ttl = state.settings.accessTokenTtlSeconds;
  return { access_token: issueAccessToken(state, 'app', ttl), expires_in: ttl, token_type: 'bearer' };
}

/** `refreshExpiresInAsString`: send `refresh_expires_in` as a numeric string, as the platform's docs type it. */
function toWire(state: FakeState, pair: FakeTokenPair): object {
  if (!state.settings.refreshExpiresInAsString) return pair;
  return { ...pair, refresh_expires_in: String(pair.refresh_expires_in) };
}
