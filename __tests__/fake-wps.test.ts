import { createHash, createHmac } from 'node:crypto';
import { request, type IncomingHttpHeaders } from 'node:http';
import { createTestClock, startFakeWps, type FakeWps } from '../lib/testing';
import { until, useFakeWps } from './helpers/fake-wps';

interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  chunks: number;
  elapsedMs: number;
}

interface SendOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  signal?: AbortSignal;
}

const CLIENT_ID = 'test-client-id';
const CLIENT_SECRET = 'test-client-secret';
const CALLBACK = 'http://localhost:3000/auth/callback';
const SCOPE = 'kso.user_base.read,kso.calendar.read';
const FORM_TYPE = 'application/x-www-form-urlencoded';
const JSON_TYPE = 'application/json; charset=utf-8';
const CODE_PATTERN = /^kso_ac_[\w-]{22}\.[\w-]{22}$/;
const ACCESS_PATTERN = /^fake_at_[\w-]{43}$/;
const REFRESH_PATTERN = /^kso_rt_[\w-]{43}$/;

/** One request on a fresh connection (no keep-alive), resolving with the whole body and how it arrived. */
function send(url: string, options: SendOptions = {}): Promise<RawResponse> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: options.method ?? 'GET', headers: options.headers, agent: false, signal: options.signal },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (chunk: Buffer) => parts.push(chunk));
        res.on('error', reject);
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(parts).toString('utf8'),
            chunks: parts.length,
            elapsedMs: Date.now() - started,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

function postForm(fake: FakeWps, path: string, form: Record<string, string> | string, contentType = FORM_TYPE) {
  const body = typeof form === 'string' ? form : new URLSearchParams(form).toString();
  return send(`${fake.url}${path}`, { method: 'POST', headers: { 'Content-Type': contentType }, body });
}

function postToken(fake: FakeWps, form: Record<string, string> | string, contentType = FORM_TYPE) {
  return postForm(fake, '/oauth2/token', form, contentType);
}

function authorize(fake: FakeWps, params: Record<string, string>) {
  return send(`${fake.url}/oauth2/auth?${new URLSearchParams(params).toString()}`);
}

function authParams(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    response_type: 'code',
    client_id: CLIENT_ID,
    redirect_uri: CALLBACK,
    scope: SCOPE,
    state: 'st-1',
    ...overrides,
  };
}

function queryOf(location: string | undefined): URLSearchParams {
  return new URL(location ?? 'http://missing.invalid').searchParams;
}

async function obtainCode(fake: FakeWps, redirectUri = CALLBACK): Promise<string> {
  const res = await authorize(fake, authParams({ redirect_uri: redirectUri }));
  expect(res.status).toBe(302);
  return queryOf(res.headers.location).get('code') ?? '';
}

function exchangeForm(code: string, overrides: Record<string, string> = {}): Record<string, string> {
  return {
    grant_type: 'authorization_code',
    client_id: CLIENT_ID,
    client_secret: CLIENT_SECRET,
    code,
    redirect_uri: CALLBACK,
    ...overrides,
  };
}

function refreshForm(refreshToken: string): Record<string, string> {
  return {
    grant_type: 'refresh_token',
    refresh_token: refreshToken,
    client_id: CLIENT_ID,
    client_secret: CLIENT_SECRET,
  };
}

const appTokenForm = { grant_type: 'client_credentials', client_id: CLIENT_ID, client_secret: CLIENT_SECRET };

function currentUser(fake: FakeWps, accessToken?: string) {
  return send(
    `${fake.url}/v7/users/current`,
    accessToken === undefined ? {} : { headers: { Authorization: `Bearer ${accessToken}` } },
  );
}

function errorBody(code: number, msg: string, desc: string) {
  return { code, msg, debug: { desc } };
}

