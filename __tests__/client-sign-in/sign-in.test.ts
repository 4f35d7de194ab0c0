import express from 'express';
import session, { MemoryStore, type SessionData } from 'express-session';
import request from 'supertest';
import { wpsAuth, type WpsAuthOptions } from '../../lib';
import { signedInAgent } from '../../lib/testing';
import { CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, type TestApp } from '../helpers/app';
import { clientApp, OWN_ORIGIN, postCode, ROUTE, sessionCount, sessionOf, setCookie } from './helpers';
import { useFakeWps } from '../helpers/fake-wps';

// The route's successes and what WPS or afterLogin can make of them: the code exchanged as the callback exchanges
// it, a new session id, and a session left as it was whenever the sign-in fails.

const fake = useFakeWps({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUris: [REDIRECT_URI] });
let t: TestApp;

const FAKE_USER = {
  id: 'fake-user-1',
  name: 'Demo User',
  avatar: 'https://example.invalid/avatar.png',
  companyId: 'fake-company-1',
};

beforeEach(() => {
  t = clientApp(fake);
});

function cookieOf(res: request.Response): string {
  const cookies = setCookie(res) as string[] | undefined;
  const first = cookies?.[0];
  if (first === undefined) throw new Error('no Set-Cookie');
  return first.split(';')[0] ?? '';
}

describe('200 signed in', () => {
  it('exchanges the code as the callback does, stores the tokens under a new session, answers the user', async () => {
    const agent = request.agent(t.app);
    const code = fake.clientCode();
    const res = await postCode(agent, { code });
    expect([res.status, res.body]).toEqual([200, { signedIn: true, returnTo: '/', user: FAKE_USER }]);
    expect(setCookie(res)).toBeDefined();
    expect(fake.tokenRequests().map((r) => r.form)).toEqual([
      {
        grant_type: 'authorization_code',
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        code,
        redirect_uri: REDIRECT_URI,
      },
    ]);
    expect(fake.apiRequests('/v7/users/current')).toHaveLength(1);
    expect((await agent.get('/').expect(200)).body).toEqual({ authenticated: true });
    const stored = await sessionOf(agent);
    expect(stored.wps).toMatchObject({ user: FAKE_USER, tokens: { tokenType: 'bearer', rev: 1 } });
    expect((await agent.get('/protected').expect(200)).body.token).toMatch(/^fake_at_/);
    expect(t.logger.lines.filter((l) => !l.startsWith('debug'))).toEqual([]);
  });

  it('runs afterLogin, and answers the user it returns (as req.wps.user)', async () => {
    const seen: unknown[] = [];
    t = clientApp(fake, {
      afterLogin: (_req, { user, tokens }) => {
        seen.push({ user: user?.id, token: typeof tokens.accessToken });
        return { ...FAKE_USER, accountId: 'acct-7' };
      },
    });
    const res = await postCode(request(t.app), { code: fake.clientCode() });
    expect(res.body).toEqual({ signedIn: true, returnTo: '/', user: { ...FAKE_USER, accountId: 'acct-7' } });
    expect(seen).toEqual([{ user: 'fake-user-1', token: 'string' }]);
  });

  it('answers no user when the profile is not fetched', async () => {
    t = clientApp(fake, { fetchUser: false });
    const res = await postCode(request(t.app), { code: fake.clientCode() });
    expect(res.body).toEqual({ signedIn: true, returnTo: '/' });
    expect(fake.apiRequests()).toEqual([]);
  });

  it.each([
    ['/dashboard?tab=files#top', '/dashboard?tab=files#top'],
    ['//evil.example/', '/home'],
    ['https://evil.example/', '/home'],
    ['/\\evil.example', '/home'],
    ['/%2F%2Fevil.example', '/home'],
    [42, '/home'],
    [undefined, '/home'],
  ])('honours returnTo %j only as a same-origin path (else defaultReturnTo)', async (returnTo, expected) => {
    t = clientApp(fake, { defaultReturnTo: '/home' });
    const res = await postCode(request(t.app), { code: fake.clientCode(), returnTo });
    expect([res.status, res.body.returnTo]).toEqual([200, expected]);
  });

  it('accepts a charset and ignores other fields', async () => {
    const res = await postCode(
      request(t.app),
      { code: fake.clientCode(), extra: { deep: [1, 2] } },
      { contentType: 'Application/JSON; charset=UTF-8' },
    );
    expect([res.status, res.body.signedIn]).toEqual([200, true]);
  });

  it('switches accounts: a signed-in session posting a new code gets a new session id and the new tokens', async () => {
    const agent = request.agent(t.app);
    await postCode(agent, { code: fake.clientCode({ id: 'user-a', name: 'A' }) }).expect(200);
    const before = await sessionOf(agent);
    const res = await postCode(agent, { code: fake.clientCode({ id: 'user-b', name: 'B' }) });
    expect([res.status, res.body.user.id]).toEqual([200, 'user-b']);
    const after = await sessionOf(agent);
    expect(after.id).not.toBe(before.id);
    expect((after.wps?.tokens as { accessToken: string }).accessToken).not.toBe(
      (before.wps?.tokens as { accessToken: string }).accessToken,
    );
    expect((after.wps?.user as { id: string }).id).toBe('user-b');
  });

  it('against fixation: a session that existed before gets a new id, and the old id is not signed in', async () => {
    const agent = request.agent(t.app);
    const login = await agent.get('/auth/wps/login').expect(302);
    const oldCookie = cookieOf(login);
    const oldId = (await sessionOf(agent)).id;
    const res = await postCode(agent, { code: fake.clientCode() }).expect(200);
    expect(cookieOf(res)).not.toBe(oldCookie);
    expect((await sessionOf(agent)).id).not.toBe(oldId);
    const old = await request(t.app).get('/').set('Cookie', oldCookie).expect(200);
    expect(old.body).toEqual({ authenticated: false });
  });
});

