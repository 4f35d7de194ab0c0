import { inspect } from 'node:util';
import axios from 'axios';
import request from 'supertest';
import { WpsApiError, WpsAuthError } from '../lib';
import { createApiTestApp } from './helpers/api-app';
import { CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, signIn, type TestApp } from './helpers/app';
import { useFakeWps } from './helpers/fake-wps';

type Agent = ReturnType<typeof request.agent>;

const fake = useFakeWps({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUris: [REDIRECT_URI] });
let t: TestApp;

beforeEach(() => {
  t = createApiTestApp(fake, { fetchUser: false, timeoutMs: 1000 });
});

async function signedIn(): Promise<Agent> {
  const agent = request.agent(t.app);
  await signIn(agent);
  fake.reset();
  return agent;
}

async function storedTokens(agent: Agent): Promise<{ accessToken: string; refreshToken: string; expiresAt: number }> {
  return (await agent.get('/test/session').expect(200)).body.wps.tokens;
}

function bearers(path = '/v7/ping'): (string | undefined)[] {
  return fake.apiRequests(path).map((r) => r.headers.authorization as string | undefined);
}

/** Everything a log line, a JSON error body or a debugger could show of `err`. */
function everyView(err: unknown): string {
  const e = err as Error;
  return [e.message, e.stack, JSON.stringify(err), inspect(err, { depth: 10, showHidden: true })].join('\n');
}

function lastError(): unknown {
  expect(t.errors).toHaveLength(1);
  return t.errors[0];
}

describe('req.wps.api: bearer and freshness', () => {
  it('adds the session access token as a bearer and returns the answer', async () => {
    const agent = await signedIn();
    const { accessToken } = await storedTokens(agent);
    const res = await agent.get('/wps/ping?a=b%20c&n=1').expect(200);
    expect(res.body.status).toBe(200);
    expect(res.body.data).toEqual({ code: 0, msg: 'success', data: { kind: 'user', query: { a: 'b c', n: '1' } } });
    expect(bearers()).toEqual([`Bearer ${accessToken}`]);
    const [sent] = fake.apiRequests();
    expect(sent?.headers.accept).toContain('application/json');
    expect(sent?.headers['x-kso-authorization']).toBeUndefined();
    expect(fake.tokenRequests()).toHaveLength(0);
    // The response config handed to the app has no token either.
    expect(res.body.config).not.toContain(accessToken);
  });

  it('POSTs a JSON body', async () => {
    const agent = await signedIn();
    const res = await agent
      .post('/wps/echo')
      .send({ hello: 'wps', list: [1, 2] })
      .expect(200);
    expect(res.body).toEqual({ code: 0, msg: 'success', data: { hello: 'wps', list: [1, 2] } });
    const [sent] = fake.apiRequests('/v7/echo');
    expect(sent?.headers['content-type']).toBe('application/json');
    expect(JSON.parse(sent?.body ?? '')).toEqual({ hello: 'wps', list: [1, 2] });
  });

  it('is one instance per request, created on first use', async () => {
    const agent = await signedIn();
    await agent.get('/wps/same-instance').expect(200, { same: true });
  });

  it('refreshes an expired token before the call, and calls with the new one', async () => {
    const agent = await signedIn();
    const before = await storedTokens(agent);
    await agent.post('/test/expire').expect(200);
    await agent.get('/wps/ping').expect(200);
    const after = await storedTokens(agent);

    expect(after.accessToken).not.toBe(before.accessToken);
    expect(fake.requests.map((r) => r.path)).toEqual(['/oauth2/token', '/v7/ping']);
    expect(fake.tokenRequests('refresh_token')[0]?.form.refresh_token).toBe(before.refreshToken);
    expect(bearers()).toEqual([`Bearer ${after.accessToken}`]);
  });

  it('rejects with login_required, without calling WPS, when signed out', async () => {
    const res = await request(t.app).get('/wps/ping').expect(401);
    expect(res.body).toMatchObject({ name: 'WpsAuthError', code: 'login_required' });
    expect(lastError()).toBeInstanceOf(WpsAuthError);
    expect(fake.requests).toHaveLength(0);
  });
});

