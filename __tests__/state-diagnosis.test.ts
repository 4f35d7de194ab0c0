import express from 'express';
import session, { type CookieOptions } from 'express-session';
import request from 'supertest';
import { wpsAuth, type WpsAuthOptions } from '../lib';
import { createTestClock } from '../lib/testing';
import { CLIENT_ID, CLIENT_SECRET, memoryLogger, jsonErrors } from './helpers/app';
import { useFakeWps } from './helpers/fake-wps';

type Agent = ReturnType<typeof request.agent>;

const fake = useFakeWps({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET });

function app(cookie: CookieOptions = {}, options: WpsAuthOptions = {}) {
  const logger = memoryLogger();
  const a = express();
  a.use(session({ secret: 's', resave: false, saveUninitialized: false, cookie }));
  a.use(
    wpsAuth({
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      redirectUri: 'http://127.0.0.1/auth/wps/callback',
      baseUrl: fake.url,
      logger,
      ...options,
    }),
  );
  a.get('/', (req, res) => res.json({ authenticated: req.wps.isAuthenticated() }));
  return { app: a.use(jsonErrors), logger };
}

/** Start a sign-in with `agent` (as `host`) and let the fake redirect back: the callback's path and query. */
async function authorize(agent: Agent, host?: string): Promise<string> {
  const login = agent.get('/auth/wps/login');
  if (host !== undefined) void login.set('Host', host);
  const res = await login.expect(302);
  const back = await request(res.headers.location as string)
    .get('')
    .redirects(0)
    .expect(302);
  const url = new URL(back.headers.location as string);
  return `${url.pathname}${url.search}`;
}

const USUAL =
  'Usual causes: the sign-in started on another host than redirectUri (localhost vs 127.0.0.1), a secure cookie ' +
  "over plain http, sameSite: 'strict', the browser blocking cookies, or the session expired or was lost by the " +
  'session store.';

describe('a callback whose session cookie did not come back', () => {
  it('says so and lists the usual causes when nothing shows, naming no host when both are the same', async () => {
    const { app: a, logger } = app();
    const callback = await authorize(request.agent(a));
    const res = await request(a).get(callback).set('Host', '127.0.0.1:3000').expect(400);
    expect(res.body).toEqual({
      code: 'state_mismatch',
      reason: 'no_pending_login',
      message: `The session cookie did not come back with the WPS callback: this session has no sign-in in progress. ${USUAL}`,
    });
    expect(fake.tokenRequests()).toHaveLength(0);
    expect(logger.lines.filter((l) => l.startsWith('warn'))).toEqual([
      `warn express-wps-oauth: callback: ${res.body.message} {"reason":"no_pending_login"}`,
    ]);
  });

  it('localhost vs 127.0.0.1: warned at login, and named at the callback', async () => {
    const { app: a, logger } = app();
    const agent = request.agent(a);
    const callback = await authorize(agent, 'localhost:3000');
    const hostProblem =
      'this request came to host "localhost" but redirectUri is on "127.0.0.1" — cookies set on one are never sent ' +
      'to the other: open the app at http://127.0.0.1';
    expect(logger.lines).toContain(
      `warn express-wps-oauth: login: the session cookie will not come back with the WPS callback: ${hostProblem} {}`,
    );
    // The same warning is not repeated at every login.
    await authorize(agent, 'localhost:3000');
    expect(logger.lines.filter((l) => l.includes('will not come back'))).toHaveLength(1);
    // At the callback (reached on the other host, without the cookie) the diagnosis names both hosts.
    const res = await request(a).get(callback).set('Host', 'localhost:3000').expect(400);
    expect(res.body.message).toBe(
      'The session cookie did not come back with the WPS callback (callback host "localhost", redirectUri host ' +
        `"127.0.0.1"): this session has no sign-in in progress. Found: ${hostProblem}.`,
    );
  });

  it("sameSite: 'strict': warned at login, named at the callback", async () => {
    const { app: a, logger } = app({ sameSite: 'strict' });
    const callback = await authorize(request.agent(a));
    const problem =
      "the session cookie has sameSite: 'strict', which browsers do not send on the redirect back from WPS: use 'lax'";
    expect(logger.lines).toContain(
      `warn express-wps-oauth: login: the session cookie will not come back with the WPS callback: ${problem} {}`,
    );
    const res = await request(a).get(callback).expect(400);
    expect(res.body.message).toMatch(new RegExp(`Found: ${problem.replace(/[.*+?^${}()|[\]\\']/g, '\\$&')}\\.$`));
  });

  it('a secure cookie over plain http: no cookie is even set at login; warned, and named at the callback', async () => {
    const { app: a, logger } = app({ secure: true });
    const login = await request(a).get('/auth/wps/login').expect(302);
    expect(login.headers['set-cookie']).toBeUndefined();
    expect(
      logger.lines.some((l) => l.includes('the session cookie is secure but this request came over plain http')),
    ).toBe(true);
    const back = await request(login.headers.location as string)
      .get('')
      .redirects(0)
      .expect(302);
    const url = new URL(back.headers.location as string);
    const res = await request(a).get(`${url.pathname}${url.search}`).expect(400);
    expect(res.body.reason).toBe('no_pending_login');
    expect(res.body.message).toContain(
      'Found: the session cookie is secure but this request came over plain http, so express-session sets no ' +
        "cookie (behind a TLS proxy: app.set('trust proxy', 1); in local development: secure: 'auto').",
    );
  });
});

