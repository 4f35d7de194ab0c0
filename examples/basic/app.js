'use strict';

// Sign in with WPS 365 in an Express app. This file is the part to copy; server.js only starts it.
//
// With WPS_CLIENT_ID, WPS_CLIENT_SECRET and WPS_REDIRECT_URI set it talks to the real openapi.wps.cn.
// Without them it starts a fake WPS in this process (demo user "Ada Demo"), so it works with no account.

const http = require('node:http');
const { randomBytes } = require('node:crypto');
const express = require('express');
const session = require('express-session');
const { wpsAuth, requireWpsToken, WpsAuthError, WpsApiError } = require('express-wps-oauth');
const { startFakeWps } = require('express-wps-oauth/testing');

const WPS_BASE_URL = 'https://openapi.wps.cn';
const WPS_ENV = ['WPS_CLIENT_ID', 'WPS_CLIENT_SECRET', 'WPS_REDIRECT_URI'];
const DEMO_CLIENT = { clientId: 'demo-client-id', clientSecret: 'demo-client-secret' };
const DEMO_USER_NAME = 'Ada Demo';

/**
 * Where users sign in: the real WPS when all three WPS_* variables are set, otherwise a fake WPS on 127.0.0.1
 * whose consent page signs everyone in as the demo user.
 */
async function connectWps(env, origin, port) {
  const missing = WPS_ENV.filter((name) => !env[name]);
  if (missing.length === 0) {
    const redirect = new URL(env.WPS_REDIRECT_URI);
    const local = ['localhost', '127.0.0.1'].includes(redirect.hostname);
    if (local && Number(redirect.port || 80) !== port) {
      throw new Error(
        `WPS_REDIRECT_URI uses port ${redirect.port || 80} but the app listens on ${port}: set PORT to match`,
      );
    }
    return {
      options: { clientId: env.WPS_CLIENT_ID, clientSecret: env.WPS_CLIENT_SECRET, redirectUri: env.WPS_REDIRECT_URI },
      baseUrl: WPS_BASE_URL,
      url: new URL('/', redirect).href,
      fake: undefined,
    };
  }
  if (missing.length < WPS_ENV.length) {
    throw new Error(
      `Set all of ${WPS_ENV.join(', ')} for the real WPS, or none for the demo (missing: ${missing.join(', ')})`,
    );
  }
  // The fake is as strict as WPS: only this exact callback URL is "registered in the console".
  const redirectUri = `${origin}/auth/wps/callback`;
  const fake = await startFakeWps({
    ...DEMO_CLIENT,
    consent: 'page',
    user: { name: DEMO_USER_NAME },
    redirectUris: [redirectUri],
  });
  return { options: { ...DEMO_CLIENT, redirectUri, baseUrl: fake.url }, baseUrl: fake.url, url: `${origin}/`, fake };
}

