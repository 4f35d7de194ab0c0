import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import express, { type ErrorRequestHandler } from 'express';
import session from 'express-session';
import request from 'supertest';
import { requireWpsToken, wpsAuth } from '../../lib';
import { expireAgentAccessToken, signedInAgent, type FakeWps } from '../../lib/testing';
import { CLIENT_ID, CLIENT_SECRET, createTestApp, type TestApp } from '../helpers/app';
import { sessionsOf } from '../helpers/stored';
import { useFakeWps } from '../helpers/fake-wps';

const KEY = randomBytes(32).toString('base64');

const fake = useFakeWps({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET });

/** The test app of helpers/app.ts, plus a route that shows `req.wps.user` behind requireWpsToken(). */
function newApp(options: Parameters<typeof createTestApp>[1] = {}): TestApp {
  return createTestApp(fake, options, {
    routes: (app) => {
      app.get('/me', requireWpsToken(), (req, res) => {
        res.json({ user: req.wps.user ?? null, token: req.wps.accessToken });
      });
    },
  });
}

/** The session of `agent`'s cookie, as the app's own inspection route reads it. */
async function sessionOf(agent: ReturnType<typeof request.agent>) {
  return (await agent.get('/test/session').expect(200)).body as {
    id: string;
    wps: { tokens: { accessToken: string; expiresAt: number; refreshExpiresAt: number } } | null;
  };
}

/** The library's record exactly as the MemoryStore keeps it (the packed JSON string), for one session id. */
function storedValue(t: TestApp, sid: string): unknown {
  return (JSON.parse(sessionsOf(t.store)[sid] ?? 'null') as Record<string, unknown> | null)?.wpsAuth;
}

