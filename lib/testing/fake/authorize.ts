import { sendRedirect } from './answers';
import { invalidRequest } from './errors';
import { issueCode } from './issue';
import { appendQuery, FORM_TYPE, isHttpUrl, rejectRepeated, requireParam, requireParams } from './params';
import { renderConsentPage } from './consent-page';
import type { RequestContext, RouteRegistry } from './routes';
import { takeSignIn } from './sign-ins';
import { isExpired, randomPart, type AuthorizationRequest, type FakeState } from './state';

const SCOPE_PATTERN = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)+$/;

/**
 * The browser's side of sign-in: `GET /oauth2/auth` (straight back with a code, or the consent page) and
 * `POST /oauth2/auth/decision` (the page's Allow/Deny).
 */
export function registerAuthorize(routes: RouteRegistry, state: FakeState): void {
  routes.add('GET', '/oauth2/auth', (ctx) => handleAuthorize(state, ctx));
  routes.add('POST', '/oauth2/auth/decision', (ctx) => handleDecision(state, ctx));
}

function handleAuthorize(state: FakeState, { req, res, query }: RequestContext): void {
  const request = validateAuthorizationRequest(state, query);
  request.grant = takeSignIn(state, req);
  if (state.settings.consent === 'auto') {
    sendRedirect(res, redirectWithCode(state, request));
    return;
  }
  const requestId = randomPart(16);
  state.pendingConsents.set(requestId, { ...request, expiresAt: state.now() + state.settings.codeTtlSeconds * 1000 });
  res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
  const user = request.grant?.user ?? state.settings.user;
  res.end(renderConsentPage(user, state.settings.clientId, request.scope, requestId));
}

function validateAuthorizationRequest(state: FakeState, query: URLSearchParams): AuthorizationRequest {
  rejectRepeated(query);
  if (requireParam(query, 'response_type') !== 'code') throw invalidRequest("'response_type' must be 'code'");
  if (requireParam(query, 'client_id') !== state.settings.clientId) {
    throw invalidRequest("'client_id' parameter is unknown");
  }
  const redirectUri = requireParam(query, 'redirect_uri');
  if (!isHttpUrl(redirectUri)) {
    throw invalidRequest("'redirect_uri' parameter must be an absolute http(s) URL without a fragment");
  }
  if (state.settings.redirectUris && !state.settings.redirectUris.includes(redirectUri)) {
    throw invalidRequest("'redirect_uri' parameter does not match any registered callback");
  }
  const scope = requireParam(query, 'scope');
  if (!scope.split(',').every((name) => SCOPE_PATTERN.test(name))) {
    throw invalidRequest("'scope' parameter must be comma-separated dotted names without spaces");
  }
  return { redirectUri, scope, state: query.get('state') ?? undefined, grant: undefined };
}

function handleDecision(state: FakeState, { res, form }: RequestContext): void {
  if (!form) throw invalidRequest(`Content-Type must be ${FORM_TYPE}`);
  rejectRepeated(form);
  const { request_id: requestId, decision } = requireParams(form, ['request_id', 'decision']);
  if (decision !== 'allow' && decision !== 'deny') throw invalidRequest("'decision' must be 'allow' or 'deny'");
  const pending = state.pendingConsents.get(requestId);
  state.pendingConsents.delete(requestId);
  if (!pending || isExpired(pending, state.now())) throw invalidRequest("'request_id' is unknown, used or expired");
  sendRedirect(res, decision === 'allow' ? redirectWithCode(state, pending) : redirectDenied(pending));
}

function redirectWithCode(state: FakeState, request: AuthorizationRequest): string {
  const params = new URLSearchParams({ code: issueCode(state, request) });
  if (request.state !== undefined) params.set('state', request.state);
  return appendQuery(request.redirectUri, params);
}

function redirectDenied(request: AuthorizationRequest): string {
  const params = new URLSearchParams({ error: 'access_denied', error_description: 'The user denied access' });
  if (request.state !== undefined) params.set('state', request.state);
  return appendQuery(request.redirectUri, params);
}
