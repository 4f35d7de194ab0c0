import request from 'supertest';
import type { SessionData } from 'express-session';
import { authorize, CLIENT_ID, CLIENT_SECRET, createTestApp, REDIRECT_URI, type TestApp } from '../helpers/app';
import { watchForCrashes, type CrashWatch } from './helpers/guards';
import { RECORD_KEY, storedRecord, type StoredRecord } from '../helpers/stored';
import { useFakeWps } from '../helpers/fake-wps';

type Agent = ReturnType<typeof request.agent>;

const TEN_MINUTES = 10 * 60 * 1000;

const fake = useFakeWps({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUris: [REDIRECT_URI] });
let t: TestApp;
let crashes: CrashWatch;

beforeAll(() => {
  crashes = watchForCrashes();
});
afterAll(() => {
  crashes.stop();
});
beforeEach(() => {
  t = createTestApp(fake);
});
afterEach(() => {
  jest.restoreAllMocks();
  expect(crashes.rejections).toEqual([]);
  expect(crashes.exceptions).toEqual([]);
});

interface StartedLogin {
  state: string;
  /** The WPS authorize URL (through which the fake issues a code for this state). */
  location: string;
}

async function startLogin(agent: Agent, query = ''): Promise<StartedLogin & { cookie: string | undefined }> {
  const res = await agent.get(`/auth/wps/login${query}`).expect(302);
  const location = res.headers.location as string;
  const cookie = (res.headers['set-cookie'] as unknown as string[] | undefined)?.[0]?.split(';')[0];
  return { location, cookie, state: new URL(location).searchParams.get('state') ?? '' };
}

/** The callback path (with a fresh code from the fake) for a login started earlier. */
async function callbackFor(login: StartedLogin): Promise<string> {
  const auth = await request(login.location).get('').redirects(0).expect(302);
  const back = new URL(auth.headers.location as string);
  return `${back.pathname}${back.search}`;
}

async function sessionOf(agent: Agent): Promise<{ id: string; wps: StoredRecord | null }> {
  return (await agent.get('/test/session').expect(200)).body as { id: string; wps: StoredRecord | null };
}

/** Size in bytes of the session as the store holds it. */
function storedBytes(id: string): Promise<number> {
  return new Promise((resolve, reject) => {
    t.store.get(id, (err, data) =>
      err ? reject(err as Error) : resolve(Buffer.byteLength(JSON.stringify(data ?? null))),
    );
  });
}

function rewriteStored(id: string, edit: (s: SessionData & Record<string, unknown>) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    t.store.get(id, (err, data) => {
      if (err || !data) return reject((err as Error | undefined) ?? new Error('no session'));
      edit(data as SessionData & Record<string, unknown>);
      t.store.set(id, data, (e) => (e ? reject(e as Error) : resolve()));
    });
  });
}

describe('replay', () => {
  it('a state is single-use even when the code exchange failed', async () => {
    const agent = request.agent(t.app);
    const { callback } = await authorize(agent);
    fake.queueTokenFault({ status: 502, body: 'bad gateway' });
    expect((await agent.get(callback).expect(502)).body.code).toBe('wps_unavailable');
    fake.reset();
    expect((await agent.get(callback).expect(400)).body.code).toBe('state_mismatch');
    expect(fake.tokenRequests()).toHaveLength(0);
  });

  it('a used callback replayed with the pre-login cookie finds a destroyed session', async () => {
    const agent = request.agent(t.app);
    const login = await startLogin(agent);
    const callback = await callbackFor(login);
    const cookie = login.cookie as string;
    expect((await request(t.app).get('/test/session').set('Cookie', cookie).expect(200)).body.wps.pending).toHaveLength(
      1,
    );
    await agent.get(callback).expect(302);
    fake.reset();
    expect((await request(t.app).get('/test/session').set('Cookie', cookie).expect(200)).body.wps).toBeNull();
    const replay = await request(t.app).get(callback).set('Cookie', cookie).expect(400);
    expect(replay.body.code).toBe('state_mismatch');
    expect(fake.tokenRequests()).toHaveLength(0);
  });

  it('two copies of one callback racing: one signs in, the other fails, tokens land in one session only', async () => {
    const login = await startLogin(request.agent(t.app));
    const callback = await callbackFor(login);
    const cookie = login.cookie as string;
    const [a, b] = await Promise.all([
      request(t.app).get(callback).set('Cookie', cookie),
      request(t.app).get(callback).set('Cookie', cookie),
    ]);
    expect([a.status, b.status].sort()).toEqual([302, 400]);
    const loser = a.status === 400 ? a : b;
    // Both requests may load the session before either saves it: then WPS's single-use code stops the second
    // exchange; otherwise the state check stops it before WPS is called.
    const exchanges = fake.tokenRequests('authorization_code').length;
    expect(loser.body.code).toBe(exchanges === 2 ? 'wps_rejected' : 'state_mismatch');
    expect([1, 2]).toContain(exchanges);
    expect(loser.headers['set-cookie']).toBeUndefined();
    const winner = a.status === 302 ? a : b;
    const winnerCookie = (winner.headers['set-cookie'] as unknown as string[])[0]?.split(';')[0] as string;
    const tokensIn = async (c: string) =>
      (await request(t.app).get('/test/session').set('Cookie', c).expect(200)).body.wps?.tokens;
    expect(await tokensIn(winnerCookie)).toMatchObject({ rev: 1 });
    expect(await tokensIn(cookie)).toBeUndefined();
  });
});

