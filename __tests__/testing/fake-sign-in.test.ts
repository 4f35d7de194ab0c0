import { useFakeWps } from '../helpers/fake-wps';

// Per-sign-in settings of the fake WPS (prepareSignIn + the X-Fake-Wps-Sign-In header), over real HTTP.

const CALLBACK = 'http://localhost:3000/auth/callback';
const FORM_TYPE = 'application/x-www-form-urlencoded';

const fake = useFakeWps({ user: { id: 'configured-1', name: 'Configured User' } });

function authorizeUrl(state = 'st-1'): string {
  const params = new URLSearchParams({
    response_type: 'code',
    client_id: 'test-client-id',
    redirect_uri: CALLBACK,
    scope: 'kso.user_base.read',
    state,
  });
  return `${fake.url}/oauth2/auth?${params.toString()}`;
}

async function authorize(ticket?: string): Promise<Response> {
  const headers: Record<string, string> = ticket === undefined ? {} : { 'X-Fake-Wps-Sign-In': ticket };
  return fetch(authorizeUrl(), { redirect: 'manual', headers });
}

function postForm(path: string, form: Record<string, string>): Promise<Response> {
  return fetch(`${fake.url}${path}`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'Content-Type': FORM_TYPE },
    body: new URLSearchParams(form).toString(),
  });
}

function codeOf(res: Response): string {
  return new URL(res.headers.get('location') ?? 'missing:').searchParams.get('code') ?? '';
}

interface WirePair {
  access_token: string;
  refresh_token: string;
  expires_in: number;
  refresh_expires_in: number;
}

async function exchange(code: string): Promise<WirePair> {
  const res = await postForm('/oauth2/token', {
    grant_type: 'authorization_code',
    client_id: 'test-client-id',
    client_secret: 'test-client-secret',
    code,
    redirect_uri: CALLBACK,
  });
  expect(res.status).toBe(200);
  return (await res.json()) as WirePair;
}

async function refresh(refreshToken: string): Promise<WirePair> {
  const res = await postForm('/oauth2/token', {
    grant_type: 'refresh_token',
    client_id: 'test-client-id',
    client_secret: 'test-client-secret',
    refresh_token: refreshToken,
  });
  expect(res.status).toBe(200);
  return (await res.json()) as WirePair;
}

async function currentUser(accessToken: string): Promise<unknown> {
  const res = await fetch(`${fake.url}/v7/users/current`, { headers: { Authorization: `Bearer ${accessToken}` } });
  expect(res.status).toBe(200);
  return ((await res.json()) as { data: unknown }).data;
}

describe('fake WPS: prepareSignIn', () => {
  it('without the header, a sign-in gets the configured user and lifetimes', async () => {
    const pair = await exchange(codeOf(await authorize()));
    expect([pair.expires_in, pair.refresh_expires_in]).toEqual([7200, 2592000]);
    expect(await currentUser(pair.access_token)).toEqual({
      id: 'configured-1',
      user_name: 'Configured User',
      avatar: 'https://example.invalid/avatar.png',
      company_id: 'fake-company-1',
    });
  });

  it('gives the prepared user and lifetimes to the code, its tokens and every refreshed token', async () => {
    const ticket = fake.prepareSignIn({
      user: { name: 'Ada Lovelace', companyId: 'analytical' },
      accessTokenTtlSeconds: 120,
      refreshTokenTtlSeconds: 3600,
    });
    expect(ticket).toMatch(/^[\w-]{22}$/);
    const auth = await authorize(ticket);
    expect(auth.status).toBe(302);
    const pair = await exchange(codeOf(auth));
    expect([pair.expires_in, pair.refresh_expires_in]).toEqual([120, 3600]);
    const ada = {
      id: 'configured-1',
      user_name: 'Ada Lovelace',
      avatar: 'https://example.invalid/avatar.png',
      company_id: 'analytical',
    };
    expect(await currentUser(pair.access_token)).toEqual(ada);

    const rotated = await refresh(pair.refresh_token);
    expect([rotated.expires_in, rotated.refresh_expires_in]).toEqual([120, 3600]);
    expect(await currentUser(rotated.access_token)).toEqual(ada);

    fake.setOptions({ rotateRefreshTokens: false });
    const kept = await refresh(rotated.refresh_token);
    expect(kept.refresh_token).toBe(rotated.refresh_token);
    expect(kept.expires_in).toBe(120);
    expect(await currentUser(kept.access_token)).toMatchObject({ user_name: 'Ada Lovelace' });
  });

  it('keeps two prepared sign-ins apart, whatever order they complete in', async () => {
    const first = fake.prepareSignIn({ user: { id: 'u-1', name: 'One' } });
    const second = fake.prepareSignIn({ user: { id: 'u-2', name: 'Two' } });
    const authSecond = await authorize(second);
    const authFirst = await authorize(first);
    const pairFirst = await exchange(codeOf(authFirst));
    const pairSecond = await exchange(codeOf(authSecond));
    expect(await currentUser(pairFirst.access_token)).toMatchObject({ id: 'u-1', user_name: 'One' });
    expect(await currentUser(pairSecond.access_token)).toMatchObject({ id: 'u-2', user_name: 'Two' });
  });

  it('refuses an unknown or used ticket with 400 invalid_request', async () => {
    const ticket = fake.prepareSignIn({});
    expect((await authorize(ticket)).status).toBe(302);
    const expected = {
      code: 40000001,
      msg: 'invalid_request',
      debug: { desc: "'X-Fake-Wps-Sign-In' header names no prepared sign-in (unknown, or already used)" },
    };
    for (const bad of [ticket, 'never-prepared']) {
      const res = await authorize(bad);
      expect([res.status, await res.json()]).toEqual([400, expected]);
    }
  });

  it("with consent 'page', shows the prepared user and lets Allow issue the prepared sign-in's code", async () => {
    fake.setOptions({ consent: 'page' });
    const ticket = fake.prepareSignIn({ user: { name: 'Grace Hopper' }, accessTokenTtlSeconds: 60 });
    const page = await authorize(ticket);
    const html = await page.text();
    expect(page.status).toBe(200);
    expect(html).toContain('<strong id="wps-user-name">Grace Hopper</strong>');
    const requestId = /name="request_id" value="([^"]+)"/.exec(html)?.[1] ?? '';
    const decision = await postForm('/oauth2/auth/decision', { request_id: requestId, decision: 'allow' });
    expect(decision.status).toBe(302);
    const pair = await exchange(codeOf(decision));
    expect(pair.expires_in).toBe(60);
    expect(await currentUser(pair.access_token)).toMatchObject({ user_name: 'Grace Hopper' });
  });

  it('validates the lifetimes, naming prepareSignIn', () => {
    expect(() => fake.prepareSignIn({ accessTokenTtlSeconds: 0 })).toThrow(
      new RangeError("prepareSignIn: 'accessTokenTtlSeconds' must be a positive whole number of seconds, got 0"),
    );
    expect(() => fake.prepareSignIn({ refreshTokenTtlSeconds: 1.5 })).toThrow(
      new RangeError("prepareSignIn: 'refreshTokenTtlSeconds' must be a positive whole number of seconds, got 1.5"),
    );
  });
});
