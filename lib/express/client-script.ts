import { createHash } from 'node:crypto';
import type { Request, Response } from 'express';
import type { ResolvedConfig } from '../config';
import { REFUSALS, sendAnswer } from './client-answers';
import type { RouteHandler, Runtime } from './runtime';

const CONFIG_MARK = '__WPS_CLIENT_SIGN_IN_CONFIG__';

// The browser half of the client sign-in route, served at its path + ".js". Plain ES2017 in one IIFE: no inline
// code, no eval, so it runs under `script-src 'self'`. It holds only what is public: the route's path, loginPath,
// the APPID and the scopes (the same values the authorize URL shows). Outcomes are answers, never rejections.
const SOURCE = `/*! express-wps-oauth: sign-in inside the WPS 365 client */
(function () {
  'use strict';
  var CONFIG = ${CONFIG_MARK};
  var READY_TIMEOUT_MS = 10000;
  var script = document.currentScript;
  var data = (script && script.dataset) || {};
  var endpoint = new URL(CONFIG.path, script && script.src ? script.src : location.href);
  var crossOrigin = endpoint.origin !== location.origin;
  var credentials = crossOrigin ? 'include' : 'same-origin';

  function failure(error, message, loginUrl) {
    var answer = { signedIn: false, error: error, message: message };
    if (loginUrl) answer.loginUrl = loginUrl;
    return answer;
  }

  function loginUrlFor(returnTo) {
    if (CONFIG.loginPath === false) return undefined;
    var url = new URL(CONFIG.loginPath, endpoint);
    if (typeof returnTo === 'string') url.searchParams.set('returnTo', returnTo);
    return url.href;
  }

  function bridge() {
    var sdk = window.ksoxz_sdk;
    return sdk && typeof sdk.ready === 'function' && typeof sdk.requestAccess === 'function' ? sdk : undefined;
  }

  // The bridge's code as { code }, or a failure. Until ready, at most READY_TIMEOUT_MS; after, the user may take
  // their time on the client's own prompt.
  function requestCode(sdk, returnTo) {
    return new Promise(function (resolve) {
      var settled = false;
      var timer = setTimeout(function () {
        settle(failure('bridge_timeout', 'The WPS client bridge did not become ready', loginUrlFor(returnTo)));
      }, READY_TIMEOUT_MS);
      function settle(value) {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(value);
      }
      function refused() {
        settle(failure('bridge_error', 'The WPS client gave no code: the user declined, or the bridge failed'));
      }
      function ask() {
        if (settled) return;
        clearTimeout(timer);
        try {
          sdk.requestAccess({
            params: { app_id: CONFIG.clientId, scope_list: CONFIG.scope },
            onSuccess: function (result) {
              var code = result && result.code;
              if (typeof code === 'string' && code !== '') settle({ code: code });
              else refused();
            },
            onError: refused
          });
        } catch (e) {
          refused();
        }
      }
      try {
        sdk.ready(ask);
      } catch (e) {
        refused();
      }
    });
  }

  function answerOf(res) {
    return res.json().then(
      function (answer) {
        if (res.ok && answer && answer.signedIn === true) return answer;
        var error = answer && typeof answer.error === 'string' ? answer.error : 'http_' + res.status;
        var message = answer && typeof answer.message === 'string' ? answer.message : 'The app answered ' + res.status;
        return failure(error, message);
      },
      function () {
        return failure('invalid_answer', 'The app answered ' + res.status + ' without JSON');
      }
    );
  }

  function post(code, returnTo) {
    var body = { code: code };
    if (typeof returnTo === 'string') body.returnTo = returnTo;
    return fetch(endpoint.href, {
      method: 'POST',
      credentials: credentials,
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify(body)
    }).then(answerOf, function () {
      return failure('network_error', 'The sign-in request did not reach the app');
    });
  }

  // Sign in with the bridge's code: a Promise of the route's answer, or of { signedIn: false, error, message }.
  function wpsClientSignIn(options) {
    var returnTo = options && typeof options.returnTo === 'string' ? options.returnTo : undefined;
    var sdk = bridge();
    if (!sdk) {
      return Promise.resolve(failure('no_bridge', 'Not inside the WPS client (no ksoxz_sdk)', loginUrlFor(returnTo)));
    }
    return requestCode(sdk, returnTo).then(function (outcome) {
      return outcome.code ? post(outcome.code, returnTo) : outcome;
    });
  }

  function status() {
    return fetch(endpoint.href, { credentials: credentials, headers: { Accept: 'application/json' } }).then(
      function (res) {
        return res.ok ? res.json() : { signedIn: false };
      },
      function () {
        return { signedIn: false };
      }
    );
  }

  function announce(answer) {
    document.dispatchEvent(new CustomEvent('wps-client-sign-in', { detail: answer }));
  }

  function go(url, evenHere) {
    var target = new URL(url, endpoint).href;
    if (evenHere || target !== location.href) location.replace(target);
  }

  // data-auto="false" turns this off: signed in already, stay (or go to data-return-to); else sign in with the
  // bridge and go to returnTo; outside the WPS client, the redirect sign-in. Bridge errors only announce.
  function auto() {
    var returnTo = data.returnTo || (crossOrigin ? undefined : location.pathname + location.search);
    return status().then(function (state) {
      if (state.signedIn) {
        announce(state);
        if (data.returnTo) go(data.returnTo, false);
        return;
      }
      return wpsClientSignIn({ returnTo: returnTo }).then(function (answer) {
        announce(answer);
        if (answer.signedIn) go(answer.returnTo, true);
        else if (answer.loginUrl) go(answer.loginUrl, true);
      });
    });
  }

  window.wpsClientSignIn = wpsClientSignIn;
  if (data.auto !== 'false') {
    if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', auto);
    else auto();
  }
})();
`;