describe('failures at WPS or in afterLogin leave the session as it was', () => {
  it('400 wps_rejected for a used code (a replay): no cookie, nothing stored', async () => {
    const code = fake.clientCode();
    await postCode(request(t.app), { code }).expect(200);
    const replay = await postCode(request(t.app), { code });
    expect([replay.status, replay.body]).toEqual([
      400,
      {
        error: 'wps_rejected',
        message: 'WPS rejected the code exchange: invalid_grant (HTTP 400, code 40000003)',
      },
    ]);
    expect(setCookie(replay)).toBeUndefined();
    expect(await sessionCount(t.store)).toBe(1);
    expect(t.logger.lines.filter((l) => !l.startsWith('debug'))).toEqual([
      'warn express-wps-oauth: client sign-in: the sign-in failed (wps_rejected): WPS rejected the code exchange: ' +
        'invalid_grant (HTTP 400, code 40000003) {"status":400}',
    ]);
  });

  it('a signed-in user posting a refused code stays signed in with the same session and tokens', async () => {
    const agent = await signedInAgent(request.agent(t.app), fake);
    const before = await sessionOf(agent);
    const res = await postCode(agent, { code: 'kso_ac_never.issued' });
    expect([res.status, res.body.error, setCookie(res)]).toEqual([400, 'wps_rejected', undefined]);
    expect(await sessionOf(agent)).toEqual(before);
    expect((await agent.get('/').expect(200)).body).toEqual({ authenticated: true });
  });

  it.each([
    ['502 wps_unavailable when WPS answers 503', { status: 503, body: 'down', contentType: 'text/plain' }, 502],
    ['502 wps_unavailable when WPS answers garbage', { malformedJson: true as const }, 502],
    ['504 wps_timeout when WPS does not answer within timeoutMs', { hang: true as const }, 504],
  ])('%s: nothing stored, no cookie', async (_label, fault, status) => {
    t = clientApp(fake, { timeoutMs: 200 });
    fake.queueTokenFault(fault);
    const res = await postCode(request(t.app), { code: fake.clientCode() });
    expect([res.status, res.body.error]).toEqual([status, status === 504 ? 'wps_timeout' : 'wps_unavailable']);
    expect(res.body.message).toMatch(/^WPS /);
    expect(setCookie(res)).toBeUndefined();
    expect(await sessionCount(t.store)).toBe(0);
  });

  it('403 login_refused when afterLogin throws: nothing stored, no cookie', async () => {
    t = clientApp(fake, {
      afterLogin: () => {
        throw new Error('No account for this WPS user');
      },
    });
    const res = await postCode(request(t.app), { code: fake.clientCode() });
    expect([res.status, res.body]).toEqual([
      403,
      { error: 'login_refused', message: 'The sign-in was refused by the app: No account for this WPS user' },
    ]);
    expect(setCookie(res)).toBeUndefined();
    expect(await sessionCount(t.store)).toBe(0);
    expect(t.errors).toEqual([]);
  });

  it('500 internal_error, logged without details, when the session store fails', async () => {
    class FailingStore extends MemoryStore {
      override set(_sid: string, _session: SessionData, callback?: (err?: unknown) => void): void {
        callback?.(new Error('store down at 10.0.0.7'));
      }
    }
    t = clientApp(fake, {}, { store: new FailingStore() });
    const res = await postCode(request(t.app), { code: fake.clientCode() });
    expect([res.status, res.body]).toEqual([
      500,
      { error: 'internal_error', message: 'The sign-in could not be completed' },
    ]);
    expect(t.logger.lines.filter((l) => !l.startsWith('debug'))).toEqual([
      'error express-wps-oauth: client sign-in: the sign-in failed on an unexpected error {"reason":"Error"}',
    ]);
  });
});

