import { startFakeWps, type FakeWps } from '../../lib/testing';

// The fake's imitation of the WPS client's bridge: codes minted as requestAccess mints them, the stub script, and
// the token endpoint redeeming such a code like an authorization code.

const CLIENT_ID = 'bridge-client';
const CLIENT_SECRET = 'bridge-secret';
const CALLBACK = 'http://localhost:3000/auth/wps/callback';
const CODE_PATTERN = /^kso_ac_[\w-]{22}\.[\w-]{22}$/;

interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

async function post(url: string, form: Record<string, string>): Promise<Answer> {
  const res = await fetch(url, { method: 'POST', body: new URLSearchParams(form) });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

function exchange(fake: FakeWps, code: string, redirectUri = CALLBACK): Promise<Answer> {
  return post(`${fake.url}/oauth2/token`, {
    grant_type: 'authorization_code',
    client_id: CLIENT_ID,
    client_secret: CLIENT_SECRET,
    code,
    redirect_uri: redirectUri,
  });
}

async function currentUser(fake: FakeWps, accessToken: unknown): Promise<unknown> {
  const res = await fetch(`${fake.url}/v7/users/current`, {
    headers: { Authorization: `Bearer ${String(accessToken)}` },
  });
  return ((await res.json()) as { data?: unknown }).data;
}

function requestAccess(fake: FakeWps, form: Record<string, string>): Promise<Answer> {
  return post(`${fake.url}/fake-client/request-access`, form);
}

let fake: FakeWps;
let open: FakeWps;

beforeAll(async () => {
  fake = await startFakeWps({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUris: [CALLBACK] });
  open = await startFakeWps({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET });
});
afterAll(async () => {
  await fake.close();
  await open.close();
});
afterEach(() => fake.setOptions({ clientAccess: 'allow' }));

describe('fake.clientCode()', () => {
  it('mints a single-use code the token endpoint redeems like an authorization code, for the fake user', async () => {
    const code = fake.clientCode();
    expect(code).toMatch(CODE_PATTERN);
    const first = await exchange(fake, code);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ token_type: 'bearer', expires_in: 7200, refresh_expires_in: 2592000 });
    expect(await currentUser(fake, first.body.access_token)).toMatchObject({
      id: 'fake-user-1',
      user_name: 'Demo User',
    });
    const again = await exchange(fake, code);
    expect([again.status, again.body.msg]).toEqual([400, 'invalid_grant']);
  });

  it('mints it for the given user and lifetimes', async () => {
    const code = fake.clientCode({ id: 'ada-1', name: 'Ada' }, { accessTokenTtlSeconds: 60 });
    const tokens = await exchange(fake, code);
    expect(tokens.body.expires_in).toBe(60);
    expect(await currentUser(fake, tokens.body.access_token)).toMatchObject({ id: 'ada-1', user_name: 'Ada' });
  });

  it('names a bad lifetime at once', () => {
    expect(() => fake.clientCode(undefined, { accessTokenTtlSeconds: 1.5 })).toThrow(
      new RangeError("clientCode: 'accessTokenTtlSeconds' must be a positive whole number of seconds, got 1.5"),
    );
  });

  it('is bound to no callback: a registered one redeems it, another does not (and does not spend it)', async () => {
    const code = fake.clientCode();
    const wrong = await exchange(fake, code, 'http://evil.example/cb');
    expect([wrong.status, wrong.body.msg, (wrong.body.debug as { desc: string }).desc]).toEqual([
      400,
      'invalid_grant',
      "'redirect_uri' parameter does not match any registered callback",
    ]);
    expect((await exchange(fake, code)).status).toBe(200);
  });

  it('with no callback registered, any http(s) URL redeems it', async () => {
    expect((await exchange(open, open.clientCode(), 'https://anything.example/cb')).status).toBe(200);
    const bad = await exchange(open, open.clientCode(), 'not a url');
    expect([bad.status, bad.body.msg]).toEqual([400, 'invalid_grant']);
  });
});

