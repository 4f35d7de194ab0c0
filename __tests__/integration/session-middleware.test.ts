import cookieSession from 'cookie-session';
import express from 'express';
import session from 'express-session';
import request from 'supertest';
import { wpsAuth } from '../../lib';
import { CLIENT_ID, CLIENT_SECRET, createTestApp, REDIRECT_URI, signIn, jsonErrors } from '../helpers/app';
import { useFakeWps } from '../helpers/fake-wps';

const fake = useFakeWps({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET });

const NOT_EXPRESS_SESSION =
  'express-wps-oauth: req.session has no regenerate() and save(): wpsAuth() needs express-session (or a session ' +
  'middleware with its API over a server-side store), mounted before it. Cookie-only sessions such as ' +
  'cookie-session cannot work: WPS rotates the refresh token at every refresh, and only a server-side store lets ' +
  'one refresh win while other requests wait for it; in a cookie the tokens would also travel to the browser. ' +
  'Use app.use(session({ secret, resave: false, saveUninitialized: false, store })) from express-session.';

function appWith(sessionMiddleware: express.RequestHandler): express.Express {
  const app = express();
  app.use(sessionMiddleware);
  app.use(wpsAuth({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUri: REDIRECT_URI, baseUrl: fake.url }));
  app.get('/', (_req, res) => res.json({ ok: true }));
  return app.use(jsonErrors);
}

describe('session middleware other than express-session', () => {
  it('cookie-session: misconfigured naming express-session and why, before anything is written to the cookie', async () => {
    const app = appWith(cookieSession({ name: 'sess', keys: ['k1'] }));
    for (const path of ['/auth/wps/login', '/auth/wps/callback?code=c&state=s', '/']) {
      const res = await request(app).get(path).expect(500);
      expect(res.body).toEqual({ code: 'misconfigured', message: NOT_EXPRESS_SESSION });
      // Nothing went into the session, so cookie-session sets no cookie: no state and no returnTo in clear.
      expect(res.headers['set-cookie']).toBeUndefined();
    }
    expect(fake.requests).toHaveLength(0);
  });

  it('a plain object as req.session: the same refusal', async () => {
    const app = appWith((req, _res, next) => {
      (req as { session: unknown }).session = {};
      next();
    });
    expect((await request(app).get('/auth/wps/login').expect(500)).body).toEqual({
      code: 'misconfigured',
      message: NOT_EXPRESS_SESSION,
    });
  });

  it('express-session is accepted (the refusal names only what is missing)', async () => {
    const app = appWith(session({ secret: 's', resave: false, saveUninitialized: false }));
    await request(app).get('/auth/wps/login').expect(302);
  });
});

describe('the stored record is private, and req.wps tells the truth', () => {
  function privacyApp() {
    return createTestApp(
      fake,
      {},
      {
        routes: (app) => {
          const view = (req: express.Request) => ({
            wpsKey: Object.prototype.hasOwnProperty.call(req.session, 'wps'),
            authenticated: req.wps.isAuthenticated(),
            expiresAt: req.wps.expiresAt?.getTime() ?? null,
            user: req.wps.user?.id ?? null,
          });
          app.get('/view', (req, res) => res.json(view(req)));
          app.get('/view/reload', (req, res, next) => {
            req.session.reload((err) => (err ? next(err) : res.json(view(req))));
          });
          app.get('/view/regenerate', (req, res, next) => {
            req.session.regenerate((err) => (err ? next(err) : res.json(view(req))));
          });
          app.get('/view/json', (req, res) => {
            // What an app that dumps its session would send: the record under its own key, no req.session.wps.
            const dumped = JSON.parse(JSON.stringify(req.session)) as Record<string, unknown>;
            res.json({ keys: Object.keys(dumped).sort(), recordType: typeof dumped.wpsAuth });
          });
        },
      },
    );
  }

  it('req.session.wps never exists; req.wps reads the same after reload(), and signed out after regenerate()', async () => {
    const t = privacyApp();
    const agent = request.agent(t.app);
    await signIn(agent);
    const before = (await agent.get('/view').expect(200)).body;
    expect(before).toEqual({ wpsKey: false, authenticated: true, expiresAt: expect.any(Number), user: 'fake-user-1' });
    expect((await agent.get('/view/reload').expect(200)).body).toEqual(before);
    expect((await agent.get('/view/json').expect(200)).body).toEqual({
      keys: ['cookie', 'wpsAuth'],
      recordType: 'object',
    });
    expect((await agent.get('/view/regenerate').expect(200)).body).toEqual({
      wpsKey: false,
      authenticated: false,
      expiresAt: null,
      user: null,
    });
  });
});