describe('req.wps.api: a 401 from WPS', () => {
  const INVALID_TOKEN = { status: 401, body: { code: 40100001, msg: 'invalid_token' } };

  it('refreshes exactly once and retries exactly once with the new token', async () => {
    const agent = await signedIn();
    const before = await storedTokens(agent);
    fake.queueApiFault(INVALID_TOKEN);
    const res = await agent.get('/wps/ping').expect(200);
    const after = await storedTokens(agent);

    expect(res.body.data.code).toBe(0);
    expect(fake.tokenRequests()).toHaveLength(1);
    expect(fake.tokenRequests('refresh_token')[0]?.form.refresh_token).toBe(before.refreshToken);
    expect(bearers()).toEqual([`Bearer ${before.accessToken}`, `Bearer ${after.accessToken}`]);
    expect(after.accessToken).not.toBe(before.accessToken);
    expect(fake.requests.map((r) => r.path)).toEqual(['/v7/ping', '/oauth2/token', '/v7/ping']);
  });

  it('recovers when WPS stops accepting a token the session still thinks valid', async () => {
    const agent = await signedIn();
    fake.expireAccessTokens();
    await agent.get('/wps/ping').expect(200);
    expect(fake.apiRequests()).toHaveLength(2);
    expect(fake.tokenRequests('refresh_token')).toHaveLength(1);
  });

  it('shares one refresh between concurrent calls that both got a 401', async () => {
    const agent = await signedIn();
    fake.queueApiFault(INVALID_TOKEN, 2);
    await agent.get('/wps/ping-twice').expect(200, [200, 200]);
    expect(fake.tokenRequests()).toHaveLength(1);
    const after = await storedTokens(agent);
    expect(bearers().slice(2)).toEqual([`Bearer ${after.accessToken}`, `Bearer ${after.accessToken}`]);
  });

  it('fails with a clear WpsApiError when the retry gets a 401 too, after one refresh only', async () => {
    const agent = await signedIn();
    const before = await storedTokens(agent);
    fake.queueApiFault(INVALID_TOKEN, 2);
    const res = await agent.get('/wps/ping').expect(502);
    const after = await storedTokens(agent);

    const message =
      'WPS refused the access token for GET /v7/ping even after a refresh: invalid_token (HTTP 401, code 40100001)';
    expect(res.body).toEqual({ name: 'WpsApiError', code: 'wps_api_error', status: 502, message });
    const err = lastError() as WpsApiError;
    expect(err).toBeInstanceOf(WpsApiError);
    expect([err.status, err.wpsStatus, err.wpsCode, err.wpsMsg, err.method, err.path]).toEqual([
      502,
      401,
      40100001,
      'invalid_token',
      'GET',
      '/v7/ping',
    ]);
    expect(fake.tokenRequests()).toHaveLength(1);
    expect(fake.apiRequests()).toHaveLength(2);
    for (const token of [before.accessToken, after.accessToken, before.refreshToken, after.refreshToken]) {
      expect(everyView(err)).not.toContain(token);
    }
  });

  it('asks the user to sign in again when the refresh token is refused too', async () => {
    const agent = await signedIn();
    fake.queueApiFault(INVALID_TOKEN);
    fake.queueTokenFault({ status: 400, body: { code: 40000003, msg: 'invalid_grant' } });
    const res = await agent.get('/wps/ping').expect(401);
    expect(res.body).toMatchObject({ code: 'login_required' });
    expect(fake.apiRequests()).toHaveLength(1);
    expect((await agent.get('/test/session').expect(200)).body.wps.tokens).toBeUndefined();
  });
});