describe('GET: is this session signed in?', () => {
  it('answers signedIn false, never cached, without creating a session', async () => {
    const res = await request(t.app).get(ROUTE).expect(200);
    expect([res.body, res.headers['cache-control'], setCookie(res)]).toEqual([
      { signedIn: false },
      'no-store',
      undefined,
    ]);
    expect(await sessionCount(t.store)).toBe(0);
  });

  it('answers signedIn true and the user once signed in; HEAD answers the same headers', async () => {
    const agent = await signedInAgent(request.agent(t.app), fake);
    expect((await agent.get(ROUTE).expect(200)).body).toEqual({ signedIn: true, user: FAKE_USER });
    const head = await agent.head(ROUTE).expect(200);
    expect([head.headers['content-type'], head.text]).toEqual(['application/json; charset=utf-8', undefined]);
  });

  it('refuses a page of another origin', async () => {
    const res = await request(t.app).get(ROUTE).set('Origin', 'https://evil.example');
    expect([res.status, res.body.error]).toEqual([403, 'forbidden_origin']);
  });
});

describe('trustedOrigins: a page on another origin, with a credentialed fetch', () => {
  const PORTAL = 'https://portal.example.com';
  beforeEach(() => {
    t = clientApp(fake, { trustedOrigins: [PORTAL] });
  });

  it('gets its preflight answered', async () => {
    const res = await request(t.app)
      .options(ROUTE)
      .set('Origin', PORTAL)
      .set('Access-Control-Request-Method', 'POST')
      .set('Access-Control-Request-Headers', 'content-type')
      .expect(204);
    expect(res.headers).toMatchObject({
      'access-control-allow-origin': PORTAL,
      'access-control-allow-credentials': 'true',
      'access-control-allow-methods': 'POST',
      'access-control-allow-headers': 'Content-Type',
      'access-control-max-age': '600',
      vary: 'Origin',
    });
    expect(setCookie(res)).toBeUndefined();
  });

  it.each([
    ['another origin', 'https://evil.example'],
    ['no Origin', null],
  ])('refuses the preflight of %s', async (_label, origin) => {
    let req = request(t.app).options(ROUTE).set('Access-Control-Request-Method', 'POST');
    if (origin !== null) req = req.set('Origin', origin);
    const res = await req;
    expect([res.status, res.body.error, res.headers['access-control-allow-origin']]).toEqual([
      403,
      'forbidden_origin',
      undefined,
    ]);
  });

  it('signs in and can read the answer, a refusal included; so can the own origin', async () => {
    const ok = await postCode(request(t.app), { code: fake.clientCode() }, { origin: PORTAL }).expect(200);
    expect([ok.headers['access-control-allow-origin'], ok.headers['access-control-allow-credentials']]).toEqual([
      PORTAL,
      'true',
    ]);
    const bad = await postCode(request(t.app), { code: '' }, { origin: PORTAL }).expect(400);
    expect(bad.headers['access-control-allow-origin']).toBe(PORTAL);
    const own = await postCode(request(t.app), { code: fake.clientCode() }, { origin: OWN_ORIGIN }).expect(200);
    expect(own.headers['access-control-allow-origin']).toBe(OWN_ORIGIN);
    const status = await request(t.app).get(ROUTE).set('Origin', PORTAL).expect(200);
    expect(status.headers['access-control-allow-origin']).toBe(PORTAL);
  });
});

describe('a body parser in front of wpsAuth', () => {
  function appWith(parser: express.RequestHandler, options: WpsAuthOptions = {}): express.Express {
    const app = express();
    app.use(session({ secret: 'test-session-secret', resave: false, saveUninitialized: false }));
    app.use(parser);
    app.use(
      wpsAuth({
        clientId: CLIENT_ID,
        clientSecret: CLIENT_SECRET,
        redirectUri: REDIRECT_URI,
        baseUrl: fake.url,
        ...options,
      }),
    );
    return app;
  }

  it.each([
    ['express.json()', express.json()],
    ['express.raw() (a Buffer)', express.raw({ type: '*/*' })],
    ['express.text() (a string)', express.text({ type: '*/*' })],
  ])('%s: signs in with what it read', async (_label, parser) => {
    const res = await postCode(request(appWith(parser)), { code: fake.clientCode(), returnTo: '/x' });
    expect([res.status, res.body.returnTo]).toEqual([200, '/x']);
  });

  it('express.urlencoded(): a form is still refused by its type', async () => {
    const res = await postCode(request(appWith(express.urlencoded({ extended: false }))), 'code=kso_ac_x', {
      contentType: 'application/x-www-form-urlencoded',
    });
    expect([res.status, res.body.error]).toEqual([400, 'invalid_request']);
  });

  it('express.json({ limit: "1mb" }): a body over 4 KiB is still too large', async () => {
    const res = await postCode(request(appWith(express.json({ limit: '1mb' }))), {
      code: fake.clientCode(),
      padding: 'x'.repeat(5000),
    });
    expect([res.status, res.body.error]).toEqual([413, 'too_large']);
    expect(fake.tokenRequests()).toEqual([]);
  });
});