describe('signedInAgent', () => {
  it('signs an agent in through the real flow: it reaches a requireWpsToken() route', async () => {
    const t = newApp();
    const agent = request.agent(t.app);
    const same = await signedInAgent(agent, fake);
    expect(same).toBe(agent);
    expect(fake.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      'GET /oauth2/auth',
      'POST /oauth2/token',
      'GET /v7/users/current',
    ]);
    // A request as a browser sends it: no per-sign-in ticket without overrides.
    expect(fake.requests[0]?.headers['x-fake-wps-sign-in']).toBeUndefined();
    const res = await agent.get('/me').expect(200);
    expect(res.body.token).toMatch(/^fake_at_/);
    expect(res.body.user).toEqual({
      id: 'fake-user-1',
      name: 'Demo User',
      avatar: 'https://example.invalid/avatar.png',
      companyId: 'fake-company-1',
    });
    expect(t.errors).toEqual([]);
  });

  it('gives each agent its own user: the override shows in req.wps.user', async () => {
    const t = newApp();
    const ada = await signedInAgent(request.agent(t.app), fake, { user: { id: 'ada-1', name: 'Ada' } });
    const demo = await signedInAgent(request.agent(t.app), fake);
    expect((await ada.get('/me').expect(200)).body.user).toEqual({
      id: 'ada-1',
      name: 'Ada',
      avatar: 'https://example.invalid/avatar.png',
      companyId: 'fake-company-1',
    });
    expect((await demo.get('/me').expect(200)).body.user).toMatchObject({ id: 'fake-user-1', name: 'Demo User' });
  });

  it('stores the token lifetimes the fake issued for this sign-in', async () => {
    const t = newApp();
    const before = Date.now();
    const agent = await signedInAgent(request.agent(t.app), fake, {
      accessTokenTtlSeconds: 120,
      refreshTokenTtlSeconds: 600,
    });
    const after = Date.now();
    const { tokens } = (await sessionOf(agent)).wps ?? { tokens: undefined };
    expect(tokens?.expiresAt).toBeGreaterThanOrEqual(before + 120_000);
    expect(tokens?.expiresAt).toBeLessThanOrEqual(after + 120_000);
    expect(tokens?.refreshExpiresAt).toBeGreaterThanOrEqual(before + 600_000);
    expect(tokens?.refreshExpiresAt).toBeLessThanOrEqual(after + 600_000);
  });

  it('follows returnTo, and checks the scopes the app asks for', async () => {
    const t = newApp({ scope: ['kso.user_base.read', 'kso.calendar.read'] });
    const agent = await signedInAgent(request.agent(t.app), fake, {
      returnTo: '/me?tab=1',
      scopes: ['kso.calendar.read', 'kso.user_base.read'],
    });
    await agent.get('/me').expect(200);
    await expect(signedInAgent(request.agent(t.app), fake, { scopes: ['kso.user_base.read'] })).rejects.toThrow(
      new Error(
        'signedInAgent: the app asks WPS for the scopes "kso.user_base.read,kso.calendar.read", not the expected ' +
          '"kso.user_base.read": scopes are the app\'s configuration — wpsAuth({ scope }) — and the fake grants what ' +
          'the app asks',
      ),
    );
  });

  it("presses Allow when the fake runs with consent: 'page'", async () => {
    fake.setOptions({ consent: 'page' });
    const t = newApp();
    const agent = await signedInAgent(request.agent(t.app), fake, { user: { name: 'Grace' } });
    expect(fake.requests.map((r) => `${r.method} ${r.path}`).slice(0, 2)).toEqual([
      'GET /oauth2/auth',
      'POST /oauth2/auth/decision',
    ]);
    expect(fake.requests[1]?.form).toEqual({ request_id: expect.any(String), decision: 'allow' });
    expect((await agent.get('/me').expect(200)).body.user).toMatchObject({ name: 'Grace' });
  });

  it('signs in to an app mounted under a prefix, with its own loginPath', async () => {
    const portal = express();
    portal.use(session({ secret: 'portal-secret', resave: false, saveUninitialized: false }));
    portal.use(
      wpsAuth({
        clientId: CLIENT_ID,
        clientSecret: CLIENT_SECRET,
        baseUrl: fake.url,
        redirectUri: 'http://127.0.0.1/portal/auth/wps/callback',
        loginPath: '/portal/auth/wps/login',
        logoutPath: '/portal/auth/wps/logout',
        clientSignInPath: '/portal/auth/wps/client-sign-in',
        defaultReturnTo: '/portal/',
      }),
    );
    portal.get('/me', requireWpsToken(), (req, res) => {
      res.json({ token: req.wps.accessToken });
    });
    const app = express();
    app.use('/portal', portal);
    const agent = await signedInAgent(request.agent(app), fake, {
      loginPath: '/portal/auth/wps/login',
      returnTo: '/portal/me',
    });
    const first = (await agent.get('/portal/me').expect(200)).body.token as string;
    expect(fake.tokenRequests('refresh_token')).toHaveLength(0);
    // The store was learnt for the sub-app and the app it is mounted in, which the agent talks to.
    await expireAgentAccessToken(agent);
    const second = (await agent.get('/portal/me').expect(200)).body.token as string;
    expect(second).not.toBe(first);
    expect(fake.tokenRequests('refresh_token')).toHaveLength(1);
  });
});

