import express from 'express';
import { IncomingMessage } from 'node:http';
import session from 'express-session';
import request from 'supertest';
import { requireWpsToken, wpsAuth } from '../lib';
import { createTestClock, startFakeWps } from '../lib/testing';
import { CLIENT_ID, CLIENT_SECRET, createTestApp, REDIRECT_URI, signIn, type TestApp } from './helpers/app';
import { useFakeWps } from './helpers/fake-wps';

const fake = useFakeWps({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET });
let t: TestApp;

beforeEach(() => {
  t = createTestApp(fake);
});

async function signedIn(): Promise<ReturnType<typeof request.agent>> {
  const agent = request.agent(t.app);
  await signIn(agent);
  fake.reset();
  return agent;
}

async function storedTokens(agent: ReturnType<typeof request.agent>) {
  return (await agent.get('/test/session').expect(200)).body.wps?.tokens;
}

describe('requireWpsToken with a fresh token', () => {
  it('passes the access token downstream without calling WPS', async () => {
    const agent = await signedIn();
    const tokens = await storedTokens(agent);
    const res = await agent.get('/protected').expect(200);
    expect(res.body).toEqual({ token: tokens.accessToken, expiresAt: new Date(tokens.expiresAt).toISOString() });
    expect(fake.requests).toHaveLength(0);
  });
});

