import { createHash, createHmac } from 'node:crypto';
import { Readable } from 'node:stream';
import request from 'supertest';
import { createWpsAppClient, WpsApiError } from '../lib';
import { signKso1 } from '../lib/wps/signing';
import type { RecordedRequest } from '../lib/testing';
import { createApiTestApp } from './helpers/api-app';
import { CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, signIn } from './helpers/app';
import { useFakeWps } from './helpers/fake-wps';

/**
 * KSO-1 written out from the platform's sentence, with node:crypto only (not with lib/wps/signing.ts):
 * HMAC-SHA256(key=APPKEY, "KSO-1" + METHOD + REQUEST_URI + CONTENT_TYPE + X-Kso-Date + sha256hex(body)), hex,
 * where the body hash is the empty string when there is no body.
 */
function specSignature(
  appKey: string,
  method: string,
  uri: string,
  contentType: string,
  date: string,
  body: string,
): string {
  const bodyHash = body === '' ? '' : createHash('sha256').update(body, 'utf8').digest('hex');
  return createHmac('sha256', appKey)
    .update('KSO-1' + method + uri + contentType + date + bodyHash)
    .digest('hex');
}

const RFC_1123 =
  /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/;
const DATE = 'Wed, 01 Jan 2025 08:00:00 GMT';
const KEY = { appId: 'AK-test-id', appKey: 'SK-test-key' };

describe('signKso1 (known answers)', () => {
  it('signs a POST with a JSON body and a query exactly as the spec string says', () => {
    const body = '{"name":"会议","n":1}';
    const uri = '/v7/echo?x=1&y=%E4%B8%AD';
    const headers = signKso1(
      KEY,
      { method: 'post', requestUri: uri, contentType: 'application/json', body },
      new Date(DATE),
    );
    const hex = specSignature(KEY.appKey, 'POST', uri, 'application/json', DATE, body);
    expect(headers).toEqual({ 'X-Kso-Date': DATE, 'X-Kso-Authorization': `KSO-1 AK-test-id:${hex}` });
    // Frozen vector: catches a change of both the library and the test's reading of the spec.
    expect(hex).toBe('705b0083eda9efbd10ad9654535250dcb32168ba62786d28605b8a6d1641a3e5');
  });

  it('hashes a Buffer body like the same string', () => {
    const text = { method: 'PUT', requestUri: '/v7/x', contentType: 'text/plain', body: 'héllo' };
    const bytes = { ...text, body: Buffer.from('héllo', 'utf8') };
    expect(signKso1(KEY, bytes, new Date(DATE))).toEqual(signKso1(KEY, text, new Date(DATE)));
  });

  it('uses an empty body hash (not sha256 of nothing) when there is no body', () => {
    const hex = specSignature(KEY.appKey, 'GET', '/v7/users/current', '', DATE, '');
    expect(hex).toBe('732c0e1cc8736051bb4bf57cb57a926cc302daae6b857a51910b9a9c8fec6e37');
    for (const body of [undefined, '', new Uint8Array(0)]) {
      const headers = signKso1(
        KEY,
        { method: 'GET', requestUri: '/v7/users/current', contentType: '', body },
        new Date(DATE),
      );
      expect(headers['X-Kso-Authorization']).toBe(`KSO-1 AK-test-id:${hex}`);
    }
    const withEmptyHash = createHmac('sha256', KEY.appKey)
      .update(`KSO-1GET/v7/users/current${DATE}${createHash('sha256').update('').digest('hex')}`)
      .digest('hex');
    expect(hex).not.toBe(withEmptyHash);
  });

  it('dates the signature now, in RFC 1123 form, by default', () => {
    const { 'X-Kso-Date': date } = signKso1(KEY, { method: 'GET', requestUri: '/', contentType: '', body: undefined });
    expect(date).toMatch(RFC_1123);
    expect(Math.abs(Date.parse(date) - Date.now())).toBeLessThan(2000);
  });
});

