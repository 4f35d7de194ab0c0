'use strict';

// Variant "express-openid-connect": auth({ authRequired: false }) + requiresAuth(), signed in once through the real
// authorization-code flow against a local oidc-provider (same process, its own port, idle under load).
// Argument "store": the session lives in express-session's MemoryStore (session.store), like the other variants;
// "cookie": the library's default encrypted-cookie session.
const http = require('node:http');
const session = require('express-session');
const { auth, requiresAuth } = require('express-openid-connect');
const { Browser } = require('../lib/browser');
const { loadExpress, jsonErrors, start, tinyJson } = require('./common');

const CLIENT_ID = 'bench-oidc-client';
const CLIENT_SECRET = 'bench-oidc-client-secret-not-real-0123456789';

async function startProvider(appOrigin) {
  const { default: Provider } = await import('oidc-provider');
  const server = http.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        redirect_uris: [`${appOrigin}/callback`],
        post_logout_redirect_uris: [appOrigin],
        response_types: ['code'],
        grant_types: ['authorization_code'],
      },
    ],
    cookies: { keys: ['bench-oidc-cookie-key-not-real'] },
    features: { devInteractions: { enabled: true } },
  });
  server.on('request', provider.callback());
  return { issuer, close: () => new Promise((resolve) => (server.closeAllConnections(), server.close(resolve))) };
}

/** Answer oidc-provider's development login and consent forms until the flow leaves the provider. */
async function signIn(browser, origin, issuer) {
  let page = await browser.go(`${origin}/login`);
  for (let step = 0; step < 4 && page.url.startsWith(issuer); step++) {
    const action = /<form[^>]*action="([^"]+)"/.exec(page.body)?.[1];
    const prompt = /name="prompt" value="([^"]+)"/.exec(page.body)?.[1];
    if (action === undefined || prompt === undefined) break;
    const form = prompt === 'login' ? { prompt, login: 'bench-user-1', password: 'any' } : { prompt };
    page = await browser.go(new URL(action.replace(/&amp;/g, '&'), page.url).href, form);
  }
  if (page.url.startsWith(issuer))
    throw new Error(`sign-in stuck at ${page.url} (${page.status}): ${page.body.slice(0, 300)}`);
  return page;
}

start(async (origin) => {
  const mode = process.argv[2] ?? 'store';
  if (mode !== 'store' && mode !== 'cookie') throw new Error(`unknown session mode ${mode}`);
  const express = loadExpress('express');
  const provider = await startProvider(origin);
  const app = express();
  app.use(
    auth({
      authRequired: false,
      idpLogout: false,
      issuerBaseURL: provider.issuer,
      baseURL: origin,
      clientID: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      secret: 'bench-oidc-session-secret-not-real-0123456789',
      authorizationParams: { response_type: 'code', response_mode: 'query', scope: 'openid profile' },
      ...(mode === 'store' && { session: { store: new session.MemoryStore() } }),
    }),
  );
  app.get('/api', requiresAuth(), tinyJson);
  app.use(jsonErrors);

  async function login() {
    const browser = new Browser();
    await signIn(browser, origin, provider.issuer);
    return browser.cookieHeader(origin);
  }
  return { app, login, close: provider.close };
});