describe('cross-session', () => {
  it("a state from session A fails in session B without a token call, and consumes neither A's nor B's login", async () => {
    const a = request.agent(t.app);
    const b = request.agent(t.app);
    const loginA = await startLogin(a, '?returnTo=/a');
    const loginB = await startLogin(b, '?returnTo=/b');
    const callbackA = await callbackFor(loginA);
    fake.reset();
    expect((await b.get(callbackA).expect(400)).body.code).toBe('state_mismatch');
    expect(fake.tokenRequests()).toHaveLength(0);
    expect((await sessionOf(b)).wps?.pending?.map((p) => p.state)).toEqual([loginB.state]);
    // Both users can still finish their own sign-in.
    expect((await a.get(callbackA).expect(302)).headers.location).toBe('/a');
    expect((await b.get(await callbackFor(loginB)).expect(302)).headers.location).toBe('/b');
  });

  it('a forged callback in a browser without a session creates no session', async () => {
    const attacker = request.agent(t.app);
    const callback = await callbackFor(await startLogin(attacker));
    const victim = await request(t.app).get(callback).expect(400);
    expect(victim.body.code).toBe('state_mismatch');
    expect(victim.headers['set-cookie']).toBeUndefined();
  });
});

describe('expiry', () => {
  it('accepts a state 1 ms before 10 minutes and refuses it at 10 minutes', async () => {
    const young = request.agent(t.app);
    const old = request.agent(t.app);
    const realNow = Date.now;
    const started = realNow();
    jest.spyOn(Date, 'now').mockReturnValue(started);
    const youngCallback = await callbackFor(await startLogin(young));
    const oldCallback = await callbackFor(await startLogin(old));
    fake.reset();

    jest.spyOn(Date, 'now').mockReturnValue(started + TEN_MINUTES - 1);
    await young.get(youngCallback).expect(302);
    jest.spyOn(Date, 'now').mockReturnValue(started + TEN_MINUTES);
    expect((await old.get(oldCallback).expect(400)).body.code).toBe('state_mismatch');
    expect(fake.tokenRequests()).toHaveLength(1);
  });

  it('drops expired pending logins at the next login, so a session never keeps dead states', async () => {
    const agent = request.agent(t.app);
    const started = Date.now();
    const clock = jest.spyOn(Date, 'now').mockReturnValue(started);
    for (let i = 0; i < 5; i++) await startLogin(agent);
    expect((await sessionOf(agent)).wps?.pending).toHaveLength(5);
    clock.mockReturnValue(started + TEN_MINUTES);
    const fresh = await startLogin(agent);
    expect((await sessionOf(agent)).wps?.pending?.map((p) => p.state)).toEqual([fresh.state]);
  });
});