describe('refresh', () => {
  it('refreshes an expired token with the four form fields and stores the rotated refresh token', async () => {
    const agent = await signedIn();
    const before = await storedTokens(agent);
    await agent.post('/test/expire').expect(200);
    const res = await agent.get('/protected').expect(200);
    const after = await storedTokens(agent);

    const [call, ...rest] = fake.tokenRequests();
    expect(rest).toHaveLength(0);
    expect(call?.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(call?.form).toEqual({
      grant_type: 'refresh_token',
      refresh_token: before.refreshToken,
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
    });
    expect(res.body.token).toBe(after.accessToken);
    expect(after.accessToken).not.toBe(before.accessToken);
    expect(after.refreshToken).not.toBe(before.refreshToken);
    expect(after.rev).toBe(before.rev + 1);
    expect(after.expiresAt).toBeGreaterThan(Date.now() + 7000 * 1000);
  });

  it('refreshes within refreshSkewSeconds of expiry', async () => {
    const agent = await signedIn();
    await agent.post('/test/expire?in=30000').expect(200);
    await agent.get('/protected').expect(200);
    expect(fake.tokenRequests('refresh_token')).toHaveLength(1);
  });

  it('uses the rotated refresh token for the next refresh', async () => {
    const agent = await signedIn();
    await agent.post('/test/expire').expect(200);
    await agent.get('/protected').expect(200);
    const middle = await storedTokens(agent);
    await agent.post('/test/expire').expect(200);
    await agent.get('/protected').expect(200);
    const calls = fake.tokenRequests('refresh_token');
    expect(calls).toHaveLength(2);
    expect(calls[1]?.form.refresh_token).toBe(middle.refreshToken);
    expect((await storedTokens(agent)).rev).toBe(3);
  });

  it('keeps the refresh token when WPS sends none (rotation off)', async () => {
    const agent = await signedIn();
    const before = await storedTokens(agent);
    fake.queueTokenFault({ status: 200, body: { code: 0, access_token: 'fresh_at', expires_in: 7200 } });
    await agent.post('/test/expire').expect(200);
    expect((await agent.get('/protected').expect(200)).body.token).toBe('fresh_at');
    const after = await storedTokens(agent);
    expect(after.refreshToken).toBe(before.refreshToken);
    expect(after.refreshExpiresAt).toBe(before.refreshExpiresAt);
  });

  it('makes exactly one refresh call for 100 concurrent requests, and all succeed', async () => {
    const agent = await signedIn();
    await agent.post('/test/expire').expect(200);
    fake.setOptions({ tokenLatencyMs: 100 });
    const results = await Promise.all(Array.from({ length: 100 }, () => agent.get('/protected')));
    expect(results.map((r) => r.status)).toEqual(Array(100).fill(200));
    expect(fake.tokenRequests('refresh_token')).toHaveLength(1);
    const after = await storedTokens(agent);
    expect(new Set(results.map((r) => r.body.token))).toEqual(new Set([after.accessToken]));
  });

  it('signs the user out when WPS rejects the refresh token', async () => {
    const agent = await signedIn();
    await agent.post('/test/expire').expect(200);
    fake.queueTokenFault({ status: 400, body: { code: 40000003, msg: 'invalid_grant' } });
    const res = await agent.get('/protected').expect(401);
    expect(res.body).toEqual({
      code: 'login_required',
      status: 401,
      message: 'Sign in with WPS again: WPS rejected the token refresh: invalid_grant (HTTP 400, code 40000003)',
    });
    expect(await storedTokens(agent)).toBeUndefined();
    expect((await agent.get('/').expect(200)).body.authenticated).toBe(false);
  });

  it('serves the still-valid token when WPS is unreachable within the skew window', async () => {
    const agent = await signedIn();
    const before = await storedTokens(agent);
    await agent.post('/test/expire?in=30000').expect(200);
    fake.queueTokenFault({ status: 503, body: 'down' });
    const res = await agent.get('/protected').expect(200);
    expect(res.body.token).toBe(before.accessToken);
    expect(t.logger.lines.some((l) => l.includes('serving the still-valid access token'))).toBe(true);
    // Tokens kept: the next request refreshes once WPS is back.
    await agent.get('/protected').expect(200);
    expect((await storedTokens(agent)).rev).toBe(2);
  });

  it('answers wps_unavailable when WPS is unreachable and the token expired, keeping the tokens', async () => {
    const agent = await signedIn();
    await agent.post('/test/expire').expect(200);
    const before = await storedTokens(agent);
    fake.queueTokenFault({ status: 502, body: 'bad gateway' });
    const res = await agent.get('/protected').expect(502);
    expect(res.body).toEqual({
      code: 'wps_unavailable',
      status: 502,
      message: 'WPS answered the token refresh with HTTP 502',
    });
    expect(await storedTokens(agent)).toEqual(before);
    await agent.get('/protected').expect(200);
  });

  it('answers wps_timeout when the refresh hangs past timeoutMs, keeping the tokens', async () => {
    t = createTestApp(fake, { timeoutMs: 300 });
    const agent = await signedIn();
    await agent.post('/test/expire').expect(200);
    fake.queueTokenFault({ hang: true });
    expect((await agent.get('/protected').expect(504)).body.code).toBe('wps_timeout');
    expect(await storedTokens(agent)).toBeDefined();
  });

  it('signs out a user whose refresh token expired, without calling WPS', async () => {
    const agent = await signedIn();
    await agent.post('/test/expire').expect(200);
    // A refresh token that expired: emulate by a short-lived pair from the fake.
    const res = await agent.get('/test/session').expect(200);
    expect(res.body.wps.tokens.refreshToken).toBeDefined();
    const clock = createTestClock();
    const shortFake = await startFakeWps({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, clock });
    try {
      const app = createTestApp(shortFake, { clock }).app;
      const a = request.agent(app);
      await signIn(a);
      // Thirty days and a second later, both the access and the refresh token have expired.
      clock.advance(2592000 * 1000 + 1000);
      shortFake.reset();
      expect((await a.get('/api/error-mode').expect(401)).body.code).toBe('login_required');
      expect(shortFake.tokenRequests()).toHaveLength(0);
    } finally {
      await shortFake.close();
    }
  });
});

describe('req.wps', () => {
  it('getAccessToken() refreshes when needed and rejects with login_required when signed out', async () => {
    const agent = await signedIn();
    await agent.post('/test/expire').expect(200);
    const token = (await agent.get('/test/token').expect(200)).body.token;
    expect(token).toBe((await storedTokens(agent)).accessToken);
    const anonymous = await request(t.app).get('/test/token').expect(401);
    expect(anonymous.body).toEqual({
      code: 'login_required',
      status: 401,
      message: 'Sign in with WPS first: this session has no WPS tokens',
    });
  });

  it('refresh() refreshes a fresh token now, once, and stores the rotated pair', async () => {
    const agent = await signedIn();
    const before = await storedTokens(agent);
    const res = await agent.post('/test/refresh').expect(200);
    const after = await storedTokens(agent);
    expect(fake.tokenRequests().map((r) => r.form.grant_type)).toEqual(['refresh_token']);
    expect(res.body.token).toBe(after.accessToken);
    expect(after.accessToken).not.toBe(before.accessToken);
    expect(after.refreshToken).not.toBe(before.refreshToken);
    expect(after.rev).toBe(before.rev + 1);
    expect(res.body.before).toBe(before.expiresAt);
    expect(res.body.after).toBe(after.expiresAt);
  });

  it('refresh() rejects when WPS is down, keeping the old tokens (no silent fallback to the old token)', async () => {
    const agent = await signedIn();
    const before = await storedTokens(agent);
    fake.queueTokenFault({ status: 503, body: { code: 50300001, msg: 'busy' } });
    expect((await agent.post('/test/refresh').expect(502)).body.code).toBe('wps_unavailable');
    expect(await storedTokens(agent)).toEqual(before);
    await agent.post('/test/refresh').expect(200);
  });

  it('isAuthenticated() and expiresAt follow the session', async () => {
    const agent = request.agent(t.app);
    expect((await agent.get('/').expect(200)).body.authenticated).toBe(false);
    await signIn(agent);
    expect((await agent.get('/').expect(200)).body.authenticated).toBe(true);
  });
});

describe('unauthenticated requests', () => {
  it('redirects a browser to login with returnTo in auto mode', async () => {
    const res = await request(t.app).get('/protected?x=1').set('Accept', 'text/html,application/xhtml+xml').expect(302);
    expect(res.headers.location).toBe('/auth/wps/login?returnTo=%2Fprotected%3Fx%3D1');
  });

  it('answers 401 login_required to an API client in auto mode', async () => {
    const res = await request(t.app).get('/protected').set('Accept', 'application/json').expect(401);
    expect(res.body.code).toBe('login_required');
    await request(t.app).post('/api/data').set('Accept', 'text/html').expect(401);
  });

  it('honours the per-route mode', async () => {
    await request(t.app).get('/api/error-mode').set('Accept', 'text/html').expect(401);
    const res = await request(t.app).get('/api/redirect-mode').set('Accept', 'application/json').expect(302);
    expect(res.headers.location).toBe('/auth/wps/login?returnTo=%2Fapi%2Fredirect-mode');
  });

  it('honours the app-wide mode, and errors when login is turned off', async () => {
    t = createTestApp(fake, { unauthenticated: 'error' });
    await request(t.app).get('/protected').set('Accept', 'text/html').expect(401);
    t = createTestApp(fake, { unauthenticated: 'redirect', loginPath: false });
    await request(t.app).get('/protected').set('Accept', 'text/html').expect(401);
  });

  it('rejects a bad per-route mode at setup', () => {
    expect(() => requireWpsToken({ unauthenticated: 'sometimes' as never })).toThrow(
      'express-wps-oauth: requireWpsToken({ unauthenticated }) must be one of auto, redirect, error',
    );
  });
});

describe('a corrupted session store entry', () => {
  it.each(['string', 'number', 'array', 'nullTokens'])(
    'a %s in req.session.wps is treated as signed out, never a 500',
    async (as) => {
      const agent = request.agent(t.app);
      await agent.post(`/test/corrupt?as=${as}`).expect(200);
      expect((await agent.get('/protected').set('Accept', 'application/json').expect(401)).body.code).toBe(
        'login_required',
      );
      expect((await agent.get('/').expect(200)).body.authenticated).toBe(false);
      await agent.get('/auth/wps/login').expect(302);
      await signIn(agent);
      await agent.get('/protected').expect(200);
    },
  );
});

describe('logout', () => {
  it.each(['get', 'post'] as const)(
    '%s forgets the tokens, regenerates the session and lands safely',
    async (method) => {
      const agent = await signedIn();
      const oldId = (await agent.get('/test/session').expect(200)).body.id;
      const res = await agent[method]('/auth/wps/logout?returnTo=/bye').expect(302);
      expect(res.headers.location).toBe('/bye');
      const s = await agent.get('/test/session').expect(200);
      expect(s.body.id).not.toBe(oldId);
      expect(s.body.wps).toBeNull();
      await agent.get('/protected').set('Accept', 'application/json').expect(401);
    },
  );

  it('ignores a hostile returnTo', async () => {
    const agent = await signedIn();
    expect((await agent.get('/auth/wps/logout?returnTo=//evil.example').expect(302)).headers.location).toBe('/');
  });
});

describe('misuse', () => {
  function app(setup: (a: express.Express) => void) {
    const a = express();
    setup(a);
    a.use(
      (
        err: { code?: string; message: string; status?: number },
        _req: express.Request,
        res: express.Response,
        _next: express.NextFunction,
      ) => {
        res.status(err.status ?? 500).json({ code: err.code, message: err.message });
      },
    );
    return a;
  }
  const options = { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUri: REDIRECT_URI };

  it('says to mount express-session first', async () => {
    const a = app((x) => x.use(wpsAuth(options)));
    const res = await request(a).get('/').expect(500);
    expect(res.body).toEqual({
      code: 'misconfigured',
      message:
        'express-wps-oauth: req.session is missing. Mount express-session before wpsAuth(): ' +
        'app.use(session({ secret, resave: false, saveUninitialized: false })); app.use(wpsAuth({ ... }))',
    });
  });

  it('says to mount wpsAuth before requireWpsToken', async () => {
    const a = app((x) => x.get('/p', requireWpsToken(), (_req, res) => res.send('no')));
    const res = await request(a).get('/p').expect(500);
    expect(res.body.message).toBe(
      'express-wps-oauth: requireWpsToken() found no req.wps: wpsAuth() did not see this request. Mount ' +
        'wpsAuth({ ... }) before every route that uses requireWpsToken(), in the same app or an enclosing one: ' +
        'app.use(wpsAuth({ ... })); app.get(path, requireWpsToken(), handler)',
    );
  });

  it('says to call wpsAuth and requireWpsToken', async () => {
    const a = app((x) => {
      x.use(session({ secret: 's', resave: false, saveUninitialized: false }));
      x.get('/a', wpsAuth as never);
      x.get('/b', requireWpsToken as never);
    });
    expect((await request(a).get('/a').expect(500)).body.message).toBe(
      'express-wps-oauth: it appears you have done something like `app.use(wpsAuth)`, ' +
        'but it should be `app.use(wpsAuth({ clientId, clientSecret, redirectUri }))`.',
    );
    expect((await request(a).get('/b').expect(500)).body.message).toBe(
      'express-wps-oauth: it appears you have done something like `app.get(path, requireWpsToken, handler)`, ' +
        'but it should be `app.get(path, requireWpsToken(), handler)`.',
    );
  });
});

describe('req.wps', () => {
  it('is the same context in a Router, in a mounted sub-app and after the session is regenerated', async () => {
    const seen: unknown[] = [];
    const sub = express();
    sub.get('/token', requireWpsToken(), (req, res) => {
      seen.push(req.wps);
      res.json({ token: req.wps.accessToken });
    });
    const router = express.Router();
    router.get('/regenerate', requireWpsToken(), (req, res, next) => {
      const before = req.wps;
      seen.push(before);
      req.session.regenerate((err) => {
        if (err) return next(err);
        res.json({ same: req.wps === before, token: req.wps.accessToken, authenticated: req.wps.isAuthenticated() });
      });
    });
    t = createTestApp(fake, {}, { routes: (a) => a.use('/sub', sub).use('/r', router) });
    const agent = await signedIn();
    const { accessToken } = await storedTokens(agent);
    expect((await agent.get('/sub/token').expect(200)).body).toEqual({ token: accessToken });
    // The user's own regenerate() drops the tokens from the session, not the request's context.
    expect((await agent.get('/r/regenerate').expect(200)).body).toEqual({
      same: true,
      token: accessToken,
      authenticated: false,
    });
    expect(seen).toHaveLength(2);
    expect(seen[0]).toBeDefined();
    expect(seen[0]).not.toBe(seen[1]);
  });

  it('is undefined, and requireWpsToken says so, on requests wpsAuth did not see in an app where it runs', async () => {
    const a = express();
    a.use(session({ secret: 's', resave: false, saveUninitialized: false }));
    a.use(
      '/with',
      wpsAuth({
        clientId: CLIENT_ID,
        clientSecret: CLIENT_SECRET,
        redirectUri: 'http://127.0.0.1/with/auth/wps/callback',
        loginPath: '/with/auth/wps/login',
        logoutPath: false,
        clientSignInPath: false,
        baseUrl: fake.url,
      }),
    );
    a.get('/with/probe', (req, res) => res.json({ wps: typeof req.wps }));
    a.get('/without/probe', (req, res) => res.json({ wps: typeof req.wps }));
    a.get('/without/protected', requireWpsToken(), (_req, res) => res.send('no'));
    a.use((err: { code?: string }, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      res.status(500).json({ code: err.code });
    });
    expect((await request(a).get('/with/probe').expect(200)).body).toEqual({ wps: 'object' });
    expect((await request(a).get('/without/probe').expect(200)).body).toEqual({ wps: 'undefined' });
    expect((await request(a).get('/without/protected').expect(500)).body).toEqual({ code: 'misconfigured' });
  });

  it("is one plain own property of the request: nothing in res.locals, on Express's or Node's prototypes", async () => {
    t = createTestApp(
      fake,
      {},
      {
        routes: (a) =>
          a.get('/locals', (req, res) => {
            const forIn: string[] = [];
            for (const key in res.locals) forIn.push(key);
            res.json({
              json: JSON.stringify(res.locals),
              keys: Object.keys(res.locals),
              forIn,
              own: Object.keys(req).includes('wps'),
              has: req.wps !== undefined,
              onPrototypes: Object.getPrototypeOf(req) !== null && 'wps' in Object.getPrototypeOf(req),
            });
          }),
      },
    );
    expect((await request(t.app).get('/locals').expect(200)).body).toEqual({
      json: '{}',
      keys: [],
      forIn: [],
      own: true,
      has: true,
      onPrototypes: false,
    });
    expect(Object.getOwnPropertyDescriptor(IncomingMessage.prototype, 'wps')).toBeUndefined();
  });

  it('can be assigned, e.g. by a test double', async () => {
    t = createTestApp(
      fake,
      {},
      {
        routes: (a) =>
          a.get('/assign', (req, res) => {
            (req as { wps: unknown }).wps = { stub: true };
            res.json({ wps: req.wps });
          }),
      },
    );
    expect((await request(t.app).get('/assign').expect(200)).body).toEqual({ wps: { stub: true } });
  });
});
