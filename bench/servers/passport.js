'use strict';

// Variant "passport 0.7": passport.session() restores the user from express-session; the route checks
// req.isAuthenticated().
const passport = require('passport');
const { Browser } = require('../lib/browser');
const { loadExpress, sessionMiddleware, start, tinyJson } = require('./common');

const users = new Map([['bench-user-1', { id: 'bench-user-1', name: 'Bench User' }]]);

passport.serializeUser((user, done) => done(null, user.id));
passport.deserializeUser((id, done) => done(null, users.get(id) ?? false));

function ensureLoggedIn(req, res, next) {
  if (req.isAuthenticated()) return next();
  res.status(401).json({ code: 'login_required' });
}

start(async (origin) => {
  const express = loadExpress(process.argv[2]);
  const app = express();
  app.use(sessionMiddleware());
  app.use(passport.initialize());
  app.use(passport.session());
  app.get('/login', (req, res, next) => {
    req.login(users.get('bench-user-1'), (err) => (err ? next(err) : res.json({ ok: true })));
  });
  app.get('/api', ensureLoggedIn, tinyJson);

  async function login() {
    const browser = new Browser();
    await browser.go(`${origin}/login`);
    return browser.cookieHeader(origin);
  }
  return { app, login };
});