/** The public values the script needs, as a JS literal safe anywhere (`<`, U+2028 and U+2029 escaped). */
function configLiteral(config: ResolvedConfig): string {
  const values = {
    path: config.clientSignInPath,
    loginPath: config.loginPath,
    clientId: config.clientId,
    scope: config.scope.split(','),
  };
  return JSON.stringify(values).replace(
    /[<\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** The browser half, with this `wpsAuth()`'s route path, `loginPath`, APPID and scopes filled in. */
export function clientScriptSource(config: ResolvedConfig): string {
  return SOURCE.replace(CONFIG_MARK, configLiteral(config));
}

/** Whether an `If-None-Match` header names `etag` (weak or strong, in a list, or `*`). */
function matches(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  return header.split(',').some((tag) => {
    const t = tag.trim();
    return t === '*' || t.replace(/^W\//, '') === etag;
  });
}

/**
 * The client sign-in script (`GET`/`HEAD` at the route's path + `.js`): built once per `wpsAuth()`, with a strong
 * ETag, cached by browsers and revalidated at each use (`no-cache`), so a new deployment is picked up at once.
 */
export function clientScriptRoute(runtime: Runtime): RouteHandler {
  const body = clientScriptSource(runtime.config);
  const headers = {
    'Content-Type': 'text/javascript; charset=utf-8',
    'Cache-Control': 'no-cache',
    ETag: `"${createHash('sha256').update(body).digest('base64url')}"`,
    'X-Content-Type-Options': 'nosniff',
  };
  function serve(req: Request, res: Response): void {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      const { status, error, message } = REFUSALS.scriptMethod;
      sendAnswer(res, status, { error, message }, { Allow: 'GET, HEAD' });
    } else if (matches(req.headers['if-none-match'], headers.ETag)) {
      res.status(304).set(headers).end();
    } else {
      res.status(200).set(headers).send(body);
    }
  }
  return function clientScript(req: Request, res: Response): Promise<void> {
    serve(req, res);
    return Promise.resolve();
  };
}