describe('startFakeWps', () => {
  const fake = useFakeWps({ redirectUris: [CALLBACK, 'https://app.example/cb?tenant=a%20b'] });

  it('listens on 127.0.0.1 and exposes a url without a trailing slash', () => {
    expect(fake.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  describe('GET /oauth2/auth', () => {
    it('redirects to redirect_uri with a fresh code and the state', async () => {
      const res = await authorize(fake, authParams({ state: 'a b&c' }));
      expect(res.status).toBe(302);
      expect(res.headers['cache-control']).toBe('no-store');
      const location = res.headers.location ?? '';
      expect(location.startsWith(`${CALLBACK}?code=`)).toBe(true);
      const query = queryOf(location);
      expect(query.get('code')).toMatch(CODE_PATTERN);
      expect(query.get('state')).toBe('a b&c');
      const second = await authorize(fake, authParams());
      expect(queryOf(second.headers.location).get('code')).not.toBe(query.get('code'));
    });

    it('omits state when none was sent', async () => {
      const params = authParams();
      delete params.state;
      const res = await authorize(fake, params);
      expect(res.status).toBe(302);
      expect([...queryOf(res.headers.location).keys()]).toEqual(['code']);
    });

    it('keeps the query the redirect_uri already has, byte for byte', async () => {
      const res = await authorize(
        fake,
        authParams({ redirect_uri: 'https://app.example/cb?tenant=a%20b', state: 's' }),
      );
      expect(res.headers.location).toMatch(
        /^https:\/\/app\.example\/cb\?tenant=a%20b&code=kso_ac_[\w-]+\.[\w-]+&state=s$/,
      );
    });

    it.each([
      ['response_type is missing', { response_type: '' }, "'response_type' parameter is missing"],
      ['response_type is not code', { response_type: 'token' }, "'response_type' must be 'code'"],
      ['client_id is missing', { client_id: '' }, "'client_id' parameter is missing"],
      ['client_id is unknown', { client_id: 'someone-else' }, "'client_id' parameter is unknown"],
      ['redirect_uri is missing', { redirect_uri: '' }, "'redirect_uri' parameter is missing"],
      [
        'redirect_uri is relative',
        { redirect_uri: '/auth/callback' },
        "'redirect_uri' parameter must be an absolute http(s) URL without a fragment",
      ],
      [
        'redirect_uri is not http(s)',
        { redirect_uri: 'ftp://localhost/cb' },
        "'redirect_uri' parameter must be an absolute http(s) URL without a fragment",
      ],
      [
        'redirect_uri is not a parsable URL',
        { redirect_uri: 'http://[bad' },
        "'redirect_uri' parameter must be an absolute http(s) URL without a fragment",
      ],
      [
        'redirect_uri has a fragment',
        { redirect_uri: `${CALLBACK}#x` },
        "'redirect_uri' parameter must be an absolute http(s) URL without a fragment",
      ],
      [
        'redirect_uri is not registered',
        { redirect_uri: 'http://localhost:3000/other' },
        "'redirect_uri' parameter does not match any registered callback",
      ],
      [
        'redirect_uri differs by a trailing slash',
        { redirect_uri: `${CALLBACK}/` },
        "'redirect_uri' parameter does not match any registered callback",
      ],
      ['scope is missing', { scope: '' }, "'scope' parameter is missing"],
      [
        'scope is space-separated',
        { scope: 'kso.user_base.read kso.calendar.read' },
        "'scope' parameter must be comma-separated dotted names without spaces",
      ],
      [
        'scope has a space after a comma',
        { scope: 'kso.user_base.read, kso.calendar.read' },
        "'scope' parameter must be comma-separated dotted names without spaces",
      ],
      [
        'scope has an undotted name',
        { scope: 'openid' },
        "'scope' parameter must be comma-separated dotted names without spaces",
      ],
      [
        'scope ends with a comma',
        { scope: 'kso.user_base.read,' },
        "'scope' parameter must be comma-separated dotted names without spaces",
      ],
    ])('answers 400 invalid_request when %s', async (_, overrides, desc) => {
      const res = await authorize(fake, authParams(overrides));
      expect(res.status).toBe(400);
      expect(res.headers['content-type']).toBe(JSON_TYPE);
      expect(JSON.parse(res.body)).toEqual(errorBody(40000001, 'invalid_request', desc));
    });

    it('answers 400 invalid_request when a parameter is repeated', async () => {
      const res = await send(`${fake.url}/oauth2/auth?${new URLSearchParams(authParams()).toString()}&state=again`);
      expect(res.status).toBe(400);
      expect(JSON.parse(res.body)).toEqual(errorBody(40000001, 'invalid_request', "'state' parameter is repeated"));
    });

    it('accepts any http(s) redirect_uri when no redirectUris are registered', async () => {
      const open = await startFakeWps();
      try {
        const res = await authorize(open, authParams({ redirect_uri: 'https://anything.example:8443/x?y=1' }));
        expect(res.status).toBe(302);
        expect(res.headers.location).toMatch(/^https:\/\/anything\.example:8443\/x\?y=1&code=kso_ac_/);
      } finally {
        await open.close();
      }
    });
  });

  describe('consent page', () => {
    const evilId = `app<&>"'`;
    const page = useFakeWps({ consent: 'page', clientId: evilId, user: { name: '<script>alert(1)</script>' } });

    async function openPage(state?: string): Promise<{ html: string; requestId: string }> {
      const params = { ...authParams({ client_id: evilId }), ...(state === undefined ? {} : { state }) };
      if (state === undefined) delete params.state;
      const res = await authorize(page, params);
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
      const requestId = /name="request_id" value="([^"]+)"/.exec(res.body)?.[1] ?? '';
      return { html: res.body, requestId };
    }

    it('shows the user, the escaped client_id, the scopes and Allow/Deny forms', async () => {
      const { html, requestId } = await openPage('s1');
      expect(html).toContain('<title>WPS 365 — Authorize</title>');
      expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
      expect(html).not.toContain('<script>');
      expect(html).toContain('<code id="wps-client-id">app&lt;&amp;&gt;&quot;&#39;</code>');
      expect(html).toContain('<li>kso.user_base.read</li><li>kso.calendar.read</li>');
      expect(html).toMatch(
        /<form method="post" action="\/oauth2\/auth\/decision">.*name="decision" value="allow".*<button type="submit" id="wps-allow">Allow<\/button><\/form>/,
      );
      expect(html).toMatch(
        /<form method="post" action="\/oauth2\/auth\/decision">.*name="decision" value="deny".*<button type="submit" id="wps-deny">Deny<\/button><\/form>/,
      );
      expect(requestId).toMatch(/^[\w-]{22}$/);
    });

    it('Allow redirects with a code that can be exchanged', async () => {
      const { requestId } = await openPage('s2');
      const res = await postForm(page, '/oauth2/auth/decision', { request_id: requestId, decision: 'allow' });
      expect(res.status).toBe(302);
      const query = queryOf(res.headers.location);
      expect(query.get('state')).toBe('s2');
      const code = query.get('code') ?? '';
      expect(code).toMatch(CODE_PATTERN);
      const token = await postToken(page, exchangeForm(code, { client_id: evilId }));
      expect(token.status).toBe(200);
    });

    it('Deny redirects with access_denied and the state', async () => {
      const { requestId } = await openPage('s3');
      const res = await postForm(page, '/oauth2/auth/decision', { request_id: requestId, decision: 'deny' });
      expect(res.status).toBe(302);
      expect(res.headers.location).toBe(
        `${CALLBACK}?error=access_denied&error_description=The+user+denied+access&state=s3`,
      );
    });

    it('Deny without a state leaves state out', async () => {
      const { requestId } = await openPage();
      const res = await postForm(page, '/oauth2/auth/decision', { request_id: requestId, decision: 'deny' });
      expect(res.headers.location).toBe(`${CALLBACK}?error=access_denied&error_description=The+user+denied+access`);
    });

    it('a decision is single-use', async () => {
      const { requestId } = await openPage('s4');
      await postForm(page, '/oauth2/auth/decision', { request_id: requestId, decision: 'allow' });
      const again = await postForm(page, '/oauth2/auth/decision', { request_id: requestId, decision: 'allow' });
      expect(again.status).toBe(400);
      expect(JSON.parse(again.body)).toEqual(
        errorBody(40000001, 'invalid_request', "'request_id' is unknown, used or expired"),
      );
    });

    it.each([
      ['decision is neither allow nor deny', { decision: 'maybe' }, FORM_TYPE, "'decision' must be 'allow' or 'deny'"],
      ['decision is missing', { decision: '' }, FORM_TYPE, "'decision' parameter is missing"],
      [
        'the body is not a form',
        { decision: 'allow' },
        'application/json',
        'Content-Type must be application/x-www-form-urlencoded',
      ],
    ])('rejects the decision when %s and keeps the request usable', async (_, overrides, contentType, desc) => {
      const { requestId } = await openPage('s5');
      const res = await postForm(page, '/oauth2/auth/decision', { request_id: requestId, ...overrides }, contentType);
      expect(res.status).toBe(400);
      expect(JSON.parse(res.body)).toEqual(errorBody(40000001, 'invalid_request', desc));
      const ok = await postForm(page, '/oauth2/auth/decision', { request_id: requestId, decision: 'allow' });
      expect(ok.status).toBe(302);
    });

    it('setOptions switches the consent mode at runtime', async () => {
      fake.setOptions({ consent: 'page' });
      const res = await authorize(fake, authParams());
      expect(res.status).toBe(200);
      expect(res.body).toContain('id="wps-allow"');
    });
  });

  describe('POST /oauth2/token with authorization_code', () => {
    it('returns the documented token shape and a working access token', async () => {
      const code = await obtainCode(fake);
      const res = await postToken(fake, exchangeForm(code));
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe(JSON_TYPE);
      expect(res.headers['cache-control']).toBe('no-store');
      const body = JSON.parse(res.body) as Record<string, unknown>;
      expect(Object.keys(body).sort()).toEqual([
        'access_token',
        'expires_in',
        'refresh_expires_in',
        'refresh_token',
        'token_type',
      ]);
      expect(body).toMatchObject({ expires_in: 7200, refresh_expires_in: 2592000, token_type: 'bearer' });
      expect(body.access_token).toMatch(ACCESS_PATTERN);
      expect(body.refresh_token).toMatch(REFRESH_PATTERN);
      const user = await currentUser(fake, String(body.access_token));
      expect(user.status).toBe(200);
      expect(JSON.parse(user.body)).toEqual({
        code: 0,
        msg: 'success',
        data: {
          id: 'fake-user-1',
          user_name: 'Demo User',
          avatar: 'https://example.invalid/avatar.png',
          company_id: 'fake-company-1',
        },
      });
    });

    it('accepts a charset parameter on the content type', async () => {
      const code = await obtainCode(fake);
      const res = await postToken(fake, exchangeForm(code), 'application/x-www-form-urlencoded; charset=UTF-8');
      expect(res.status).toBe(200);
    });

    it('refuses a code used twice with invalid_grant', async () => {
      const code = await obtainCode(fake);
      expect((await postToken(fake, exchangeForm(code))).status).toBe(200);
      const again = await postToken(fake, exchangeForm(code));
      expect(again.status).toBe(400);
      expect(JSON.parse(again.body)).toEqual(
        errorBody(40000003, 'invalid_grant', 'code is unknown, already used or expired'),
      );
    });

    it('refuses an unknown code with invalid_grant', async () => {
      const res = await postToken(fake, exchangeForm('kso_ac_made.up'));
      expect(JSON.parse(res.body)).toMatchObject({ code: 40000003, msg: 'invalid_grant' });
    });

    it.each([
      ['secret', { client_secret: 'wrong' }],
      ['client_id', { client_id: 'wrong' }],
    ])('answers 401 invalid_client for a wrong %s', async (_, overrides) => {
      const code = await obtainCode(fake);
      const res = await postToken(fake, exchangeForm(code, overrides));
      expect(res.status).toBe(401);
      expect(JSON.parse(res.body)).toEqual(
        errorBody(40000002, 'invalid_client', 'client_id or client_secret is wrong'),
      );
    });

    it.each(['client_id', 'client_secret', 'code', 'redirect_uri'])(
      'answers 400 invalid_request when %s is missing',
      async (field) => {
        const form = exchangeForm(await obtainCode(fake));
        delete form[field];
        const res = await postToken(fake, form);
        expect(res.status).toBe(400);
        expect(JSON.parse(res.body)).toEqual(errorBody(40000001, 'invalid_request', `'${field}' parameter is missing`));
      },
    );

    it('answers 400 invalid_request when grant_type is missing or a parameter is repeated', async () => {
      const missing = await postToken(fake, { client_id: CLIENT_ID });
      expect(JSON.parse(missing.body)).toEqual(
        errorBody(40000001, 'invalid_request', "'grant_type' parameter is missing"),
      );
      const code = await obtainCode(fake);
      const repeated = await postToken(fake, `${new URLSearchParams(exchangeForm(code)).toString()}&code=${code}`);
      expect(repeated.status).toBe(400);
      expect(JSON.parse(repeated.body)).toEqual(errorBody(40000001, 'invalid_request', "'code' parameter is repeated"));
    });

    it.each([
      ['JSON', 'application/json'],
      ['no content type', ''],
    ])('answers 400 invalid_request for a %s body', async (_, contentType) => {
      const code = await obtainCode(fake);
      const body = JSON.stringify(exchangeForm(code));
      const res = await send(`${fake.url}/oauth2/token`, {
        method: 'POST',
        headers: contentType ? { 'Content-Type': contentType } : {},
        body,
      });
      expect(res.status).toBe(400);
      expect(JSON.parse(res.body)).toEqual(
        errorBody(40000001, 'invalid_request', 'Content-Type must be application/x-www-form-urlencoded'),
      );
      expect(fake.tokenRequests()[0]?.form).toEqual({});
      expect(fake.tokenRequests()[0]?.body).toBe(body);
    });

    it('refuses a redirect_uri other than the one the code was issued for, without burning the code', async () => {
      const code = await obtainCode(fake);
      const res = await postToken(fake, exchangeForm(code, { redirect_uri: 'https://app.example/cb?tenant=a%20b' }));
      expect(res.status).toBe(400);
      expect(JSON.parse(res.body)).toEqual(
        errorBody(40000003, 'invalid_grant', "'redirect_uri' does not match the one the code was issued for"),
      );
      expect((await postToken(fake, exchangeForm(code))).status).toBe(200);
    });

    it('answers 400 unsupported_grant_type for other grants', async () => {
      const res = await postToken(fake, { grant_type: 'password', client_id: CLIENT_ID });
      expect(res.status).toBe(400);
      expect(JSON.parse(res.body)).toEqual(
        errorBody(40000004, 'unsupported_grant_type', "grant_type 'password' is not supported"),
      );
    });
  });

  describe('POST /oauth2/token with refresh_token', () => {
    it('rotates: the old refresh token dies, the new one works, the old access token stays valid', async () => {
      const first = fake.mintTokens();
      const res = await postToken(fake, refreshForm(first.refresh_token));
      expect(res.status).toBe(200);
      const second = JSON.parse(res.body) as typeof first;
      expect(second.refresh_token).toMatch(REFRESH_PATTERN);
      expect(second.refresh_token).not.toBe(first.refresh_token);
      expect(second.access_token).not.toBe(first.access_token);
      expect(second).toMatchObject({ expires_in: 7200, refresh_expires_in: 2592000, token_type: 'bearer' });

      const replay = await postToken(fake, refreshForm(first.refresh_token));
      expect(replay.status).toBe(400);
      expect(JSON.parse(replay.body)).toEqual(
        errorBody(40000003, 'invalid_grant', 'refresh_token is unknown, expired or already rotated'),
      );

      expect((await postToken(fake, refreshForm(second.refresh_token))).status).toBe(200);
      expect((await currentUser(fake, first.access_token)).status).toBe(200);
    });

    it('lets exactly one of two racing refreshes with the same token win', async () => {
      const { refresh_token } = fake.mintTokens();
      fake.setOptions({ tokenLatencyMs: 50 });
      const results = await Promise.all([
        postToken(fake, refreshForm(refresh_token)),
        postToken(fake, refreshForm(refresh_token)),
      ]);
      expect(results.map((r) => r.status).sort()).toEqual([200, 400]);
    });

    it('keeps the refresh token when rotation is off', async () => {
      fake.setOptions({ rotateRefreshTokens: false, accessTokenTtlSeconds: 60 });
      const { refresh_token } = fake.mintTokens();
      for (let i = 0; i < 2; i++) {
        const res = await postToken(fake, refreshForm(refresh_token));
        expect(res.status).toBe(200);
        const body = JSON.parse(res.body) as Record<string, unknown>;
        expect(body.refresh_token).toBe(refresh_token);
        expect(body.expires_in).toBe(60);
        expect(body.refresh_expires_in).toBeGreaterThanOrEqual(2591999);
        expect(body.refresh_expires_in).toBeLessThanOrEqual(2592000);
      }
    });

    it('checks the client and required fields', async () => {
      const { refresh_token } = fake.mintTokens();
      const wrong = await postToken(fake, { ...refreshForm(refresh_token), client_secret: 'nope' });
      expect(wrong.status).toBe(401);
      const form = refreshForm(refresh_token);
      delete form.refresh_token;
      const missing = await postToken(fake, form);
      expect(JSON.parse(missing.body)).toEqual(
        errorBody(40000001, 'invalid_request', "'refresh_token' parameter is missing"),
      );
      expect((await postToken(fake, refreshForm(refresh_token))).status).toBe(200);
    });

    it('sends refresh_expires_in as a numeric string when asked', async () => {
      const stringy = await startFakeWps({ refreshExpiresInAsString: true, refreshTokenTtlSeconds: 86400 });
      try {
        const code = await obtainCode(stringy);
        const body = JSON.parse((await postToken(stringy, exchangeForm(code))).body) as Record<string, unknown>;
        expect(body.refresh_expires_in).toBe('86400');
        expect(body.expires_in).toBe(7200);
        const refreshed = JSON.parse(
          (await postToken(stringy, refreshForm(String(body.refresh_token)))).body,
        ) as Record<string, unknown>;
        expect(refreshed.refresh_expires_in).toBe('86400');
        expect(stringy.mintTokens().refresh_expires_in).toBe(86400);
      } finally {
        await stringy.close();
      }
    });
  });

  describe('POST /oauth2/token with client_credentials', () => {
    it('issues an app token without a refresh token', async () => {
      const res = await postToken(fake, appTokenForm);
      expect(res.status).toBe(200);
      const body = JSON.parse(res.body) as Record<string, unknown>;
      expect(Object.keys(body).sort()).toEqual(['access_token', 'expires_in', 'token_type']);
      expect(body).toMatchObject({ expires_in: 7200, token_type: 'bearer' });
      expect(body.access_token).toMatch(ACCESS_PATTERN);
      const user = await currentUser(fake, String(body.access_token));
      expect(user.status).toBe(401);
      expect(JSON.parse(user.body)).toMatchObject({ code: 40100001, msg: 'invalid_token' });
    });

    it('answers 401 invalid_client for a wrong secret', async () => {
      const res = await postToken(fake, { ...appTokenForm, client_secret: 'x' });
      expect(JSON.parse(res.body)).toMatchObject({ code: 40000002, msg: 'invalid_client' });
    });
  });

  describe('GET /v7/users/current', () => {
    it.each([
      ['no Authorization header', undefined, 'Authorization: Bearer <access_token> header is missing'],
      ['an empty bearer token', '', 'Authorization: Bearer <access_token> header is missing'],
      ['an unknown token', 'fake_at_unknown', 'access token is unknown or expired'],
    ])('answers 401 invalid_token for %s', async (_, token, desc) => {
      const res = await currentUser(fake, token);
      expect(res.status).toBe(401);
      expect(res.headers['content-type']).toBe(JSON_TYPE);
      expect(JSON.parse(res.body)).toEqual(errorBody(40100001, 'invalid_token', desc));
      expect(fake.requests.map((r) => r.path)).toEqual(['/v7/users/current']);
    });

    it('expireAccessTokens() kills access tokens but not refresh tokens', async () => {
      const pair = fake.mintTokens();
      expect((await currentUser(fake, pair.access_token)).status).toBe(200);
      fake.expireAccessTokens();
      expect((await currentUser(fake, pair.access_token)).status).toBe(401);
      const refreshed = JSON.parse((await postToken(fake, refreshForm(pair.refresh_token))).body) as Record<
        string,
        string
      >;
      expect((await currentUser(fake, refreshed.access_token)).status).toBe(200);
    });
  });

  describe('expiry (ttl 1 s, time moved by a test clock)', () => {
    it('expires codes, access tokens and refresh tokens', async () => {
      const clock = createTestClock();
      const short = await startFakeWps({
        codeTtlSeconds: 1,
        accessTokenTtlSeconds: 1,
        refreshTokenTtlSeconds: 1,
        clock,
      });
      try {
        const unused = await obtainCode(short);
        const tokens = JSON.parse((await postToken(short, exchangeForm(await obtainCode(short)))).body) as Record<
          string,
          unknown
        >;
        expect(tokens).toMatchObject({ expires_in: 1, refresh_expires_in: 1 });
        const longLived = short.mintTokens({ accessTokenTtlSeconds: 60, refreshTokenTtlSeconds: 60 });
        expect((await currentUser(short, String(tokens.access_token))).status).toBe(200);

        clock.advance(1100);

        const code = await postToken(short, exchangeForm(unused));
        expect(JSON.parse(code.body)).toEqual(
          errorBody(40000003, 'invalid_grant', 'code is unknown, already used or expired'),
        );
        const user = await currentUser(short, String(tokens.access_token));
        expect(JSON.parse(user.body)).toEqual(
          errorBody(40100001, 'invalid_token', 'access token is unknown or expired'),
        );
        const refresh = await postToken(short, refreshForm(String(tokens.refresh_token)));
        expect(JSON.parse(refresh.body)).toMatchObject({ code: 40000003, msg: 'invalid_grant' });
        expect((await currentUser(short, longLived.access_token)).status).toBe(200);
        expect((await postToken(short, refreshForm(longLived.refresh_token))).status).toBe(200);
      } finally {
        await short.close();
      }
    });
  });

  describe('token faults', () => {
    it('answers with a queued status and JSON body, then behaves normally', async () => {
      fake.queueTokenFault({ status: 503, body: { code: 50300000, msg: 'busy' } });
      const faulted = await postToken(fake, appTokenForm);
      expect(faulted.status).toBe(503);
      expect(faulted.headers['content-type']).toBe(JSON_TYPE);
      expect(JSON.parse(faulted.body)).toEqual({ code: 50300000, msg: 'busy' });
      expect((await postToken(fake, appTokenForm)).status).toBe(200);
    });

    it('answers with a string body and its content type, or with nothing', async () => {
      fake.queueTokenFault({ status: 502, body: '<html>Bad Gateway</html>', contentType: 'text/html' });
      fake.queueTokenFault({ status: 500, body: 'oops' });
      fake.queueTokenFault({ status: 504 });
      const html = await postToken(fake, appTokenForm);
      expect([html.status, html.headers['content-type'], html.body]).toEqual([
        502,
        'text/html',
        '<html>Bad Gateway</html>',
      ]);
      const text = await postToken(fake, appTokenForm);
      expect([text.status, text.headers['content-type'], text.body]).toEqual([
        500,
        'text/plain; charset=utf-8',
        'oops',
      ]);
      const empty = await postToken(fake, appTokenForm);
      expect([empty.status, empty.headers['content-type'], empty.body]).toEqual([504, undefined, '']);
    });

    it('uses faults first-in first-out, each `times` times', async () => {
      fake.queueTokenFault({ status: 500 }, 2);
      fake.queueTokenFault({ status: 429 });
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) statuses.push((await postToken(fake, appTokenForm)).status);
      expect(statuses).toEqual([500, 500, 429, 200]);
    });

    it('does not consume the code when a fault replaces the answer', async () => {
      const code = await obtainCode(fake);
      fake.queueTokenFault({ status: 500 });
      expect((await postToken(fake, exchangeForm(code))).status).toBe(500);
      expect((await postToken(fake, exchangeForm(code))).status).toBe(200);
    });

    it('delays, then answers normally', async () => {
      fake.queueTokenFault({ delayMs: 250 });
      const res = await postToken(fake, appTokenForm);
      expect(res.status).toBe(200);
      expect(res.elapsedMs).toBeGreaterThanOrEqual(240);
      expect(JSON.parse(res.body)).toMatchObject({ token_type: 'bearer' });
    });

    it('applies tokenLatencyMs to every token answer', async () => {
      fake.setOptions({ tokenLatencyMs: 150 });
      const res = await postToken(fake, { grant_type: 'nope' });
      expect(res.status).toBe(400);
      expect(res.elapsedMs).toBeGreaterThanOrEqual(140);
      fake.setOptions({ tokenLatencyMs: 0 });
      expect((await postToken(fake, appTokenForm)).elapsedMs).toBeLessThan(140);
    });

    it('hangs until the client gives up', async () => {
      fake.queueTokenFault({ hang: true });
      const started = Date.now();
      const attempt = send(`${fake.url}/oauth2/token`, {
        method: 'POST',
        headers: { 'Content-Type': FORM_TYPE },
        body: new URLSearchParams(appTokenForm).toString(),
        signal: AbortSignal.timeout(200),
      });
      await expect(attempt).rejects.toMatchObject({ name: 'AbortError' });
      expect(Date.now() - started).toBeGreaterThanOrEqual(190);
      expect(fake.tokenRequests('client_credentials')).toHaveLength(1);
      expect((await postToken(fake, appTokenForm)).status).toBe(200);
    });

    it('resets the connection without a response', async () => {
      fake.queueTokenFault({ reset: true });
      await expect(postToken(fake, appTokenForm)).rejects.toMatchObject({ code: 'ECONNRESET' });
      expect((await postToken(fake, appTokenForm)).status).toBe(200);
    });

    it('sends truncated JSON with a JSON content type', async () => {
      fake.queueTokenFault({ malformedJson: true });
      const res = await postToken(fake, appTokenForm);
      expect([res.status, res.headers['content-type'], res.body]).toEqual([200, JSON_TYPE, '{"access_token": "abc", ']);
      expect(() => JSON.parse(res.body)).toThrow(SyntaxError);
    });

    it('drips the body one byte at a time', async () => {
      fake.queueTokenFault({ drip: { bytes: 5, intervalMs: 50 } });
      const res = await postToken(fake, appTokenForm);
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe(JSON_TYPE);
      expect(res.body).toBe('{"pad');
      expect(res.chunks).toBeGreaterThanOrEqual(3);
      expect(res.elapsedMs).toBeGreaterThanOrEqual(240);
    });

    it('drips a complete padded JSON body when bytes allow', async () => {
      fake.queueTokenFault({ drip: { bytes: 16, intervalMs: 0 } });
      const res = await postToken(fake, appTokenForm);
      expect(JSON.parse(res.body)).toEqual({ padding: 'xx' });
    });

    it('sends a valid JSON body of exactly bodyBytes bytes', async () => {
      fake.queueTokenFault({ bodyBytes: 2048 });
      const res = await postToken(fake, appTokenForm);
      expect(res.status).toBe(200);
      expect(res.headers['content-length']).toBe('2048');
      expect(Buffer.byteLength(res.body)).toBe(2048);
      expect((JSON.parse(res.body) as { padding: string }).padding).toHaveLength(2034);
    });

    it.each([
      [{ status: 99 }, 'queueTokenFault: \'status\' must be a whole number from 200 to 599, got {"status":99}'],
      [{ delayMs: -1 }, 'queueTokenFault: \'delayMs\' must be a finite number >= 0, got {"delayMs":-1}'],
      [
        { drip: { bytes: 0, intervalMs: 1 } },
        'queueTokenFault: \'drip\' needs a whole \'bytes\' >= 1 and a finite \'intervalMs\' >= 0, got {"drip":{"bytes":0,"intervalMs":1}}',
      ],
      [{ bodyBytes: 3 }, 'queueTokenFault: \'bodyBytes\' must be a whole number >= 14, got {"bodyBytes":3}'],
      [{ explode: true }, 'queueTokenFault: unknown fault kind, got {"explode":true}'],
    ])('rejects the invalid fault %j', (fault, message) => {
      expect(() => fake.queueTokenFault(fault as never)).toThrow(new RangeError(message));
    });

    it('rejects a non-positive times', () => {
      expect(() => fake.queueTokenFault({ hang: true }, 0)).toThrow(
        "queueTokenFault: 'times' must be a whole number >= 1, got 0",
      );
    });

    it('reset() drops queued faults and requests but keeps tokens valid', async () => {
      const pair = fake.mintTokens();
      fake.queueTokenFault({ status: 500 }, 3);
      await postToken(fake, appTokenForm);
      const requests = fake.requests;
      fake.reset();
      expect(requests).toHaveLength(0);
      expect(fake.requests).toBe(requests);
      expect((await postToken(fake, appTokenForm)).status).toBe(200);
      expect((await currentUser(fake, pair.access_token)).status).toBe(200);
    });
  });

  describe('request recording', () => {
    it('records every request in order with its exact form and query', async () => {
      const code = await obtainCode(fake);
      await postToken(fake, exchangeForm(code));
      const pair = fake.mintTokens();
      await postToken(fake, refreshForm(pair.refresh_token));

      expect(fake.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
        'GET /oauth2/auth',
        'POST /oauth2/token',
        'POST /oauth2/token',
      ]);
      expect(fake.requests[0]?.query).toEqual(authParams());
      expect(fake.requests[0]?.body).toBe('');

      const [exchange] = fake.tokenRequests('authorization_code');
      expect(exchange?.form).toEqual({
        grant_type: 'authorization_code',
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        code,
        redirect_uri: CALLBACK,
      });
      expect(exchange?.body).toBe(new URLSearchParams(exchangeForm(code)).toString());
      expect(exchange?.headers['content-type']).toBe(FORM_TYPE);
      expect(exchange?.at).toBeGreaterThan(Date.now() - 5000);
      expect(fake.tokenRequests('refresh_token').map((r) => r.form.refresh_token)).toEqual([pair.refresh_token]);
      expect(fake.tokenRequests()).toHaveLength(2);
      expect(fake.tokenRequests('client_credentials')).toEqual([]);
    });
  });

  describe('robustness', () => {
    it('answers 404 not_found for unknown paths', async () => {
      const res = await send(`${fake.url}/oauth2/token/`);
      expect(res.status).toBe(404);
      expect(res.headers['content-type']).toBe(JSON_TYPE);
      expect(JSON.parse(res.body)).toEqual(errorBody(40400000, 'not_found', 'no endpoint at /oauth2/token/'));
    });

    it('answers 405 with Allow for a known path and the wrong method', async () => {
      const res = await send(`${fake.url}/oauth2/token`);
      expect(res.status).toBe(405);
      expect(res.headers.allow).toBe('POST');
      expect(JSON.parse(res.body)).toMatchObject({ code: 40500000, msg: 'method_not_allowed' });
    });

    it.each([
      ['with a Content-Length', false],
      ['chunked', true],
    ])('answers 413 to a body over 1 MB sent %s, then keeps serving', async (_, chunked) => {
      const body = Buffer.alloc(1024 * 1024 + 1, 'a');
      const headers: Record<string, string> = { 'Content-Type': FORM_TYPE };
      if (chunked) headers['Transfer-Encoding'] = 'chunked';
      const res = await send(`${fake.url}/oauth2/token`, { method: 'POST', headers, body });
      expect(res.status).toBe(413);
      expect(JSON.parse(res.body)).toEqual(errorBody(41300000, 'payload_too_large', 'request body exceeds 1 MB'));
      expect(fake.requests[0]?.body).toBe('');
      expect((await postToken(fake, appTokenForm)).status).toBe(200);
    });

    it('survives garbage input', async () => {
      const garbage = await postToken(
        fake,
        Buffer.from([0xff, 0x00, 0x25, 0x45, 0x30, 0x3d, 0x26, 0x26, 0x3d]).toString('latin1'),
      );
      expect(garbage.status).toBe(400);
      const badEscape = await send(`${fake.url}/oauth2/auth?client_id=%E0%A4%A&scope=%%%`);
      expect(badEscape.status).toBe(400);
      expect((await postToken(fake, appTokenForm)).status).toBe(200);
    });

    it('survives a client that disconnects mid-body', async () => {
      await new Promise<void>((resolve) => {
        const req = request(`${fake.url}/oauth2/token`, {
          method: 'POST',
          agent: false,
          headers: { 'Content-Type': FORM_TYPE, 'Content-Length': '100' },
        });
        req.on('error', () => resolve());
        // Hang up once the headers and the start of the body are on the wire: the fake gets them, then the end.
        req.write('grant_type=', () => req.destroy());
      });
      expect((await postToken(fake, appTokenForm)).status).toBe(200);
      expect(fake.requests).toHaveLength(1);
    });
  });

  describe('options', () => {
    it.each([
      [
        { codeTtlSeconds: 0 },
        new RangeError("startFakeWps: 'codeTtlSeconds' must be a positive whole number of seconds, got 0"),
      ],
      [
        { accessTokenTtlSeconds: 1.5 },
        new RangeError("startFakeWps: 'accessTokenTtlSeconds' must be a positive whole number of seconds, got 1.5"),
      ],
      [{ tokenLatencyMs: -5 }, new RangeError("startFakeWps: 'tokenLatencyMs' must be a finite number >= 0, got -5")],
      [{ clientId: '' }, new TypeError("startFakeWps: 'clientId' must be a non-empty string")],
      [{ consent: 'popup' }, new TypeError("startFakeWps: 'consent' must be 'auto' or 'page', got \"popup\"")],
      [
        { redirectUris: ['/cb'] },
        new TypeError(
          'startFakeWps: every entry of \'redirectUris\' must be an absolute http(s) URL without a fragment, got "/cb"',
        ),
      ],
    ])('rejects %j', async (options, error) => {
      await expect(startFakeWps(options as never)).rejects.toThrow(error);
    });

    it('validates setOptions and mintTokens arguments', () => {
      expect(() => fake.setOptions({ accessTokenTtlSeconds: 0 })).toThrow(RangeError);
      expect(() => fake.setOptions({ consent: 'x' as never })).toThrow(TypeError);
      expect(() => fake.mintTokens({ refreshTokenTtlSeconds: -1 })).toThrow(
        "startFakeWps: 'refreshTokenTtlSeconds' must be a positive whole number of seconds, got -1",
      );
    });

    it('applies custom credentials and user', async () => {
      const custom = await startFakeWps({
        clientId: 'AK1',
        clientSecret: 'SK1',
        user: { id: 'u-9', companyId: 'c-9' },
      });
      try {
        const res = await postToken(custom, {
          grant_type: 'client_credentials',
          client_id: 'AK1',
          client_secret: 'SK1',
        });
        expect(res.status).toBe(200);
        const user = await currentUser(custom, custom.mintTokens().access_token);
        expect(JSON.parse(user.body)).toMatchObject({ data: { id: 'u-9', user_name: 'Demo User', company_id: 'c-9' } });
      } finally {
        await custom.close();
      }
    });
  });

  describe('close()', () => {
    it('ends a hanging request, refuses new ones and is idempotent', async () => {
      const closing = await startFakeWps();
      closing.queueTokenFault({ hang: true });
      closing.queueTokenFault({ delayMs: 10_000 });
      const hanging = postToken(closing, appTokenForm);
      const delayed = postToken(closing, appTokenForm);
      await until(() => closing.tokenRequests().length === 2, 'both requests at the fake');

      const started = Date.now();
      await closing.close();
      expect(Date.now() - started).toBeLessThan(1000);
      await expect(hanging).rejects.toMatchObject({ code: 'ECONNRESET' });
      await expect(delayed).rejects.toMatchObject({ code: 'ECONNRESET' });
      await expect(closing.close()).resolves.toBeUndefined();
      await expect(postToken(closing, appTokenForm)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    });
  });
});

