'use strict';

const { Browser } = require('../lib/browser');
const { loadExpress, jsonErrors, sessionMiddleware, tinyJson } = require('./common');

const CLIENT_ID = 'bench-client-id';
const CLIENT_SECRET = 'bench-client-secret-not-real';

/**
 * The app a user of express-wps-oauth writes, as the package is installed (`require('express-wps-oauth')`),
 * signed in through the real login → fake WPS → callback flow. The fake WPS runs in this process; it is idle while
 * the hot path is loaded (a fresh token needs no call to WPS).
 *
 * @param {string} origin this server's origin
 * @param {{ flavor?: string, fake?: object, auth?: object, beforeGuard?: Function[] }} options
 */
async function buildOursApp(origin, options = {}) {
  const { wpsAuth, requireWpsToken } = require('express-wps-oauth');
  const { startFakeWps } = require('express-wps-oauth/testing');
  const express = loadExpress(options.flavor);
  const redirectUri = `${origin}/auth/wps/callback`;
  const fake = await startFakeWps({
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    redirectUris: [redirectUri],
    ...options.fake,
  });

  const app = express();
  app.get('/healthz', (_req, res) => res.end('ok'));
  app.use(sessionMiddleware());
  app.use(
    wpsAuth({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUri, baseUrl: fake.url, ...options.auth }),
  );
  app.get('/api', ...(options.beforeGuard ?? []), requireWpsToken(), tinyJson);
  app.use(jsonErrors);

  async function login() {
    const browser = new Browser();
    const end = await browser.go(`${origin}/auth/wps/login`);
    if (new URL(end.url).pathname !== '/') throw new Error(`sign-in ended at ${end.url} (${end.status})`);
    return browser.cookieHeader(origin);
  }
  return { app, fake, login, close: () => fake.close() };
}

module.exports = { buildOursApp };