describe('req.wps.api: failures become WpsApiError', () => {
  it.each([
    [
      'a { code ≠ 0 } envelope with HTTP 200',
      { status: 200, body: { code: 40300001, msg: 'permission_denied', debug: { desc: 'scope not granted' } } },
      { status: 200, wpsCode: 40300001, wpsMsg: 'permission_denied' },
      'WPS answered GET /v7/ping with an error: permission_denied (HTTP 200, code 40300001)',
    ],
    [
      'an envelope with a non-2xx status',
      { status: 403, body: { code: 40000005, msg: 'invalid_scope' } },
      { status: 403, wpsCode: 40000005, wpsMsg: 'invalid_scope' },
      'WPS answered GET /v7/ping with an error: invalid_scope (HTTP 403, code 40000005)',
    ],
    [
      'a non-JSON 502',
      { status: 502, body: '<html>Bad gateway</html>' },
      { status: 502, wpsCode: undefined, wpsMsg: undefined },
      'WPS answered GET /v7/ping with an error: no message (HTTP 502)',
    ],
  ])('%s', async (_, fault, expected, message) => {
    const agent = await signedIn();
    const { accessToken, refreshToken } = await storedTokens(agent);
    fake.queueApiFault(fault);
    await agent.get('/wps/ping?secret=query-value');
    const err = lastError() as WpsApiError;
    expect(err).toBeInstanceOf(WpsApiError);
    expect(err.message).toBe(message);
    const { status: wpsStatus, ...wpsEnvelope } = expected;
    expect({
      code: err.code,
      status: err.status,
      wpsStatus: err.wpsStatus,
      wpsCode: err.wpsCode,
      wpsMsg: err.wpsMsg,
    }).toEqual({
      code: 'wps_api_error',
      status: 502,
      wpsStatus,
      ...wpsEnvelope,
    });
    expect([err.method, err.path]).toEqual(['GET', '/v7/ping']);
    expect(JSON.parse(JSON.stringify(err))).toEqual({
      name: 'WpsApiError',
      code: 'wps_api_error',
      message,
      method: 'GET',
      path: '/v7/ping',
      status: 502,
      wpsStatus: expected.status,
      ...(expected.wpsCode !== undefined && { wpsCode: expected.wpsCode, wpsMsg: expected.wpsMsg }),
    });
    const views = everyView(err);
    for (const secret of [accessToken, refreshToken, CLIENT_SECRET, 'query-value', 'Bearer'])
      expect(views).not.toContain(secret);
    expect(fake.tokenRequests()).toHaveLength(0);
  });

  it('redacts the token should WPS echo it in msg', async () => {
    const agent = await signedIn();
    const { accessToken } = await storedTokens(agent);
    fake.queueApiFault({ status: 400, body: { code: 40000001, msg: `bad token ${accessToken}` } });
    await agent.get('/wps/ping').expect(502);
    const err = lastError() as WpsApiError;
    expect(err.wpsMsg).toBe('bad token [redacted]');
    expect(everyView(err)).not.toContain(accessToken);
  });

  it.each([
    [
      'no answer within timeoutMs',
      { hang: true } as const,
      'wps_timeout',
      'WPS did not answer GET /v7/ping within 500 ms',
    ],
    [
      'a reset connection',
      { reset: true } as const,
      'wps_unavailable',
      'WPS could not be reached for GET /v7/ping (ECONNRESET)',
    ],
    [
      'a body over maxResponseBytes',
      { bodyBytes: 4096 } as const,
      'wps_unavailable',
      'WPS answered GET /v7/ping with a body over 1024 bytes (maxResponseBytes); it was refused',
    ],
  ])('%s', async (_, fault, code, message) => {
    t = createApiTestApp(fake, { fetchUser: false, timeoutMs: 500, maxResponseBytes: 1024 });
    const agent = await signedIn();
    const { accessToken } = await storedTokens(agent);
    fake.queueApiFault(fault);
    await agent.get('/wps/ping').expect(code === 'wps_timeout' ? 504 : 502);
    const err = lastError() as WpsApiError;
    expect(err).toBeInstanceOf(WpsApiError);
    expect([err.code, err.wpsStatus, err.method, err.path, err.message]).toEqual([
      code,
      undefined,
      'GET',
      '/v7/ping',
      message,
    ]);
    expect(everyView(err)).not.toContain(accessToken);
  });

  it('keeps a cancellation by the app a CanceledError, without the token', async () => {
    const agent = await signedIn();
    const { accessToken } = await storedTokens(agent);
    fake.queueApiFault({ hang: true });
    await agent.get('/wps/cancel').expect(500);
    const err = lastError();
    expect(axios.isCancel(err)).toBe(true);
    expect(everyView(err)).not.toContain(accessToken);
  });

  it('refuses to send the token to another origin', async () => {
    const agent = await signedIn();
    await agent.get(`/wps/get?path=${encodeURIComponent('http://127.0.0.1:9/v7/ping')}`).expect(500);
    const err = lastError() as Error;
    expect(err).toBeInstanceOf(TypeError);
    expect(err.message).toBe(
      `express-wps-oauth: the WPS API sends the access token only to ${fake.url}; ` +
        "pass a path such as '/v7/users/current', not a URL of another origin",
    );
    expect(fake.requests).toHaveLength(0);
  });

  it('refuses a URL it cannot build, before getting a token', async () => {
    const agent = await signedIn();
    await agent.get('/wps/get?path=http:evil').expect(500);
    const err = lastError() as Error;
    expect(err).toBeInstanceOf(TypeError);
    expect(err.message).toBe('express-wps-oauth: the WPS API could not build a URL for this GET request');
    expect(fake.requests).toHaveLength(0);
  });

  it('turns a body that is not the JSON it claims into a WpsApiError', async () => {
    const agent = await signedIn();
    fake.queueApiFault({ malformedJson: true });
    // Lenient JSON parsing (axios's default) hands the text over; asking for JSON strictly fails cleanly.
    const lenient = await agent.get('/wps/get?path=/v7/ping').expect(200);
    expect(lenient.body).toBe('{"access_token": "abc", ');
    fake.queueApiFault({ malformedJson: true });
    await agent.get('/wps/get?path=/v7/ping&strict=1').expect(502);
    const err = lastError() as WpsApiError;
    expect(err).toBeInstanceOf(WpsApiError);
    expect([err.code, err.status, err.wpsStatus, err.path]).toEqual(['wps_unavailable', 502, 200, '/v7/ping']);
    expect(err.message).toBe('WPS answered GET /v7/ping with a body that could not be read (ERR_BAD_RESPONSE)');
  });
});
