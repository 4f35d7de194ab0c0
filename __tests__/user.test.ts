import request from 'supertest';
import { WpsApiError, type WpsAuthOptions, type WpsLoginInfo } from '../lib';
import { resolveConfig } from '../lib/config';
import { toWpsUser } from '../lib/wps-user';
import { createApiTestApp } from './helpers/api-app';
import { authorize, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, signIn, type TestApp } from './helpers/app';
import { useFakeWps } from './helpers/fake-wps';

type Agent = ReturnType<typeof request.agent>;

const PROFILE = {
  id: 'fake-user-1',
  name: 'Demo User',
  avatar: 'https://example.invalid/avatar.png',
  companyId: 'fake-company-1',
};

const fake = useFakeWps({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUris: [REDIRECT_URI] });

async function session(agent: Agent): Promise<{ tokens?: { accessToken: string }; user?: unknown } | null> {
  return (await agent.get('/test/session').expect(200)).body.wps;
}

function app(options: WpsAuthOptions = {}): { t: TestApp; agent: Agent } {
  const t = createApiTestApp(fake, options);
  return { t, agent: request.agent(t.app) };
}

describe('fetchUser', () => {
  it('is on by default with kso.user_base.read, off without it, and can be set either way', () => {
    const base = { clientId: 'a', clientSecret: 'b', redirectUri: 'https://app.example.com/cb' };
    expect(resolveConfig(base, {}).fetchUser).toBe(true);
    expect(resolveConfig({ ...base, scope: 'kso.calendar.read,kso.user_base.read' }, {}).fetchUser).toBe(true);
    expect(resolveConfig({ ...base, scope: ['kso.calendar.read'] }, {}).fetchUser).toBe(false);
    expect(resolveConfig({ ...base, scope: ['kso.calendar.read'], fetchUser: true }, {}).fetchUser).toBe(true);
    expect(resolveConfig({ ...base, fetchUser: false }, {}).fetchUser).toBe(false);
    expect(resolveConfig(base, {}).signRequests).toBe(false);
    expect(() =>
      resolveConfig({ ...base, fetchUser: 'yes' as never, signRequests: 1 as never, afterLogin: {} as never }, {}),
    ).toThrow(
      new TypeError(
        'express-wps-oauth: invalid wpsAuth options:\n' +
          '  - fetchUser must be a boolean\n' +
          '  - signRequests must be a boolean\n' +
          '  - afterLogin must be a function: (req, login) => user or nothing',
      ),
    );
  });

  it('stores the profile at login with the new token, and exposes it as req.wps.user', async () => {
    const { agent } = app();
    await signIn(agent);
    const stored = await session(agent);
    expect(stored?.user).toEqual(PROFILE);
    const [call, ...more] = fake.apiRequests('/v7/users/current');
    expect(more).toHaveLength(0);
    expect(call?.headers.authorization).toBe(`Bearer ${stored?.tokens?.accessToken}`);
    await agent.get('/wps/user').expect(200, { user: PROFILE });
    // getUser() serves the stored profile without asking WPS again.
    await agent.get('/wps/get-user').expect(200, { user: PROFILE, stored: PROFILE });
    expect(fake.apiRequests()).toHaveLength(1);
  });

  it('does not fetch when off; getUser() fetches and stores on first use', async () => {
    const { agent } = app({ fetchUser: false });
    await signIn(agent);
    expect(fake.apiRequests()).toHaveLength(0);
    await agent.get('/wps/user').expect(200, { user: null });
    await agent.get('/wps/get-user').expect(200, { user: PROFILE, stored: PROFILE });
    await agent.get('/wps/user').expect(200, { user: PROFILE });
    expect(fake.apiRequests('/v7/users/current')).toHaveLength(1);
  });

  it('does not fail the login when the profile fetch fails: it is logged without a token, and getUser() retries', async () => {
    const { t, agent } = app();
    fake.queueApiFault({ status: 500, body: { code: 50000000, msg: 'server_error' } });
    const landed = await signIn(agent, '?returnTo=%2Fhome');
    expect(landed).toBe('/home');
    const stored = await session(agent);
    expect(stored?.tokens?.accessToken).toMatch(/^fake_at_/);
    expect(stored?.user).toBeUndefined();
    const warning = t.logger.lines.filter((l) => l.includes('could not fetch the WPS user'));
    expect(warning).toEqual([
      'warn express-wps-oauth: callback: could not fetch the WPS user; req.wps.getUser() will retry ' +
        '{"code":"wps_api_error","wpsStatus":500,"wpsCode":50000000}',
    ]);
    expect(t.logger.lines.join('\n')).not.toContain(stored?.tokens?.accessToken);

    await agent.get('/wps/user').expect(200, { user: null });
    await agent.get('/wps/get-user').expect(200, { user: PROFILE, stored: PROFILE });
    expect(fake.apiRequests('/v7/users/current')).toHaveLength(2);
    expect((await session(agent))?.user).toEqual(PROFILE);
  });

  it('does not retry the login-time fetch on a 401: the brand-new token cannot be refreshed yet', async () => {
    const { t, agent } = app();
    fake.queueApiFault({ status: 401, body: { code: 40100001, msg: 'invalid_token' } });
    await signIn(agent);
    expect(fake.apiRequests()).toHaveLength(1);
    expect(fake.tokenRequests('refresh_token')).toHaveLength(0);
    expect(t.logger.lines.filter((l) => l.startsWith('warn '))).toEqual([
      'warn express-wps-oauth: callback: could not fetch the WPS user; req.wps.getUser() will retry ' +
        '{"code":"wps_api_error","wpsStatus":401,"wpsCode":40100001}',
    ]);
    await agent.get('/wps/get-user').expect(200, { user: PROFILE, stored: PROFILE });
  });

  it('getUser() rejects with login_required when signed out, and a profile without id as wps_unavailable', async () => {
    const { t, agent } = app({ fetchUser: false });
    const out = await agent.get('/wps/get-user').expect(401);
    expect(out.body.code).toBe('login_required');
    await signIn(agent);
    fake.queueApiFault({ status: 200, body: { code: 0, msg: 'success', data: { user_name: 'nobody' } } });
    const res = await agent.get('/wps/get-user').expect(502);
    expect(res.body).toEqual({
      name: 'WpsApiError',
      code: 'wps_unavailable',
      status: 502,
      message: 'WPS answered GET /v7/users/current without a user id',
    });
    expect(t.errors[1]).toBeInstanceOf(WpsApiError);
  });

  it('forgets the user with the tokens', async () => {
    const { agent } = app();
    await signIn(agent);
    await agent.get('/wps/user').expect(200, { user: PROFILE });
    await agent.get('/auth/wps/logout').expect(302);
    await agent.get('/wps/user').expect(200, { user: null });
  });
});