describe('signRequests against the strict fake', () => {
  const fake = useFakeWps({
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    redirectUris: [REDIRECT_URI],
    requireSignature: true,
  });

  /** Recompute the signature of a recorded request without a query string, from the spec. */
  function expectSignedAsSpec(sent: RecordedRequest | undefined): void {
    const date = String(sent?.headers['x-kso-date']);
    expect(date).toMatch(RFC_1123);
    const hex = specSignature(
      CLIENT_SECRET,
      sent?.method ?? '',
      sent?.path ?? '',
      String(sent?.headers['content-type'] ?? ''),
      date,
      sent?.body ?? '',
    );
    expect(sent?.headers['x-kso-authorization']).toBe(`KSO-1 ${CLIENT_ID}:${hex}`);
  }

  it('signs the profile fetch at login, and GET and POST-with-JSON calls; the fake verifies each', async () => {
    const t = createApiTestApp(fake, { signRequests: true });
    const agent = request.agent(t.app);
    await signIn(agent);
    await agent.get('/wps/user').expect(200, {
      user: {
        id: 'fake-user-1',
        name: 'Demo User',
        avatar: 'https://example.invalid/avatar.png',
        companyId: 'fake-company-1',
      },
    });
    expectSignedAsSpec(fake.apiRequests('/v7/users/current')[0]);

    const ping = await agent.get('/wps/ping?q=a%20b&lang=%E4%B8%AD').expect(200);
    expect(ping.body.data.data.query).toEqual({ q: 'a b', lang: '中' });

    const echo = await agent
      .post('/wps/echo')
      .send({ title: '周会', at: [9, 30] })
      .expect(200);
    expect(echo.body.data).toEqual({ title: '周会', at: [9, 30] });
    expectSignedAsSpec(fake.apiRequests('/v7/echo')[0]);
    expect(fake.apiRequests('/v7/echo')[0]?.headers['content-type']).toBe('application/json');
    expect(t.errors).toEqual([]);
  });

  it('is refused by the strict fake when signing is off (after one refresh and retry, as for any 401)', async () => {
    const t = createApiTestApp(fake, { fetchUser: false });
    const agent = request.agent(t.app);
    await signIn(agent);
    fake.reset();
    const res = await agent.get('/wps/ping').expect(502);
    expect(res.body.message).toBe(
      'WPS refused the access token for GET /v7/ping even after a refresh: invalid_signature (HTTP 401, code 40100002)',
    );
    expect(fake.apiRequests().map((r) => r.headers['x-kso-authorization'])).toEqual([undefined, undefined]);
  });

  it('signs app-client calls too, and refuses a body it cannot sign', async () => {
    const app = createWpsAppClient({
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      baseUrl: fake.url,
      signRequests: true,
    });
    const ping = await app.api.get('/v7/ping', { params: { page: 2 } });
    expect(ping.data.data).toEqual({ kind: 'app', query: { page: '2' } });
    const echo = await app.api.post('/v7/echo', '{"raw":true}', {
      headers: { 'Content-Type': 'application/json; charset=utf-8' },
    });
    expect(echo.data.data).toEqual({ raw: true });
    expectSignedAsSpec(fake.apiRequests('/v7/echo')[0]);

    await expect(app.api.post('/v7/echo', Readable.from(['{}']))).rejects.toThrow(
      new TypeError(
        'express-wps-oauth: signRequests needs the whole request body up front to sign it; a stream, FormData or ' +
          'Blob body cannot be signed. Send a JSON object, a string or a Buffer.',
      ),
    );
    expect(fake.apiRequests('/v7/echo')).toHaveLength(1);
  });

  it('surfaces a refused signature as a WpsApiError without the key or token', async () => {
    const app = createWpsAppClient({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, baseUrl: fake.url });
    const err = (await app.api.get('/v7/ping').catch((e: unknown) => e)) as WpsApiError;
    expect(err).toBeInstanceOf(WpsApiError);
    expect([err.status, err.wpsStatus, err.wpsCode, err.wpsMsg]).toEqual([502, 401, 40100002, 'invalid_signature']);
    const token = await app.getAppAccessToken();
    expect(JSON.stringify(err) + err.stack).not.toContain(token);
    expect(JSON.stringify(err) + err.stack).not.toContain(CLIENT_SECRET);
  });
});