describe('startFakeWps: v7 test routes, API faults and strict KSO-1 signing', () => {
  const fake = useFakeWps();
  let userToken: string;
  let appToken: string;

  beforeAll(async () => {
    userToken = fake.mintTokens().access_token;
    appToken = String((JSON.parse((await postToken(fake, appTokenForm)).body) as Record<string, unknown>).access_token);
  });

  const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

  /** KSO-1 from the platform's sentence, written here independently of the library. */
  function kso(
    method: string,
    uri: string,
    contentType: string,
    body: string,
    date = new Date().toUTCString(),
    key = CLIENT_SECRET,
    hashEmpty = false,
  ) {
    const bodyHash = body === '' && !hashEmpty ? '' : createHash('sha256').update(body).digest('hex');
    const hex = createHmac('sha256', key).update(`KSO-1${method}${uri}${contentType}${date}${bodyHash}`).digest('hex');
    return { 'X-Kso-Date': date, 'X-Kso-Authorization': `KSO-1 ${CLIENT_ID}:${hex}` };
  }

  it('POST /v7/echo answers the JSON body as data, for a user or an app token', async () => {
    for (const token of [userToken, appToken]) {
      const res = await send(`${fake.url}/v7/echo`, {
        method: 'POST',
        headers: { ...bearer(token), 'Content-Type': 'application/json' },
        body: '{"a":[1,"b"]}',
      });
      expect(res.status).toBe(200);
      expect(JSON.parse(res.body)).toEqual({ code: 0, msg: 'success', data: { a: [1, 'b'] } });
    }
    const bad = await send(`${fake.url}/v7/echo`, { method: 'POST', headers: bearer(userToken), body: 'not json' });
    expect(JSON.parse(bad.body)).toEqual(errorBody(40000001, 'invalid_request', 'the body must be JSON'));
    const anonymous = await send(`${fake.url}/v7/echo`, { method: 'POST', body: '{}' });
    expect(anonymous.status).toBe(401);
  });

  it('GET /v7/ping answers the token kind and the query', async () => {
    const res = await send(`${fake.url}/v7/ping?x=1&y=a%20b`, { headers: bearer(appToken) });
    expect(JSON.parse(res.body)).toEqual({
      code: 0,
      msg: 'success',
      data: { kind: 'app', query: { x: '1', y: 'a b' } },
    });
    expect(fake.apiRequests('/v7/ping')).toHaveLength(1);
    expect(fake.apiRequests()).toHaveLength(1);
    expect(fake.apiRequests('/v7/echo')).toHaveLength(0);
  });

  it('queueApiFault replaces the next /v7 answers first-in first-out, then behaves normally', async () => {
    fake.queueApiFault({ status: 401, body: { code: 40100001, msg: 'invalid_token' } });
    fake.queueApiFault({ status: 200, body: { code: 40300001, msg: 'permission_denied' } }, 2);
    const statuses: [number, unknown][] = [];
    for (let i = 0; i < 4; i++) {
      const res = await send(`${fake.url}/v7/users/current`, { headers: bearer(userToken) });
      statuses.push([res.status, (JSON.parse(res.body) as { code: unknown }).code]);
    }
    expect(statuses).toEqual([
      [401, 40100001],
      [200, 40300001],
      [200, 40300001],
      [200, 0],
    ]);
    // Token faults are a separate queue.
    expect((await postToken(fake, appTokenForm)).status).toBe(200);
  });

  it('validates queueApiFault and reset() drops queued API faults', async () => {
    expect(() => fake.queueApiFault({ status: 99 })).toThrow(
      new RangeError('queueApiFault: \'status\' must be a whole number from 200 to 599, got {"status":99}'),
    );
    expect(() => fake.queueApiFault({ reset: true }, 0)).toThrow(
      "queueApiFault: 'times' must be a whole number >= 1, got 0",
    );
    fake.queueApiFault({ status: 500 });
    fake.reset();
    expect((await send(`${fake.url}/v7/ping`, { headers: bearer(userToken) })).status).toBe(200);
  });

  describe('requireSignature', () => {
    beforeEach(() => fake.setOptions({ requireSignature: true }));

    it('accepts a correctly signed GET with a query and POST with a JSON body', async () => {
      const get = await send(`${fake.url}/v7/ping?b=2&a=1`, {
        headers: { ...bearer(userToken), ...kso('GET', '/v7/ping?b=2&a=1', '', '') },
      });
      expect(get.status).toBe(200);
      const body = '{"title":"周会"}';
      const post = await send(`${fake.url}/v7/echo`, {
        method: 'POST',
        headers: {
          ...bearer(userToken),
          'Content-Type': 'application/json',
          ...kso('POST', '/v7/echo', 'application/json', body),
        },
        body,
      });
      expect(post.status).toBe(200);
      expect(JSON.parse(post.body).data).toEqual({ title: '周会' });
    });

    it.each([
      ['no signature headers', {}, 'X-Kso-Date and X-Kso-Authorization headers are required'],
      [
        'a signature over another path',
        kso('GET', '/v7/users/current', '', ''),
        'the signature does not match the request',
      ],
      [
        'a signature with another key',
        kso('GET', '/v7/ping', '', '', undefined, 'other-key'),
        'the signature does not match the request',
      ],
      [
        'sha256 of an empty body instead of the empty hash',
        kso('GET', '/v7/ping', '', '', undefined, CLIENT_SECRET, true),
        'the signature does not match the request',
      ],
      [
        'a date 16 minutes old',
        kso('GET', '/v7/ping', '', '', new Date(Date.now() - 16 * 60_000).toUTCString()),
        'X-Kso-Date is not an RFC 1123 date within 15 minutes of now',
      ],
      [
        'a date that is not a date',
        { ...kso('GET', '/v7/ping', '', ''), 'X-Kso-Date': 'yesterday' },
        'X-Kso-Date is not an RFC 1123 date within 15 minutes of now',
      ],
      [
        'another APPID',
        { ...kso('GET', '/v7/ping', '', ''), 'X-Kso-Authorization': `KSO-1 other:${'0'.repeat(64)}` },
        "X-Kso-Authorization must be 'KSO-1 <APPID>:<hex signature>' with this app's APPID",
      ],
    ])('answers 401 invalid_signature for %s', async (_, headers, desc) => {
      const res = await send(`${fake.url}/v7/ping`, { headers: { ...bearer(userToken), ...headers } });
      expect(res.status).toBe(401);
      expect(JSON.parse(res.body)).toEqual(errorBody(40100002, 'invalid_signature', desc));
    });

    it('checks the body: a signed POST whose body was changed is refused', async () => {
      const res = await send(`${fake.url}/v7/echo`, {
        method: 'POST',
        headers: {
          ...bearer(userToken),
          'Content-Type': 'application/json',
          ...kso('POST', '/v7/echo', 'application/json', '{"n":1}'),
        },
        body: '{"n":2}',
      });
      expect(JSON.parse(res.body)).toEqual(
        errorBody(40100002, 'invalid_signature', 'the signature does not match the request'),
      );
    });

    it('leaves /oauth2 unsigned and can be switched off at runtime', async () => {
      expect((await postToken(fake, appTokenForm)).status).toBe(200);
      fake.setOptions({ requireSignature: false });
      expect((await send(`${fake.url}/v7/ping`, { headers: bearer(userToken) })).status).toBe(200);
    });
  });
});