describe('a callback whose state is unknown, used or expired', () => {
  it('unknown to a session with other sign-ins in progress: says how many', async () => {
    const { app: a } = app();
    const other = await authorize(request.agent(a));
    const agent = request.agent(a);
    await agent.get('/auth/wps/login').expect(302);
    const res = await agent.get(other).expect(400);
    expect(res.body).toEqual({
      code: 'state_mismatch',
      reason: 'unknown_state',
      message:
        'The sign-in state is unknown to this session or was already used (it has 1 other sign-in in progress): ' +
        'start the sign-in again',
    });
  });

  it('older than 10 minutes: says it expired (time moved by the test clock, no sleeping)', async () => {
    const clock = createTestClock();
    const { app: a } = app({}, { clock });
    const agent = request.agent(a);
    const callback = await authorize(agent);
    clock.advance(10 * 60 * 1000 + 1);
    const res = await agent.get(callback).expect(400);
    expect(res.body).toEqual({
      code: 'state_mismatch',
      reason: 'expired_state',
      message: 'The sign-in took longer than 10 minutes and its state expired: start the sign-in again',
    });
    expect(fake.tokenRequests()).toHaveLength(0);
  });

  it('no state at all', async () => {
    const { app: a } = app();
    const agent = request.agent(a);
    await agent.get('/auth/wps/login').expect(302);
    expect((await agent.get('/auth/wps/callback?code=kso_ac_x.y').expect(400)).body.reason).toBe('missing_state');
  });
});

describe('a signed-in user who goes Back to the consent page and allows again', () => {
  it('lands on defaultReturnTo, still signed in, without a second exchange; warned once', async () => {
    const { app: a, logger } = app({}, { defaultReturnTo: '/home' });
    const agent = request.agent(a);
    const callback = await authorize(agent);
    await agent.get(callback).expect(302);
    // WPS hands out a new code for the same (now used) state.
    const again = callback.replace(/code=[^&]+/, 'code=kso_ac_second.code');
    fake.reset();
    const res = await agent.get(again).expect(302);
    expect(res.headers.location).toBe('/home');
    expect(fake.tokenRequests()).toHaveLength(0);
    expect((await agent.get('/').expect(200)).body).toEqual({ authenticated: true });
    // And Back, then Deny: the same.
    const denied = callback.replace(/code=[^&]+/, 'error=access_denied');
    expect((await agent.get(denied).expect(302)).headers.location).toBe('/home');
    expect(logger.lines.filter((l) => l.startsWith('warn'))).toEqual([
      'warn express-wps-oauth: callback: the state matches no sign-in, but this session is signed in; back to ' +
        'defaultReturnTo {"reason":"no_pending_login"}',
      'warn express-wps-oauth: callback: the state matches no sign-in, but this session is signed in; back to ' +
        'defaultReturnTo {"reason":"no_pending_login"}',
    ]);
    expect(logger.lines.join('\n')).not.toContain('kso_ac_');
  });
});