describe('the stub bridge', () => {
  it('is a script at bridgeScriptUrl that defines window.ksoxz_sdk with ready and requestAccess', async () => {
    expect(fake.bridgeScriptUrl).toBe(`${fake.url}/fake-client/ksoxz-sdk.js`);
    const res = await fetch(fake.bridgeScriptUrl);
    expect([res.status, res.headers.get('content-type')]).toEqual([200, 'text/javascript; charset=utf-8']);
    const source = await res.text();
    expect(source).toContain('window.ksoxz_sdk = {');
    expect(source).toMatch(/ready: function \(callback\)/);
    expect(source).toContain('requestAccess: requestAccess');
    expect(source).not.toMatch(/\beval\b|new Function/);
  });

  it('gets a fresh code per request, readable from any origin, that the token endpoint redeems', async () => {
    const a = await requestAccess(fake, { app_id: CLIENT_ID, scope_list: 'kso.user_base.read' });
    const b = await requestAccess(fake, { app_id: CLIENT_ID, scope_list: '' });
    expect([a.status, a.headers.get('access-control-allow-origin'), a.headers.get('cache-control')]).toEqual([
      200,
      '*',
      'no-store',
    ]);
    expect(a.body.code).toMatch(CODE_PATTERN);
    expect(b.body.code).toMatch(CODE_PATTERN);
    expect(a.body.code).not.toBe(b.body.code);
    expect((await exchange(fake, String(a.body.code))).status).toBe(200);
    expect(fake.requests.filter((r) => r.path === '/fake-client/request-access').at(-1)?.form).toEqual({
      app_id: CLIENT_ID,
      scope_list: '',
    });
  });

  it.each([
    [{ app_id: 'another-app', scope_list: '' }, "'app_id' is unknown"],
    [{ scope_list: 'kso.user_base.read' }, "'app_id' parameter is missing"],
    [{ app_id: CLIENT_ID, scope_list: 'kso user' }, "'scope_list' must be dotted scope names"],
  ])('refuses %j with a readable invalid_request', async (form, desc) => {
    const res = await requestAccess(fake, form);
    expect([res.status, res.headers.get('access-control-allow-origin'), res.body.msg]).toEqual([
      400,
      '*',
      'invalid_request',
    ]);
    expect((res.body.debug as { desc: string }).desc).toBe(desc);
  });

  it("answers access_denied while the fake's user refuses (clientAccess: 'deny'), then codes again", async () => {
    fake.setOptions({ clientAccess: 'deny' });
    const refused = await requestAccess(fake, { app_id: CLIENT_ID, scope_list: '' });
    expect([refused.status, refused.headers.get('access-control-allow-origin'), refused.body]).toEqual([
      403,
      '*',
      { code: 40300001, msg: 'access_denied', debug: { desc: 'the user declined to sign in to the app' } },
    ]);
    fake.setOptions({ clientAccess: 'allow' });
    expect((await requestAccess(fake, { app_id: CLIENT_ID, scope_list: '' })).body.code).toMatch(CODE_PATTERN);
  });

  it('checks clientAccess like the other options', async () => {
    expect(() => fake.setOptions({ clientAccess: 'maybe' as never })).toThrow(
      new TypeError(`startFakeWps: 'clientAccess' must be 'allow' or 'deny', got "maybe"`),
    );
    await expect(startFakeWps({ clientAccess: 'no' as never })).rejects.toThrow(
      "startFakeWps: 'clientAccess' must be 'allow' or 'deny', got \"no\"",
    );
    const denying = await startFakeWps({ clientId: CLIENT_ID, clientAccess: 'deny' });
    try {
      expect((await requestAccess(denying, { app_id: CLIENT_ID, scope_list: '' })).status).toBe(403);
    } finally {
      await denying.close();
    }
  });
});