describe('many pending logins (one session, many tabs or a script)', () => {
  it('keeps the newest 10 of 100 by default, oldest dropped first, and the session stops growing', async () => {
    const agent = request.agent(t.app);
    const logins: StartedLogin[] = [];
    const sizes: number[] = [];
    for (let i = 0; i < 100; i++) {
      logins.push(await startLogin(agent, `?returnTo=/tab/${String(i).padStart(3, '0')}`));
      if (i === 9 || i === 99) sizes.push(await storedBytes((await sessionOf(agent)).id));
    }
    const pending = (await sessionOf(agent)).wps?.pending ?? [];
    expect(pending.map((p) => p.state)).toEqual(logins.slice(90).map((l) => l.state));
    // Bounded: 100 logins take exactly as much room as 10.
    expect(sizes[1]).toBe(sizes[0]);

    fake.reset();
    for (const dropped of [logins[0], logins[50], logins[89]]) {
      expect((await agent.get(await callbackFor(dropped as StartedLogin)).expect(400)).body.code).toBe(
        'state_mismatch',
      );
    }
    expect(fake.tokenRequests()).toHaveLength(0);
    // The oldest kept and the newest both still work (each sign-in keeps the other tabs' logins).
    expect((await agent.get(await callbackFor(logins[90] as StartedLogin)).expect(302)).headers.location).toBe(
      '/tab/090',
    );
    expect((await agent.get(await callbackFor(logins[99] as StartedLogin)).expect(302)).headers.location).toBe(
      '/tab/099',
    );
  });

  it('honours maxPendingLogins: 100 (the maximum): the 101st login drops only the first', async () => {
    t = createTestApp(fake, { maxPendingLogins: 100 });
    const agent = request.agent(t.app);
    const logins: StartedLogin[] = [];
    for (let i = 0; i < 101; i++) logins.push(await startLogin(agent));
    expect((await sessionOf(agent)).wps?.pending).toHaveLength(100);
    expect((await agent.get(await callbackFor(logins[0] as StartedLogin)).expect(400)).body.code).toBe(
      'state_mismatch',
    );
    await agent.get(await callbackFor(logins[1] as StartedLogin)).expect(302);
  });

  it('refuses maxPendingLogins above 100 at setup', () => {
    expect(() => createTestApp(fake, { maxPendingLogins: 101 })).toThrow(
      /maxPendingLogins must be less than or equal to 100/,
    );
  });

  it.each([
    [10, 24 * 1024],
    [100, 230 * 1024],
  ])(
    'with maxPendingLogins %i, more logins than that with the longest returnTo stay under %i bytes',
    async (max, bound) => {
      t = createTestApp(fake, { maxPendingLogins: max });
      const agent = request.agent(t.app);
      const longest = `/${'a'.repeat(2047)}`;
      for (let i = 0; i < max + 20; i++) await startLogin(agent, `?returnTo=${longest}`);
      const s = await sessionOf(agent);
      expect(s.wps?.pending).toHaveLength(max);
      expect(s.wps?.pending?.[0]?.returnTo).toBe(longest);
      expect(await storedBytes(s.id)).toBeLessThan(bound);
    },
  );
});

describe('a corrupted session store (never trust its shape)', () => {
  it.each([
    [
      'a pending list with junk entries',
      (s: Record<string, unknown>) => ({ ...s, pending: [null, 42, 'x', { state: 5 }, { createdAt: 'soon' }] }),
    ],
    ['a pending list that is an object', () => ({ pending: { state: 'x' } })],
    ['a pending list that is a string', () => ({ pending: 'garbage' })],
  ])('login and callback survive %s', async (_name, corrupt) => {
    const agent = request.agent(t.app);
    const first = await startLogin(agent);
    const id = (await sessionOf(agent)).id;
    await rewriteStored(id, (s) => {
      s[RECORD_KEY] = JSON.stringify(corrupt((storedRecord(s) ?? {}) as Record<string, unknown>));
    });
    fake.reset();
    expect((await agent.get('/auth/wps/callback?code=kso_ac_x.y&state=forged').expect(400)).body.code).toBe(
      'state_mismatch',
    );
    const second = await startLogin(agent);
    await agent.get(await callbackFor(second)).expect(302);
    expect(first.state).not.toBe(second.state);
  });
});