describe('expireAgentAccessToken', () => {
  it.each([
    ['a MemoryStore', {}],
    ['tokenEncryptionKey', { tokenEncryptionKey: KEY }],
  ])('makes the next protected request refresh exactly once through the fake (%s)', async (_name, options) => {
    const t = newApp(options);
    const agent = await signedInAgent(request.agent(t.app), fake);
    const other = await signedInAgent(request.agent(t.app), fake);
    const before = (await agent.get('/me').expect(200)).body.token as string;
    const otherToken = (await other.get('/me').expect(200)).body.token as string;
    const { id } = await sessionOf(agent);

    await expireAgentAccessToken(agent);
    // Written back in the stored form: the record an object, the tokens still sealed when a key is set.
    const stored = storedValue(t, id);
    expect(typeof stored).toBe('object');
    const rawTokens = (stored as { tokens: unknown }).tokens;
    expect(typeof rawTokens).toBe('tokenEncryptionKey' in options ? 'string' : 'object');
    expect((await sessionOf(agent)).wps?.tokens.expiresAt).toBe(0);
    expect(fake.tokenRequests('refresh_token')).toHaveLength(0);

    const after = (await agent.get('/me').expect(200)).body.token as string;
    expect(after).toMatch(/^fake_at_/);
    expect(after).not.toBe(before);
    expect(fake.tokenRequests('refresh_token')).toHaveLength(1);
    await agent.get('/me').expect(200);
    // The other agent's session was left alone.
    expect((await other.get('/me').expect(200)).body.token).toBe(otherToken);
    expect(fake.tokenRequests('refresh_token')).toHaveLength(1);
    expect(t.errors).toEqual([]);
  });

  it('refuses an agent that signedInAgent() did not sign in', async () => {
    const t = newApp();
    await expect(expireAgentAccessToken(request.agent(t.app))).rejects.toThrow(
      new Error(
        'expireAgentAccessToken: this agent was not signed in by signedInAgent(); sign it in first: ' +
          'const agent = await signedInAgent(request.agent(app), fake)',
      ),
    );
  });

  it("says so when the app's session store is unknown", async () => {
    const t = newApp();
    // A server whose request listener wraps the app: the agent never names the app itself.
    const agent = await signedInAgent(request.agent(createServer((req, res) => t.app(req, res))), fake);
    await expect(expireAgentAccessToken(agent)).rejects.toThrow(
      new Error(
        "expireAgentAccessToken: the app's session store is unknown: the agent must be request.agent(app) or " +
          'request.agent(server) of an app in this process, with wpsAuth() from this copy of express-wps-oauth',
      ),
    );
  });

  it('says so when the session cookie is missing or is not an express-session cookie', async () => {
    const t = newApp();
    const agent = await signedInAgent(request.agent(t.app), fake, { cookieName: 'app.sid' });
    await expect(expireAgentAccessToken(agent)).rejects.toThrow(
      new Error(
        'expireAgentAccessToken: the agent holds no "app.sid" cookie for 127.0.0.1; if the app names its session ' +
          "cookie otherwise (express-session's name option), pass signedInAgent() that cookieName",
      ),
    );
    agent.jar.setCookie('app.sid=unsigned-value; Path=/', '127.0.0.1', '/');
    await expect(expireAgentAccessToken(agent)).rejects.toThrow(
      new Error(
        'expireAgentAccessToken: the "app.sid" cookie is not a signed express-session cookie (s:<id>.<signature>)',
      ),
    );
  });

  it("passes on the session store's failure", async () => {
    const t = newApp();
    const agent = await signedInAgent(request.agent(t.app), fake);
    t.store.set = (_sid, _session, callback) => callback?.(new Error('disk full'));
    await expect(expireAgentAccessToken(agent)).rejects.toThrow(
      new Error("expireAgentAccessToken: the session store's set() failed: disk full", {
        cause: new Error('disk full'),
      }),
    );
  });

  it('says so when the session holds no tokens (signed out)', async () => {
    const t = newApp();
    const agent = await signedInAgent(request.agent(t.app), fake);
    await agent.post('/auth/wps/logout').expect(302);
    await expect(expireAgentAccessToken(agent)).rejects.toThrow(
      new Error(
        "expireAgentAccessToken: the agent's session holds no WPS tokens (it signed out, or the session expired)",
      ),
    );
  });
});

