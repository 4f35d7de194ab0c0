import request from 'supertest';
import { expireAgentAccessToken, signedInAgent } from '../../lib/testing';
import { CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, type TestApp } from '../helpers/app';
import { clientApp, OWN_ORIGIN, sessionOf } from './helpers';
import { useFakeWps } from '../helpers/fake-wps';

// signedInAgent(agent, fake, { via: 'client', origin }): a test's agent signed in as a page inside the WPS client.

const fake = useFakeWps({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUris: [REDIRECT_URI] });
let t: TestApp;

beforeEach(() => {
  t = clientApp(fake);
});

it('signs in with one POST to the client route: no login route, no authorize page', async () => {
  const agent = await signedInAgent(request.agent(t.app), fake, { via: 'client', origin: OWN_ORIGIN });
  expect((await agent.get('/protected').expect(200)).body.token).toMatch(/^fake_at_/);
  expect(fake.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['POST /oauth2/token', 'GET /v7/users/current']);
  expect(fake.tokenRequests()[0]?.form).toMatchObject({ grant_type: 'authorization_code', redirect_uri: REDIRECT_URI });
});

it('signs in the given user with the given lifetimes, landing on returnTo', async () => {
  const agent = await signedInAgent(request.agent(t.app), fake, {
    via: 'client',
    origin: OWN_ORIGIN,
    user: { id: 'ada-1', name: 'Ada' },
    accessTokenTtlSeconds: 120,
    returnTo: '/dashboard',
  });
  const stored = await sessionOf(agent);
  expect(stored.wps?.user).toMatchObject({ id: 'ada-1', name: 'Ada' });
  const { expiresAt } = (await agent.get('/protected').expect(200)).body as { expiresAt: string };
  expect(Date.parse(expiresAt) - Date.now()).toBeLessThanOrEqual(120_000);
});

it('leaves an agent that expireAgentAccessToken() can age: the next request refreshes through the fake', async () => {
  const agent = await signedInAgent(request.agent(t.app), fake, { via: 'client', origin: OWN_ORIGIN });
  await expireAgentAccessToken(agent);
  await agent.get('/protected').expect(200);
  expect(fake.tokenRequests('refresh_token')).toHaveLength(1);
});

it('uses clientSignInPath as the browser sees it', async () => {
  t = clientApp(fake, { clientSignInPath: '/wps/in-client' });
  const agent = await signedInAgent(request.agent(t.app), fake, {
    via: 'client',
    origin: OWN_ORIGIN,
    clientSignInPath: '/wps/in-client',
  });
  await agent.get('/protected').expect(200);
});

describe('says what is wrong', () => {
  it('without origin', async () => {
    await expect(signedInAgent(request.agent(t.app), fake, { via: 'client' })).rejects.toThrow(
      new TypeError(
        "signedInAgent: via 'client' needs the origin of the page that posts the code — your redirectUri's origin " +
          "or one of your trustedOrigins — e.g. { via: 'client', origin: 'http://localhost:3000' }",
      ),
    );
  });

  it('with an origin the app refuses: the step, the status and the start of the body', async () => {
    await expect(
      signedInAgent(request.agent(t.app), fake, { via: 'client', origin: 'http://localhost:3000' }),
    ).rejects.toThrow(
      new Error(
        'signedInAgent: the client sign-in (POST /auth/wps/client-sign-in on the app) failed: it answered 403 ' +
          'instead of 200 {"signedIn": true, …}; the body starts: "{\\"error\\":\\"forbidden_origin\\",\\"message\\":' +
          "\\\"This route takes codes only from the pages of this app's origins (redirectUri's and trustedOrigins): " +
          'the Origin header names another origin, or none\\"}"',
      ),
    );
  });

  it('with a returnTo the app does not keep', async () => {
    await expect(
      signedInAgent(request.agent(t.app), fake, { via: 'client', origin: OWN_ORIGIN, returnTo: '//evil.example' }),
    ).rejects.toThrow(
      'signedInAgent: the client sign-in (POST /auth/wps/client-sign-in on the app) failed: it answered returnTo "/" ' +
        'instead of "//evil.example" (the app keeps only paths of its own origin)',
    );
  });

  it('with scopes, which only the redirect sign-in shows', async () => {
    await expect(
      signedInAgent(request.agent(t.app), fake, { via: 'client', origin: OWN_ORIGIN, scopes: ['kso.user_base.read'] }),
    ).rejects.toThrow(new TypeError("signedInAgent: scopes is checked on the redirect sign-in only (via: 'redirect')"));
  });

  it('with an agent that cannot post', async () => {
    const agent = request.agent(t.app);
    const getOnly = { get: (url: string) => agent.get(url), jar: agent.jar };
    await expect(signedInAgent(getOnly, fake, { via: 'client', origin: OWN_ORIGIN })).rejects.toThrow(
      new TypeError("signedInAgent: via 'client' posts to the app: the agent needs post(), as request.agent(app)"),
    );
  });
});
