import request from 'supertest';
import { startFakeWps } from '../lib/testing';
import {
  authorize,
  CLIENT_ID,
  CLIENT_SECRET,
  createTestApp,
  locationParams,
  REDIRECT_URI,
  signIn,
  type TestApp,
} from './helpers/app';
import { useFakeWps } from './helpers/fake-wps';

const fake = useFakeWps({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUris: [REDIRECT_URI] });
let t: TestApp;

beforeEach(() => {
  t = createTestApp(fake);
});
afterEach(() => jest.restoreAllMocks());

function sessionCookie(res: request.Response): string | undefined {
  const cookies = res.headers['set-cookie'] as unknown as string[] | undefined;
  return cookies?.find((c) => c.startsWith('connect.sid='))?.split(';')[0];
}

describe('login route', () => {
  it('redirects to WPS with the app parameters and a fresh 256-bit state', async () => {
    const agent = request.agent(t.app);
    const res = await agent.get('/auth/wps/login').expect(302);
    const url = new URL(res.headers.location as string);
    expect(`${url.origin}${url.pathname}`).toBe(`${fake.url}/oauth2/auth`);
    const p = url.searchParams;
    expect([p.get('response_type'), p.get('client_id'), p.get('redirect_uri'), p.get('scope')]).toEqual([
      'code',
      CLIENT_ID,
      REDIRECT_URI,
      'kso.user_base.read',
    ]);
    expect(p.get('state')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const again = await agent.get('/auth/wps/login').expect(302);
    expect(locationParams(again.headers.location).get('state')).not.toBe(p.get('state'));
  });

  it('sends several scopes comma-joined', async () => {
    t = createTestApp(fake, { scope: ['kso.user_base.read', 'kso.calendar.read'] });
    const res = await request(t.app).get('/auth/wps/login').expect(302);
    expect(locationParams(res.headers.location).get('scope')).toBe('kso.user_base.read,kso.calendar.read');
  });

  it('keeps the pending login in the session, without tokens', async () => {
    const agent = request.agent(t.app);
    await agent.get('/auth/wps/login?returnTo=/files').expect(302);
    const s = await agent.get('/test/session').expect(200);
    expect(s.body.wps.tokens).toBeUndefined();
    expect(s.body.wps.pending).toHaveLength(1);
    expect(s.body.wps.pending[0].returnTo).toBe('/files');
  });

  it('can be turned off', async () => {
    t = createTestApp(fake, { loginPath: false });
    await request(t.app).get('/auth/wps/login').expect(404);
  });
});

describe('callback route', () => {
  it('exchanges the code with exactly the five form fields, then lands on returnTo', async () => {
    const agent = request.agent(t.app);
    const { callback, code } = await authorize(agent, '?returnTo=%2Ffiles%3Fid%3D7');
    const res = await agent.get(callback).expect(302);
    expect(res.headers.location).toBe('/files?id=7');

    const [exchange, ...others] = fake.tokenRequests();
    expect(others).toHaveLength(0);
    expect(exchange?.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(exchange?.form).toEqual({
      grant_type: 'authorization_code',
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      code,
      redirect_uri: REDIRECT_URI,
    });
    expect(Object.keys(exchange?.form ?? {})).toEqual([
      'grant_type',
      'client_id',
      'client_secret',
      'code',
      'redirect_uri',
    ]);
  });

  it('stores both tokens with absolute expiry times and never sends them to the browser', async () => {
    const agent = request.agent(t.app);
    const { callback } = await authorize(agent);
    const before = Date.now();
    const res = await agent.get(callback).expect(302);
    const s = await agent.get('/test/session').expect(200);
    const tokens = s.body.wps.tokens;
    expect(tokens.accessToken).toMatch(/^fake_at_/);
    expect(tokens.refreshToken).toMatch(/^kso_rt_/);
    expect(tokens.expiresAt).toBeGreaterThanOrEqual(before + 7200 * 1000);
    expect(tokens.expiresAt).toBeLessThanOrEqual(Date.now() + 7200 * 1000);
    expect(tokens.refreshExpiresAt).toBeGreaterThanOrEqual(before + 2592000 * 1000);
    expect(tokens.rev).toBe(1);
    const visible = JSON.stringify(res.headers) + res.text;
    expect(visible).not.toContain(tokens.accessToken);
    expect(visible).not.toContain(tokens.refreshToken);
    expect(s.body.wps.pending).toBeUndefined();
  });

  it('accepts refresh_expires_in as a numeric string', async () => {
    const stringFake = await startFakeWps({
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      refreshExpiresInAsString: true,
    });
    try {
      const app = createTestApp(stringFake).app;
      const agent = request.agent(app);
      const before = Date.now();
      await signIn(agent);
      const s = await agent.get('/test/session').expect(200);
      expect(s.body.wps.tokens.refreshExpiresAt).toBeGreaterThanOrEqual(before + 2592000 * 1000);
    } finally {
      await stringFake.close();
    }
  });

  it('regenerates the session id at login', async () => {
    const agent = request.agent(t.app);
    const login = await agent.get('/auth/wps/login').expect(302);
    const { callback } = await authorize(agent);
    const done = await agent.get(callback).expect(302);
    const before = sessionCookie(login);
    const after = sessionCookie(done);
    expect(before).toBeDefined();
    expect(after).toBeDefined();
    expect(after).not.toBe(before);
    // The pre-login session id no longer carries anything.
    const old = await request(t.app)
      .get('/test/session')
      .set('Cookie', before as string)
      .expect(200);
    expect(old.body.wps).toBeNull();
  });

  it('completes two logins pending in one session (two tabs), oldest first', async () => {
    const agent = request.agent(t.app);
    const tab1 = await authorize(agent, '?returnTo=/one');
    const tab2 = await authorize(agent, '?returnTo=/two');
    expect((await agent.get(tab1.callback).expect(302)).headers.location).toBe('/one');
    expect((await agent.get(tab2.callback).expect(302)).headers.location).toBe('/two');
    expect(fake.tokenRequests('authorization_code')).toHaveLength(2);
  });

  it('keeps at most maxPendingLogins pending, dropping the oldest', async () => {
    t = createTestApp(fake, { maxPendingLogins: 2 });
    const agent = request.agent(t.app);
    const first = await authorize(agent);
    await authorize(agent);
    const third = await authorize(agent);
    expect((await agent.get(first.callback).expect(400)).body.code).toBe('state_mismatch');
    await agent.get(third.callback).expect(302);
  });

  it('answers only GET on the callback path: a HEAD neither consumes the state nor calls WPS', async () => {
    const agent = request.agent(t.app);
    const { callback } = await authorize(agent);
    fake.reset();
    await agent.head(callback).expect(404);
    expect(fake.tokenRequests()).toHaveLength(0);
    await agent.get(callback).expect(302);
  });

  it('never exchanges a replayed callback: the signed-in session goes to defaultReturnTo, any other gets 400', async () => {
    const agent = request.agent(t.app);
    const { callback } = await authorize(agent);
    await agent.get(callback).expect(302);
    const tokens = (await agent.get('/test/session').expect(200)).body.wps.tokens;
    fake.reset();
    const replay = await agent.get(callback).expect(302);
    expect(replay.headers.location).toBe('/');
    expect((await agent.get('/test/session').expect(200)).body.wps.tokens).toEqual(tokens);
    const stranger = await request(t.app).get(callback).expect(400);
    expect(stranger.body).toMatchObject({ code: 'state_mismatch', status: 400 });
    expect(fake.tokenRequests()).toHaveLength(0);
  });

  it('rejects a state from another session without calling WPS', async () => {
    const victim = request.agent(t.app);
    const attacker = request.agent(t.app);
    const { callback } = await authorize(attacker);
    await victim.get('/auth/wps/login').expect(302);
    fake.reset();
    expect((await victim.get(callback).expect(400)).body.code).toBe('state_mismatch');
    expect(fake.tokenRequests()).toHaveLength(0);
  });

  it('rejects a state older than 10 minutes without calling WPS', async () => {
    const agent = request.agent(t.app);
    const { callback } = await authorize(agent);
    const now = Date.now();
    jest.spyOn(Date, 'now').mockReturnValue(now + 10 * 60 * 1000 + 1);
    fake.reset();
    expect((await agent.get(callback).expect(400)).body.code).toBe('state_mismatch');
    expect(fake.tokenRequests()).toHaveLength(0);
  });

  it.each([
    ['missing state', (c: string) => c.replace(/&?state=[^&]*/, '')],
    ['empty state', (c: string) => c.replace(/state=[^&]*/, 'state=')],
    ['unknown state', (c: string) => c.replace(/state=[^&]*/, 'state=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')],
    ['repeated state', (c: string) => `${c}&state=again`],
  ])('rejects a callback with %s without calling WPS', async (_name, mangle) => {
    const agent = request.agent(t.app);
    const { callback } = await authorize(agent);
    fake.reset();
    const res = await agent.get(mangle(callback)).expect(400);
    expect(res.body.code).toBe('state_mismatch');
    expect(fake.tokenRequests()).toHaveLength(0);
  });

  it.each([
    ['missing', (c: string) => c.replace(/code=[^&]*&?/, '')],
    ['empty', (c: string) => c.replace(/code=[^&]*/, 'code=')],
    ['repeated', (c: string) => `${c}&code=second`],
    ['too long', (c: string) => c.replace(/code=[^&]*/, `code=${'a'.repeat(2049)}`)],
    ['not printable ASCII', (c: string) => c.replace(/code=[^&]*/, 'code=%E4%B8%AD%0A')],
  ])('answers invalid_callback for a %s code, without calling WPS', async (_name, mangle) => {
    const agent = request.agent(t.app);
    const { callback } = await authorize(agent);
    fake.reset();
    const res = await agent.get(mangle(callback)).expect(400);
    expect(res.body).toEqual({
      code: 'invalid_callback',
      status: 400,
      message:
        'The WPS callback has no usable authorization code (missing, empty, repeated, too long or not printable ASCII)',
    });
    expect(fake.tokenRequests()).toHaveLength(0);
  });

  it('turns an error redirect into access_denied with error and description', async () => {
    const agent = request.agent(t.app);
    const { state } = await authorize(agent);
    const res = await agent
      .get(`/auth/wps/callback?error=access_denied&error_description=The+user+denied+access&state=${state}`)
      .expect(401);
    expect(res.body).toEqual({
      code: 'access_denied',
      status: 401,
      message: 'WPS sign-in was not granted: access_denied (The user denied access)',
    });
    const err = t.errors[0] as { error?: string; errorDescription?: string };
    expect([err.error, err.errorDescription]).toEqual(['access_denied', 'The user denied access']);
    expect(fake.tokenRequests()).toHaveLength(0);
  });

  it('answers state_mismatch for an error redirect with a foreign state', async () => {
    const res = await request(t.app).get('/auth/wps/callback?error=access_denied&state=forged').expect(400);
    expect(res.body.code).toBe('state_mismatch');
  });

  it('answers wps_rejected when WPS refuses the code, keeping the session usable', async () => {
    const agent = request.agent(t.app);
    const { callback } = await authorize(agent);
    fake.queueTokenFault({ status: 400, body: { code: 40000003, msg: 'invalid_grant' } });
    const res = await agent.get(callback).expect(400);
    expect(res.body).toEqual({
      code: 'wps_rejected',
      status: 400,
      message: 'WPS rejected the code exchange: invalid_grant (HTTP 400, code 40000003)',
    });
    expect(t.errors[0]).toMatchObject({ wpsCode: 40000003, wpsMsg: 'invalid_grant' });
    // The user simply signs in again.
    await signIn(agent);
    expect((await agent.get('/').expect(200)).body.authenticated).toBe(true);
  });

  it.each([
    [
      '2xx with a non-zero code',
      { status: 200, body: { code: 40000001, msg: 'invalid_request' } },
      'wps_rejected',
      400,
    ],
    ['2xx without access_token', { status: 200, body: { expires_in: 7200 } }, 'wps_rejected', 400],
    ['a 500 with HTML', { status: 500, body: '<html>oops</html>', contentType: 'text/html' }, 'wps_unavailable', 502],
    ['a 200 that is not JSON', { status: 200, body: 'hello', contentType: 'text/plain' }, 'wps_unavailable', 502],
    ['malformed JSON', { malformedJson: true as const }, 'wps_unavailable', 502],
    ['a reset connection', { reset: true as const }, 'wps_unavailable', 502],
    [
      'expires_in not a number',
      { status: 200, body: { access_token: 'x', expires_in: 'soon' } },
      'wps_unavailable',
      502,
    ],
  ])('maps %s to %s', async (_name, fault, code, status) => {
    const agent = request.agent(t.app);
    const { callback } = await authorize(agent);
    fake.queueTokenFault(fault);
    const res = await agent.get(callback).expect(status);
    expect(res.body.code).toBe(code);
    expect((await agent.get('/test/session').expect(200)).body.wps?.tokens).toBeUndefined();
  });

  it('answers wps_timeout when WPS does not answer within timeoutMs', async () => {
    t = createTestApp(fake, { timeoutMs: 300 });
    const agent = request.agent(t.app);
    const { callback } = await authorize(agent);
    fake.queueTokenFault({ hang: true });
    const res = await agent.get(callback).expect(504);
    expect(res.body).toEqual({
      code: 'wps_timeout',
      status: 504,
      message: 'WPS did not answer the code exchange within 300 ms',
    });
  });

  it('answers wps_unavailable when WPS cannot be reached', async () => {
    const gone = await startFakeWps({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET });
    const url = gone.url;
    await gone.close();
    t = createTestApp({ ...fake, url });
    const agent = request.agent(t.app);
    await agent.get('/auth/wps/login').expect(302);
    const s = await agent.get('/test/session').expect(200);
    const state = s.body.wps.pending[0].state as string;
    const res = await agent.get(`/auth/wps/callback?code=kso_ac_x.y&state=${state}`).expect(502);
    expect(res.body).toEqual({
      code: 'wps_unavailable',
      status: 502,
      message: 'WPS could not be reached for the code exchange (ECONNREFUSED)',
    });
  });
});

describe('returnTo', () => {
  it.each([
    '//evil.example/x',
    '/\\evil.example',
    'https://evil.example',
    '/%2F%2Fevil.example',
    'javascript:alert(1)',
    '%09/evil',
  ])('never leaves the origin for %s', async (value) => {
    const agent = request.agent(t.app);
    const landed = await signIn(agent, `?returnTo=${encodeURIComponent(value)}`);
    expect(landed).toBe('/');
  });

  it('falls back to defaultReturnTo', async () => {
    t = createTestApp(fake, { defaultReturnTo: '/home' });
    const agent = request.agent(t.app);
    expect(await signIn(agent, '?returnTo=//evil')).toBe('/home');
  });

  it('ignores an array returnTo', async () => {
    const agent = request.agent(t.app);
    expect(await signIn(agent, '?returnTo=/a&returnTo=/b')).toBe('/');
  });
});
