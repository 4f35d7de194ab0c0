'use strict';

// Variant "baseline": express-session and the JSON route, no auth check at all. With a second argument "sized",
// the signed-in session carries what express-wps-oauth's carries, in the form it is stored in (a token pair and a
// user, as a plain object under `wpsAuth`), to separate what a bigger session costs express-session from what our
// middleware costs. With "sized-packed", the same data as one JSON string (how releases before the plain record
// stored it), to compare with earlier runs.
const { randomBytes } = require('node:crypto');
const { Browser } = require('../lib/browser');
const { loadExpress, sessionMiddleware, start, tinyJson } = require('./common');

function sizedPayload() {
  const now = Date.now();
  return {
    tokens: {
      accessToken: randomBytes(38).toString('base64url'),
      tokenType: 'bearer',
      expiresAt: now + 7200_000,
      rev: 1,
      refreshToken: randomBytes(38).toString('base64url'),
      refreshExpiresAt: now + 2_592_000_000,
    },
    user: {
      id: 'bench-user-1',
      name: 'Bench User',
      avatar: 'https://example.invalid/avatar.png',
      companyId: 'bench-co-1',
    },
  };
}

start(async (origin) => {
  const express = loadExpress(process.argv[2]);
  const form = process.argv[3];
  const app = express();
  app.use(sessionMiddleware());
  app.get('/login', (req, res) => {
    // The same key and stored form as the library's record (a plain object under `wpsAuth`).
    if (form === 'sized') req.session.wpsAuth = sizedPayload();
    else if (form === 'sized-packed') req.session.wpsAuth = JSON.stringify(sizedPayload());
    else req.session.user = { id: 'bench-user-1', name: 'Bench User' };
    res.json({ ok: true });
  });
  app.get('/api', tinyJson);

  async function login() {
    const browser = new Browser();
    await browser.go(`${origin}/login`);
    return browser.cookieHeader(origin);
  }
  return { app, login };
});