describe('signedInAgent failures name the step, the status and the start of the body', () => {
  it('step 1: the login route is missing (404)', async () => {
    const t = newApp();
    await expect(signedInAgent(request.agent(t.app), fake, { loginPath: '/login' })).rejects.toThrow(
      new Error(
        `signedInAgent: step 1/3 (GET /login on the app) failed: it answered 404 instead of a 302 redirect to ` +
          `${fake.url}/oauth2/auth; the body starts: "<!DOCTYPE html> <html lang=\\"en\\"> <head> <meta ` +
          `charset=\\"utf-8\\"> <title>Error</title> </head> <body> <pre>Cannot GET /login</pre> </body> </html>"`,
      ),
    );
  });

  it('step 1: the app sends the browser to another WPS', async () => {
    const t = newApp({ baseUrl: 'http://127.0.0.1:9' });
    await expect(signedInAgent(request.agent(t.app), fake)).rejects.toThrow(
      new Error(
        'signedInAgent: step 1/3 (GET /auth/wps/login on the app) failed: it redirected to ' +
          `"http://127.0.0.1:9/oauth2/auth" instead of ${fake.url}/oauth2/auth: give wpsAuth() baseUrl: fake.url`,
      ),
    );
  });

  it('never repeats a code or token, and shows only the start of a long body', async () => {
    const app = express();
    app.get('/auth/wps/login', (_req, res) => {
      res.status(500).send(`failed with kso_ac_abc.def and fake_at_secret-token, then ${'x'.repeat(300)}`);
    });
    await expect(signedInAgent(request.agent(app), fake)).rejects.toThrow(
      new Error(
        'signedInAgent: step 1/3 (GET /auth/wps/login on the app) failed: it answered 500 instead of a 302 ' +
          `redirect to ${fake.url}/oauth2/auth; the body starts: "failed with kso_ac_… and fake_at_…, then ` +
          `${'x'.repeat(159)}…"`,
      ),
    );
  });

  it('step 2: the fake refuses the client id', async () => {
    const t = newApp({ clientId: 'wrong-client-id' });
    await expect(signedInAgent(request.agent(t.app), fake)).rejects.toThrow(
      new Error(
        'signedInAgent: step 2/3 (GET /oauth2/auth at the fake WPS) failed: it answered 400 instead of a 302 ' +
          `redirect back to the app; the body starts: "{\\"code\\":40000001,\\"msg\\":\\"invalid_request\\",` +
          `\\"debug\\":{\\"desc\\":\\"'client_id' parameter is unknown\\"}}"`,
      ),
    );
  });

  it('step 3: the callback fails with state_mismatch (the session cookie did not come back)', async () => {
    const app = express();
    app.use(session({ secret: 's', resave: false, saveUninitialized: false, cookie: { secure: true } }));
    app.use(
      wpsAuth({
        clientId: CLIENT_ID,
        clientSecret: CLIENT_SECRET,
        baseUrl: fake.url,
        redirectUri: 'http://127.0.0.1/auth/wps/callback',
      }),
    );
    const onError: ErrorRequestHandler = (err: { status?: number; code?: string }, _req, res, _next) => {
      res.status(err.status ?? 500).json({ code: err.code });
    };
    app.use(onError);
    await expect(signedInAgent(request.agent(app), fake)).rejects.toThrow(
      new Error(
        'signedInAgent: step 3/3 (GET /auth/wps/callback on the app) failed: it answered 400 instead of a 302 ' +
          'redirect into the app; the body starts: "{\\"code\\":\\"state_mismatch\\"}"',
      ),
    );
  });

  it('step 3: the code exchange fails at the fake', async () => {
    const t = newApp();
    fake.queueTokenFault({ status: 503, body: 'down' });
    await expect(signedInAgent(request.agent(t.app), fake)).rejects.toThrow(
      /^signedInAgent: step 3\/3 \(GET \/auth\/wps\/callback on the app\) failed: it answered 502 instead of a 302 redirect into the app; the body starts: "\{\\"code\\":\\"wps_unavailable\\"/,
    );
  });

  it('step 3: the app refuses returnTo', async () => {
    const t = newApp();
    await expect(signedInAgent(request.agent(t.app), fake, { returnTo: 'https://elsewhere.example/' })).rejects.toThrow(
      new Error(
        'signedInAgent: step 3/3 (GET /auth/wps/callback on the app) failed: it redirected to "/" instead of ' +
          'returnTo "https://elsewhere.example/" (the app keeps only paths of its own origin)',
      ),
    );
  });

  it('refuses a request() without a cookie jar, and something that is not the fake', async () => {
    const t = newApp();
    await expect(signedInAgent(request(t.app) as never, fake)).rejects.toThrow(
      new TypeError(
        'signedInAgent: the first argument must be a supertest agent — request.agent(app) — whose cookie jar ' +
          'keeps the session; request(app) forgets the cookie after each request',
      ),
    );
    await expect(signedInAgent(request.agent(t.app), { url: fake.url } as FakeWps)).rejects.toThrow(
      new TypeError('signedInAgent: the second argument must be the fake WPS that startFakeWps() resolved with'),
    );
  });

  it('refuses lifetimes the fake would not issue, before any request', async () => {
    const t = newApp();
    await expect(signedInAgent(request.agent(t.app), fake, { accessTokenTtlSeconds: 0 })).rejects.toThrow(
      new RangeError("prepareSignIn: 'accessTokenTtlSeconds' must be a positive whole number of seconds, got 0"),
    );
    expect(fake.requests).toEqual([]);
  });
});