function escapeHtml(value) {
  return String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const STYLE = `body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;color:#222}
.note{background:#fff8e1;border:1px solid #f0d98a;padding:.5rem .75rem;border-radius:6px;font-size:.9rem}
.error{background:#fdecea;border:1px solid #f5b7b1;padding:.75rem;border-radius:6px}.error p{margin:.5rem 0 0}
.button,button{display:inline-block;background:#1a5fff;color:#fff;border:0;border-radius:6px;padding:.5rem 1rem;
font:inherit;text-decoration:none;cursor:pointer}.actions{margin:1rem 0}form{display:inline}code{background:#f3f3f3;padding:0 .25rem}`;

/** A whole HTML page. `body` is trusted HTML: escape every value put into it. */
function page(title, body, notice) {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(title)}</title><style>${STYLE}</style></head>
<body><main><h1>${escapeHtml(title)}</h1>${notice}${body}</main></body></html>`;
}

const signInButton = '<a class="button" id="sign-in" href="/auth/wps/login">Sign in with WPS</a>';
const signOutButton =
  '<form method="post" action="/auth/wps/logout"><button type="submit" id="sign-out">Sign out</button></form>';

/** Express 4 does not send a rejected promise to the error handler; this does. */
const asyncRoute = (fn) => (req, res, next) => fn(req, res).catch(next);

function listen(server, port) {
  return new Promise((resolve, reject) => {
    server.once('error', (err) => {
      reject(
        err.code === 'EADDRINUSE'
          ? new Error(`Port ${port} is in use: set PORT to another one (0 = any free port)`)
          : err,
      );
    });
    server.listen(port, () => resolve(server.address().port));
  });
}

/**
 * Creates the example app and starts listening on `port` (0 picks a free one). It listens first because in demo
 * mode the callback URL registered at the fake WPS must name the real port.
 *
 * @param {{ port?: number, env?: NodeJS.ProcessEnv }} [options] `env` defaults to `process.env`.
 * @returns {Promise<{ app: import('express').Express, url: string, fake: import('express-wps-oauth/testing').FakeWps | undefined, close: () => Promise<void> }>}
 */
async function createApp({ port = 3000, env = process.env } = {}) {
  const production = env.NODE_ENV === 'production';
  const server = http.createServer();
  const boundPort = await listen(server, port);
  const closeServer = () =>
    new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });

  let wps;
  try {
    if (production && !env.SESSION_SECRET) throw new Error('Set SESSION_SECRET in production');
    wps = await connectWps(env, `http://localhost:${boundPort}`, boundPort);
  } catch (err) {
    await closeServer();
    throw err;
  }
  const notice = wps.fake
    ? `<p class="note">Demo mode: "Sign in with WPS" goes to a fake WPS running inside this app and signs you in as
${escapeHtml(DEMO_USER_NAME)}. Set WPS_CLIENT_ID, WPS_CLIENT_SECRET and WPS_REDIRECT_URI to use the real WPS.</p>`
    : '';
  const render = (res, title, body, status = 200) =>
    res
      .status(status)
      .type('html')
      .send(page(title, body, notice));

  const app = express();
  app.disable('x-powered-by');
  // Behind a reverse proxy that terminates HTTPS (TRUST_PROXY=1 for one proxy), Express must trust its
  // X-Forwarded-Proto to know the request was https, and so to send the `secure` cookie below.
  if (env.TRUST_PROXY)
    app.set('trust proxy', /^\d+$/.test(env.TRUST_PROXY) ? Number(env.TRUST_PROXY) : env.TRUST_PROXY);

  app.use(
    session({
      name: 'wps_example.sid',
      // A random secret signs everyone out at each restart. Use a real store (e.g. connect-redis) in production:
      // the default MemoryStore is for one process in development.
      secret: env.SESSION_SECRET || randomBytes(32).toString('hex'),
      resave: false,
      saveUninitialized: false,
      // sameSite 'lax' still sends the cookie when WPS redirects the browser back to the callback (a top-level
      // GET), and keeps it off cross-site POSTs, which protects the logout and refresh forms from CSRF.
      cookie: { httpOnly: true, sameSite: 'lax', secure: 'auto' },
    }),
  );

  app.use(
    wpsAuth({
      ...wps.options,
      // WPS wants scopes comma-separated (not space-separated as in most OAuth providers); the library joins
      // them. A scope works only once it was requested in the WPS developer console and approved.
      scope: ['kso.user_base.read'],
    }),
  );
  // wpsAuth now serves GET /auth/wps/login, GET /auth/wps/callback (the path of the redirect URI) and
  // GET|POST /auth/wps/logout. WPS authorization codes are single-use and live only 10 minutes, so a sign-in left
  // open longer fails with `state_mismatch`: the error page below offers to start again.

  app.get('/', (req, res) => {
    const body = req.wps.isAuthenticated()
      ? `<p id="status">You are signed in with WPS.</p>
<div class="actions"><a class="button" id="profile" href="/me">Your WPS profile</a> ${signOutButton}</div>`
      : `<p id="status">You are not signed in.</p><div class="actions">${signInButton}</div>`;
    render(res, 'express-wps-oauth example', body);
  });

  // requireWpsToken(): signed-out browsers are sent to sign in and come back here afterwards; an access token
  // about to expire is refreshed first. req.wps.accessToken is then valid.
  app.get(
    '/me',
    requireWpsToken(),
    asyncRoute(async (req, res) => {
      // The profile (id, name, avatar, companyId) was fetched from /v7/users/current at sign-in; getUser()
      // fetches it again only if that failed.
      const { name } = await req.wps.getUser();
      const expiresAt = req.wps.expiresAt;
      const minutes = Math.round((expiresAt.getTime() - Date.now()) / 60_000);
      res.set('Cache-Control', 'no-store');
      render(
        res,
        'Your WPS profile',
        `<p>Signed in as <strong id="user-name">${escapeHtml(name)}</strong>.</p>
<p>The access token expires at <time id="expires-at" datetime="${expiresAt.toISOString()}">${expiresAt.toISOString()}</time>
(in ${minutes} min). The library refreshes it shortly before that.</p>
<div class="actions"><form method="post" action="/me/refresh"><button type="submit" id="force-refresh">Force refresh</button></form>
${signOutButton} <a href="/">Home</a></div>`,
      );
    }),
  );

  app.post(
    '/me/refresh',
    requireWpsToken(),
    asyncRoute(async (req, res) => {
      // Pretend the access token expires now, so getAccessToken() refreshes it. WPS rotates the refresh token on
      // every refresh and the old one stops working at once: the library stores the new one and serializes
      // refreshes, so two tabs refreshing together do not sign the user out.
      req.session.wps.tokens.expiresAt = Date.now();
      await req.wps.getAccessToken();
      res.redirect(303, '/me');
    }),
  );

  // An API answers 401 JSON instead of redirecting: `unauthenticated: 'error'` hands login_required to the
  // error handler even when a browser asks.
  app.get(
    '/api/me',
    requireWpsToken({ unauthenticated: 'error' }),
    asyncRoute(async (req, res) => {
      // req.wps.api is axios with the user's bearer token (refreshed first when needed, one retry after a 401).
      // WPS answers { code, msg, data }; a code other than 0 rejects with a WpsApiError.
      const { data } = await req.wps.api.get('/v7/users/current');
      res
        .set('Cache-Control', 'no-store')
        .json({ name: data.data.user_name, expiresAt: req.wps.expiresAt.toISOString() });
    }),
  );

  // Library errors carry a stable `code` and an HTTP `status`, and their messages never hold a secret or a token.
  app.use((err, req, res, next) => {
    const known = err instanceof WpsAuthError || err instanceof WpsApiError;
    const status = known ? err.status : 500;
    const code = known ? err.code : 'internal_error';
    const message = known || !production ? err.message : 'Something went wrong.';
    if (!known) console.error(production ? `internal_error: ${err.message}` : err);
    if (res.headersSent) return next(err);
    if (req.path.startsWith('/api/')) return res.status(status).json({ code, message });
    const stack = !known && !production ? `<pre>${escapeHtml(err.stack)}</pre>` : '';
    render(
      res,
      known ? 'Sign-in problem' : 'Something went wrong',
      `<div class="error">Error code: <code id="error-code">${escapeHtml(code)}</code>
<p id="error-message">${escapeHtml(message)}</p></div>${stack}
<div class="actions">${signInButton} <a href="/">Home</a></div>`,
      status,
    );
  });

  server.on('request', app);
  return {
    app,
    url: wps.url,
    fake: wps.fake,
    close: async () => {
      await closeServer();
      await wps.fake?.close();
    },
  };
}

module.exports = { createApp };
