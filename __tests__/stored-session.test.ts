import request from 'supertest';
import { requireWpsToken } from '../lib';
import { CLIENT_ID, CLIENT_SECRET, createTestApp, signIn, type TestApp } from './helpers/app';
import { useFakeWps } from './helpers/fake-wps';
import { countSets, RECORD_KEY, sessionsOf, storedRecord } from './helpers/stored';

const fake = useFakeWps({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET });
let t: TestApp;

beforeEach(() => {
  t = createTestApp(
    fake,
    {},
    {
      routes: (a) => {
        a.get('/direct', (req, res) =>
          res.json({ type: typeof req.session[RECORD_KEY], keys: Object.keys(storedRecord(req.session) ?? {}) }),
        );
        a.get('/reload', requireWpsToken({ unauthenticated: 'error' }), (req, res, next) => {
          req.session.reload((err) =>
            err ? next(err) : res.json({ authenticated: req.wps.isAuthenticated(), token: req.wps.accessToken }),
          );
        });
      },
    },
  );
});

async function signedIn(): Promise<{ agent: ReturnType<typeof request.agent>; sid: string }> {
  const agent = request.agent(t.app);
  await signIn(agent);
  const sid = (await agent.get('/test/session').expect(200)).body.id as string;
  return { agent, sid };
}

describe('the session as stored', () => {
  it('keeps the record as a plain object under its own key, at rest and in memory', async () => {
    const { agent, sid } = await signedIn();
    const raw = JSON.parse(sessionsOf(t.store)[sid] as string) as Record<string, unknown>;
    expect(typeof raw[RECORD_KEY]).toBe('object');
    expect(raw.wps).toBeUndefined();
    const stored = storedRecord(raw);
    expect(Object.keys(stored ?? {})).toEqual(['tokens', 'user']);
    expect((await agent.get('/direct').expect(200)).body).toEqual({ type: 'object', keys: ['tokens', 'user'] });
    const token = (await agent.get('/protected').expect(200)).body.token as string;
    expect(token).toBe(stored?.tokens?.accessToken);
  });

  it('is not written again by requests that change nothing, and stays byte for byte the same', async () => {
    const { agent, sid } = await signedIn();
    const before = sessionsOf(t.store)[sid];
    const sets = countSets(t.store);
    for (let i = 0; i < 5; i++) await agent.get('/protected').expect(200);
    await agent.get('/').expect(200);
    expect(sets.count).toBe(0);
    expect(sessionsOf(t.store)[sid]).toBe(before);
  });

  it('reads a session whose keys were stored in another order without rewriting it', async () => {
    const { agent, sid } = await signedIn();
    const raw = JSON.parse(sessionsOf(t.store)[sid] as string) as Record<string, unknown>;
    const wps = storedRecord(raw) ?? {};
    const reordered = { user: wps.user, pending: [], tokens: wps.tokens };
    sessionsOf(t.store)[sid] = JSON.stringify({ ...raw, [RECORD_KEY]: reordered });
    const sets = countSets(t.store);
    expect((await agent.get('/protected').expect(200)).body.token).toBe(wps.tokens?.accessToken);
    expect(sets.count).toBe(0);
    expect(storedRecord(JSON.parse(sessionsOf(t.store)[sid] as string))).toEqual(reordered);
  });

  it('survives req.session.reload() in the middle of a request', async () => {
    const { agent } = await signedIn();
    const token = (await agent.get('/protected').expect(200)).body.token as string;
    expect((await agent.get('/reload').expect(200)).body).toEqual({ authenticated: true, token });
  });

  it.each([
    ['a string (the packed form of earlier previews, or garbage)', '{"tokens":{}}'],
    ['an array', [1, 2]],
    ['a number', 42],
    ['null', null],
    ['a record whose tokens have the wrong shape', { tokens: { accessToken: 1 } }],
  ])('treats a stored record that is %s as signed out, without an error of ours', async (_what, value) => {
    const { agent, sid } = await signedIn();
    const raw = JSON.parse(sessionsOf(t.store)[sid] as string) as Record<string, unknown>;
    sessionsOf(t.store)[sid] = JSON.stringify({ ...raw, [RECORD_KEY]: value });
    expect((await agent.get('/api/error-mode').expect(401)).body.code).toBe('login_required');
    expect((await agent.get('/').expect(200)).body).toEqual({ authenticated: false });
    // Signing in again replaces it.
    await signIn(agent);
    await agent.get('/api/error-mode').expect(200);
  });
});
