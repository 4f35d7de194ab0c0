import { inspect } from 'node:util';
import { createWpsAppClient, systemClock, WpsApiError, WpsAuthError } from '../lib';
import { resolveAppClientConfig } from '../lib/config';
import { createTestClock, startFakeWps } from '../lib/testing';
import { CLIENT_ID, CLIENT_SECRET } from './helpers/app';
import { until, useFakeWps } from './helpers/fake-wps';

const fake = useFakeWps({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET });

function client(options: Parameters<typeof createWpsAppClient>[0] = {}) {
  return createWpsAppClient({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, baseUrl: fake.url, ...options });
}

describe('getAppAccessToken', () => {
  it('asks once with exactly the three client_credentials fields, then serves the cached token', async () => {
    const app = client();
    const tokens: string[] = [];
    for (let i = 0; i < 10; i++) tokens.push(await app.getAppAccessToken());
    expect(new Set(tokens).size).toBe(1);
    expect(tokens[0]).toMatch(/^fake_at_/);
    const calls = fake.tokenRequests();
    expect(calls).toHaveLength(1);
    expect(calls[0]?.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(calls[0]?.form).toEqual({
      grant_type: 'client_credentials',
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
    });
  });

  it('makes one token request for 50 concurrent callers', async () => {
    const app = client();
    fake.queueTokenFault({ delayMs: 100 });
    const tokens = await Promise.all(Array.from({ length: 50 }, () => app.getAppAccessToken()));
    expect(new Set(tokens).size).toBe(1);
    expect(fake.tokenRequests()).toHaveLength(1);
  });

  it('gets a new token refreshSkewSeconds before expiry, and keeps the old one while WPS is down', async () => {
    const clock = createTestClock();
    const timed = await startFakeWps({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, clock });
    const app = client({ refreshSkewSeconds: 60, baseUrl: timed.url, clock });
    const first = await app.getAppAccessToken();
    clock.advance(7200_000 - 61_000);
    expect(await app.getAppAccessToken()).toBe(first);
    expect(timed.tokenRequests()).toHaveLength(1);

    clock.advance(2_000);
    // Inside the skew: a new token is due; WPS failing now must not cost the still-valid one.
    timed.queueTokenFault({ status: 503, body: 'down' });
    expect(await app.getAppAccessToken()).toBe(first);
    const second = await app.getAppAccessToken();
    expect(second).not.toBe(first);
    expect(timed.tokenRequests()).toHaveLength(3);
    expect(await app.getAppAccessToken()).toBe(second);
    expect(timed.tokenRequests()).toHaveLength(3);
    // Past its expiry the old token is never served, even with WPS down.
    clock.advance(7200_000);
    timed.queueTokenFault({ status: 503, body: 'down' });
    await expect(app.getAppAccessToken()).rejects.toMatchObject({ code: 'wps_unavailable' });
    await timed.close();
  });

  it('caps the skew at half the token lifetime, so a short-lived token is still cached', async () => {
    fake.setOptions({ accessTokenTtlSeconds: 2 });
    const app = client({ refreshSkewSeconds: 60 });
    const first = await app.getAppAccessToken();
    expect(await app.getAppAccessToken()).toBe(first);
    expect(fake.tokenRequests()).toHaveLength(1);
  });

  it('rejects wrong credentials with wps_rejected, never showing the secret', async () => {
    const secret = 'wrong-secret-DO-NOT-LEAK-91ab';
    const app = client({ clientSecret: secret });
    const err = (await app.getAppAccessToken().catch((e: unknown) => e)) as WpsAuthError;
    expect(err).toBeInstanceOf(WpsAuthError);
    expect([err.code, err.status, err.wpsCode]).toEqual(['wps_rejected', 400, 40000002]);
    expect(err.message).toBe('WPS rejected the app token request: invalid_client (HTTP 401, code 40000002)');
    expect(inspect(err, { showHidden: true }) + JSON.stringify(err)).not.toContain(secret);
    // A failure is not cached: the next call asks again.
    await expect(app.getAppAccessToken()).rejects.toMatchObject({ code: 'wps_rejected' });
    expect(fake.tokenRequests()).toHaveLength(2);
  });

  it('reports a timeout as wps_timeout', async () => {
    const app = client({ timeoutMs: 200 });
    fake.queueTokenFault({ hang: true });
    await expect(app.getAppAccessToken()).rejects.toThrow(
      new WpsAuthError('wps_timeout', 'WPS did not answer the app token request within 200 ms'),
    );
    // On a busy machine the timeout can fire before the fake (in this process) has read the request: wait for it
    // here, or it lands in the next test's record.
    await until(() => fake.tokenRequests().length === 1, 'the hanging token request at the fake');
  });
});

describe('api', () => {
  it('calls the v7 API as the app with the cached bearer', async () => {
    const app = client();
    const a = await app.api.get('/v7/ping');
    const b = await app.api.post('/v7/echo', { n: 1 });
    expect(a.data).toEqual({ code: 0, msg: 'success', data: { kind: 'app', query: {} } });
    expect(b.data.data).toEqual({ n: 1 });
    const token = await app.getAppAccessToken();
    expect(fake.apiRequests().map((r) => r.headers.authorization)).toEqual([`Bearer ${token}`, `Bearer ${token}`]);
    expect(fake.tokenRequests()).toHaveLength(1);
  });

  it('on a 401, gets one new token and retries once', async () => {
    const app = client();
    const first = await app.getAppAccessToken();
    fake.queueApiFault({ status: 401, body: { code: 40100001, msg: 'invalid_token' } });
    const res = await app.api.get('/v7/ping');
    expect(res.status).toBe(200);
    const second = await app.getAppAccessToken();
    expect(second).not.toBe(first);
    expect(fake.apiRequests().map((r) => r.headers.authorization)).toEqual([`Bearer ${first}`, `Bearer ${second}`]);
    expect(fake.tokenRequests()).toHaveLength(2);
  });

  it('fails with a WpsApiError when the retry gets a 401 too, or WPS answers code ≠ 0', async () => {
    const app = client();
    fake.queueApiFault({ status: 401, body: { code: 40100001, msg: 'invalid_token' } }, 2);
    await expect(app.api.get('/v7/ping')).rejects.toThrow(
      'WPS refused the access token for GET /v7/ping even after a refresh: invalid_token (HTTP 401, code 40100001)',
    );
    expect(fake.tokenRequests()).toHaveLength(2);

    fake.queueApiFault({ status: 200, body: { code: 40400001, msg: 'not_found' } });
    const err = (await app.api.delete('/v7/ping').catch((e: unknown) => e)) as WpsApiError;
    expect(err).toBeInstanceOf(WpsApiError);
    expect(err.toJSON()).toEqual({
      name: 'WpsApiError',
      code: 'wps_api_error',
      message: 'WPS answered DELETE /v7/ping with an error: not_found (HTTP 200, code 40400001)',
      method: 'DELETE',
      path: '/v7/ping',
      status: 502,
      wpsStatus: 200,
      wpsCode: 40400001,
      wpsMsg: 'not_found',
    });
  });

  it('a user route refuses an app token: the user endpoint answers 401 even after a new token', async () => {
    const app = client();
    const err = (await app.api.get('/v7/users/current').catch((e: unknown) => e)) as WpsApiError;
    expect([err.code, err.status, err.wpsStatus, err.wpsMsg]).toEqual(['wps_api_error', 502, 401, 'invalid_token']);
    expect(fake.tokenRequests()).toHaveLength(2);
  });
});

describe('createWpsAppClient options', () => {
  it('fills defaults and reads the credentials from the environment', () => {
    expect(resolveAppClientConfig({}, { WPS_CLIENT_ID: 'env-id', WPS_CLIENT_SECRET: 'env-secret' })).toEqual({
      clientId: 'env-id',
      clientSecret: 'env-secret',
      baseUrl: 'https://openapi.wps.cn',
      timeoutMs: 10_000,
      refreshSkewMs: 60_000,
      maxResponseBytes: 1024 * 1024,
      signRequests: false,
      clock: systemClock,
    });
    expect(
      resolveAppClientConfig({ clientId: 'a', clientSecret: 'b', baseUrl: 'http://127.0.0.1:1/' }, {}).baseUrl,
    ).toBe('http://127.0.0.1:1');
  });

  it('lists every problem by name, never the secret', () => {
    const secret = { value: 'super-secret-value-123' };
    expect(() =>
      resolveAppClientConfig(
        {
          clientSecret: 42 as unknown as string,
          baseUrl: 'ftp://x',
          refreshSkewSeconds: -1,
          signRequests: 'yes' as never,
          x: secret,
        } as never,
        {},
      ),
    ).toThrow(
      new TypeError(
        'express-wps-oauth: invalid createWpsAppClient options:\n' +
          '  - clientId is required (or set WPS_CLIENT_ID)\n' +
          '  - clientSecret must be a non-empty string\n' +
          '  - baseUrl must be an http(s) origin\n' +
          '  - refreshSkewSeconds must be greater than or equal to 0\n' +
          '  - signRequests must be a boolean\n' +
          '  - x is not allowed',
      ),
    );
    expect(() => createWpsAppClient({ clientId: 'id', clientSecret: 'super-secret-value-123', timeoutMs: 0 })).toThrow(
      /^express-wps-oauth: invalid createWpsAppClient options:\n {2}- timeoutMs must be greater than or equal to 1$/,
    );
  });

  it('refuses a non-object', () => {
    expect(() => createWpsAppClient('id' as never)).toThrow(
      new TypeError(
        'express-wps-oauth: createWpsAppClient(options) expects an options object, e.g. createWpsAppClient({ clientId, clientSecret })',
      ),
    );
  });
});
