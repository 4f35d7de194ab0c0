import type { ServerResponse } from 'node:http';
import { sendError, sendJson } from './answers';
import { accessDenied, invalidRequest, WpsHttpError } from './errors';
import { issueClientCode } from './issue';
import type { FakeWpsUser } from './options';
import { FORM_TYPE, rejectRepeated, requireParam } from './params';
import type { RequestContext, RouteRegistry } from './routes';
import { grantOf, type FakeSignIn } from './sign-ins';
import type { FakeState } from './state';

/** Where the fake serves the stub of the WPS client's JS bridge (`window.ksoxz_sdk`). */
export const BRIDGE_SCRIPT_PATH = '/fake-client/ksoxz-sdk.js';
/** Where the stub asks the fake for a code, as the WPS client would ask WPS. */
export const REQUEST_ACCESS_PATH = '/fake-client/request-access';

const SCOPE_PATTERN = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)+$/;
const DEFAULT_SCOPE = 'kso.user_base.read';
/** The stub is loaded by the app's pages from another origin (the fake's): its answers are readable by any. */
const CORS = { 'Access-Control-Allow-Origin': '*', 'Cache-Control': 'no-store' };

// The stub bridge, run by the app's page: `ready(cb)` calls back at once, `requestAccess` asks the fake (the origin
// this script came from) for a fresh code. A simple POST (a form), so no preflight. Plain ES5: no eval, no inline
// code, so it runs under the strictest CSP that lists the fake's origin in script-src and connect-src.
const STUB = `(function () {
  'use strict';
  var script = document.currentScript;
  var endpoint = new URL(${JSON.stringify(REQUEST_ACCESS_PATH)}, script ? script.src : location.href).href;
  function call(fn, value) {
    if (typeof fn === 'function') fn(value);
  }
  function requestAccess(options) {
    var o = options || {};
    var params = o.params || {};
    var form = new URLSearchParams();
    form.set('app_id', params.app_id == null ? '' : String(params.app_id));
    form.set('scope_list', Array.isArray(params.scope_list) ? params.scope_list.join(',') : '');
    fetch(endpoint, { method: 'POST', body: form }).then(function (res) {
      return res.json().then(function (body) {
        if (res.ok && body && typeof body.code === 'string') call(o.onSuccess, { code: body.code });
        else call(o.onError, body);
      });
    }).catch(function () {
      call(o.onError, { code: -1, msg: 'network_error' });
    });
  }
  window.ksoxz_sdk = {
    ready: function (callback) {
      setTimeout(function () { call(callback); }, 0);
    },
    requestAccess: requestAccess
  };
})();
`;

/**
 * The WPS client's side of sign-in (免登), imitated: the stub bridge script (`GET` {@link BRIDGE_SCRIPT_PATH}), and
 * `POST` {@link REQUEST_ACCESS_PATH}, where it gets a code for the app (`app_id`, `scope_list`) or, with
 * `clientAccess: 'deny'`, a refusal.
 */
export function registerClientBridge(routes: RouteRegistry, state: FakeState): void {
  routes.add('GET', BRIDGE_SCRIPT_PATH, ({ res }) => {
    res.writeHead(200, { 'Content-Type': 'text/javascript; charset=utf-8', 'Cache-Control': 'no-store' });
    res.end(STUB);
  });
  routes.add('POST', REQUEST_ACCESS_PATH, (ctx) => answerRequestAccess(state, ctx));
}

function answerRequestAccess(state: FakeState, { res, form }: RequestContext): void {
  try {
    sendJson(res, 200, { code: requestAccess(state, form) }, CORS);
  } catch (error) {
    if (!(error instanceof WpsHttpError)) throw error;
    sendCorsError(res, error);
  }
}

function sendCorsError(res: ServerResponse, error: WpsHttpError): void {
  for (const [name, value] of Object.entries(CORS)) res.setHeader(name, value);
  sendError(res, error);
}

/** What the client asks WPS for: this app (`app_id`, the APPID), these scopes (comma-joined); the user decides. */
function requestAccess(state: FakeState, form: URLSearchParams | undefined): string {
  if (!form) throw invalidRequest(`Content-Type must be ${FORM_TYPE}`);
  rejectRepeated(form);
  if (requireParam(form, 'app_id') !== state.settings.clientId) throw invalidRequest("'app_id' is unknown");
  const scope = form.get('scope_list') || DEFAULT_SCOPE;
  if (!scope.split(',').every((name) => SCOPE_PATTERN.test(name))) {
    throw invalidRequest("'scope_list' must be dotted scope names");
  }
  if (state.settings.clientAccess === 'deny') throw accessDenied();
  return issueClientCode(state, scope, undefined);
}

/**
 * `clientCode()`: a code as the bridge mints one, for the fake's user with `user`'s fields over it, and the given
 * token lifetimes; the fake's own user and lifetimes when neither is given.
 */
export function clientCode(
  state: FakeState,
  user: Partial<FakeWpsUser> | undefined,
  lifetimes: Omit<FakeSignIn, 'user'> = {},
): string {
  const custom = user !== undefined || Object.values(lifetimes).some((value) => value !== undefined);
  const grant = custom ? grantOf(state, { ...lifetimes, user }, 'clientCode') : undefined;
  return issueClientCode(state, DEFAULT_SCOPE, grant);
}