describe('toWpsUser', () => {
  it('maps the documented fields and leaves out empty optional ones', () => {
    expect(toWpsUser({ id: 'u', user_name: 'N', avatar: 'a', company_id: 'c', extra: 1 })).toEqual({
      id: 'u',
      name: 'N',
      avatar: 'a',
      companyId: 'c',
    });
    expect(toWpsUser({ id: 'u', avatar: '', company_id: null })).toEqual({ id: 'u', name: '' });
    expect(toWpsUser({ id: 7 })).toBeUndefined();
    expect(toWpsUser(null)).toBeUndefined();
  });
});

describe('afterLogin', () => {
  it('gets the tokens and the profile, and its return value is stored as the user', async () => {
    const seen: WpsLoginInfo[] = [];
    const { agent } = app({
      afterLogin: async (_req, login) => {
        seen.push(login);
        // Settles on a later turn of the event loop, as a database lookup would.
        await new Promise((resolve) => setImmediate(resolve));
        return { ...(login.user ?? { id: '', name: '' }), name: 'Mapped', accountId: 'acct-42' };
      },
    });
    await signIn(agent);
    const stored = await session(agent);
    expect(seen).toHaveLength(1);
    expect(seen[0]?.user).toEqual(PROFILE);
    expect(seen[0]?.tokens.accessToken).toBe(stored?.tokens?.accessToken);
    expect(stored?.user).toEqual({ ...PROFILE, name: 'Mapped', accountId: 'acct-42' });
    await agent.get('/wps/user').expect(200, { user: { ...PROFILE, name: 'Mapped', accountId: 'acct-42' } });
  });

  it('keeps the profile when it returns nothing, and sees user undefined when fetchUser is off', async () => {
    const users: unknown[] = [];
    const { agent } = app({ fetchUser: false, afterLogin: (_req, { user }) => void users.push(user) });
    await signIn(agent);
    expect(users).toEqual([undefined]);
    expect((await session(agent))?.user).toBeUndefined();
  });

  it('refuses the login when it throws: 403 login_refused, nothing stored, the old session kept', async () => {
    const { t, agent } = app({
      afterLogin: (_req, { user }) =>
        user?.companyId === 'fake-company-1'
          ? Promise.reject(new Error('this company has no account here'))
          : Promise.resolve(),
    });
    const { callback, state } = await authorize(agent);
    const before = await agent.get('/test/session').expect(200);
    const res = await agent.get(callback).expect(403);
    expect(res.body).toEqual({
      code: 'login_refused',
      status: 403,
      message: 'The sign-in was refused by the app: this company has no account here',
    });
    expect(t.errors[0]).toMatchObject({ name: 'WpsAuthError', code: 'login_refused', status: 403, expose: true });
    const after = await agent.get('/test/session').expect(200);
    expect(after.body.id).toBe(before.body.id);
    expect(after.body.wps.tokens).toBeUndefined();
    expect(after.body.wps.user).toBeUndefined();
    // The state is spent: the same callback cannot be replayed.
    expect(((after.body.wps.pending ?? []) as { state: string }[]).map((p) => p.state)).not.toContain(state);
    expect(fake.tokenRequests('authorization_code')).toHaveLength(1);
    expect(t.logger.lines).toContain('info express-wps-oauth: callback: afterLogin refused the sign-in {}');
  });

  it('names a bad return value as misconfigured', async () => {
    const { agent } = app({ afterLogin: () => ({ id: 42 }) as never });
    const { callback } = await authorize(agent);
    const res = await agent.get(callback).expect(500);
    expect(res.body).toMatchObject({
      code: 'misconfigured',
      message:
        'express-wps-oauth: afterLogin must return nothing (keep the WPS profile) or a user object with a string id ' +
        'and name (stored as req.wps.user)',
    });
    expect((await session(agent))?.tokens).toBeUndefined();
  });
});
