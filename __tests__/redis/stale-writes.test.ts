import type express from 'express';
import { MemoryStore, type SessionData } from 'express-session';
import request from 'supertest';
import { createMemoryRefreshLock, type RefreshLock, type WpsClock, type WpsTokenRecord } from '../../lib';
import type { WpsRequestContext } from '../../lib/express/context';
import { POLL_SLACK_MS } from '../../lib/refresh/refresh-lock';
import { saveSession } from '../../lib/session/save';
import { createTestClock, type FakeWps } from '../../lib/testing';
import { CLIENT_ID, CLIENT_SECRET, createTestApp, memoryLogger, signIn } from '../helpers/app';
import { RECORD_KEY, storedRecord, withStoredRecord } from '../helpers/stored';
import { useFakeWps } from '../helpers/fake-wps';

// These run without Redis: the session guard and the refresh lock's fallback work the same on any store.

type Agent = ReturnType<typeof request.agent>;

/** Something to do once, just before the first store read that `when()` allows. */
interface ReadHook {
  when: () => boolean;
  run: () => Promise<unknown>;
}

/**
 * A MemoryStore that counts what it is asked, to show which requests cost store round trips; `beforeRead` lets a
 * test put a sibling's write exactly before a read of the library's.
 */
class CountingStore extends MemoryStore {
  gets = 0;
  sets = 0;
  beforeRead: ReadHook | undefined;
  override get(sid: string, cb: (err: unknown, session?: SessionData | null) => void): void {
    this.gets++;
    const hook = this.beforeRead;
    if (hook === undefined || !hook.when()) return super.get(sid, cb);
    this.beforeRead = undefined;
    hook.run().then(
      () => super.get(sid, cb),
      (err: unknown) => cb(err),
    );
  }
  override set(sid: string, data: SessionData, cb?: (err?: unknown) => void): void {
    this.sets++;
    super.set(sid, data, cb);
  }
}

/** What a counting lock adds to a RefreshLock. */
interface Counting {
  /** Calls of `acquire` (while not broken), whether they took the lock or found it held. */
  acquired: number;
  broken: boolean;
  inner: RefreshLock;
  /** Resolves once `acquire` has been called `n` times in all: a waiter that tries again is polling the lock. */
  triedTimes(n: number): Promise<void>;
}

/** A lock that counts acquisitions and can be broken, as a lock service that goes down. */
function countingLock(): RefreshLock & Counting {
  const inner = createMemoryRefreshLock();
  const waiting: { n: number; resolve: () => void }[] = [];
  const lock = {
    acquired: 0,
    broken: false,
    inner,
    triedTimes(n: number): Promise<void> {
      if (lock.acquired >= n) return Promise.resolve();
      return new Promise<void>((resolve) => waiting.push({ n, resolve }));
    },
    acquire(key: string, ttlMs: number) {
      // Like a real client's error: it names the key (a session id) it failed on.
      if (lock.broken) return Promise.reject(Object.assign(new Error(`SET ${key} failed`), { code: 'ECONNREFUSED' }));
      lock.acquired++;
      for (const w of waiting.filter((w) => lock.acquired >= w.n)) {
        waiting.splice(waiting.indexOf(w), 1);
        w.resolve();
      }
      return inner.acquire(key, ttlMs);
    },
    release(key: string, owner: string) {
      return lock.broken ? Promise.reject(new Error('lock service down')) : inner.release(key, owner);
    },
  };
  return lock;
}

interface Harness {
  app: express.Express;
  store: CountingStore;
  lock: ReturnType<typeof countingLock>;
  logger: ReturnType<typeof memoryLogger>;
  /** Resolves when a `/slow-*` request has loaded its session; `open()` lets it answer. */
  gate: { entered: Promise<void>; open(): void };
}

function harness(fake: FakeWps, options: { resave?: boolean; timeoutMs?: number; clock?: WpsClock } = {}): Harness {
  const lock = countingLock();
  let enter = () => {};
  let release = () => {};
  const armed = new Promise<void>((resolve) => (release = resolve));
  openGates.push(() => release());
  const entered = new Promise<void>((resolve) => (enter = resolve));

  const routes = (app: express.Express) => {
    app.get('/touch', (req, res) => {
      req.session.hits = (req.session.hits ?? 0) + 1;
      res.json({ hits: req.session.hits });
    });
    // Loads the session now, answers (and so saves) when the test opens the gate.
    app.get('/slow-touch', (req, res) => {
      req.session.hits = (req.session.hits ?? 0) + 1;
      enter();
      void armed.then(() => res.json({ rev: storedRecord(req.session)?.tokens?.rev }));
    });
    app.get('/slow-read', (req, res) => {
      enter();
      void armed.then(() => res.json({ rev: storedRecord(req.session)?.tokens?.rev }));
    });
    // Signs in again under a new session id, then a sibling stores a newer record under that id before we answer.
    app.get('/test/regenerate-race', async (req, res, next) => {
      try {
        const tokens = storedRecord(req.session)?.tokens as WpsTokenRecord;
        // What a sign-in does: a new session id through req.wps, then tokens in the new session.
        await (req.wps as WpsRequestContext).regenerate();
        req.session[RECORD_KEY] = { tokens: { ...tokens, rev: 1 } };
        await saveSession(req.session);
        const newer: WpsTokenRecord = { ...tokens, accessToken: 'sibling-access-token', rev: 2 };
        await new Promise((r) =>
          store.set(req.sessionID, { cookie: req.session.cookie, [RECORD_KEY]: { tokens: newer } }, r),
        );
        req.session.marker = 'written at the end of this request';
        res.json({ sid: req.sessionID });
      } catch (err) {
        next(err);
      }
    });
  };
  const store = new CountingStore();
  const t = createTestApp(
    fake,
    { refreshLock: lock, timeoutMs: options.timeoutMs, clock: options.clock },
    { store, resave: options.resave ?? false, routes },
  );
  return { app: t.app, store, lock, logger: t.logger, gate: { entered, open: () => release() } };
}

declare module 'express-session' {
  interface SessionData {
    hits?: number;
    marker?: string;
  }
}

function stored(store: MemoryStore, sid: string): Promise<SessionData | null | undefined> {
  return new Promise((resolve, reject) => store.get(sid, (err, data) => (err ? reject(err as Error) : resolve(data))));
}

function storedTokens(store: MemoryStore, sid: string): Promise<WpsTokenRecord | undefined> {
  return stored(store, sid).then((data) => storedRecord(data)?.tokens);
}

/** Write a record to the store as another instance's refresh would. */
async function siblingRefreshes(fake: FakeWps, store: MemoryStore, sid: string): Promise<WpsTokenRecord> {
  const data = (await stored(store, sid)) as SessionData;
  const current = storedRecord(data)?.tokens as WpsTokenRecord;
  const pair = fake.mintTokens();
  const record: WpsTokenRecord = {
    accessToken: pair.access_token,
    refreshToken: pair.refresh_token,
    tokenType: 'bearer',
    expiresAt: Date.now() + pair.expires_in * 1000,
    rev: current.rev + 1,
  };
  await new Promise((r) => store.set(sid, withStoredRecord(data, { ...storedRecord(data), tokens: record }), r));
  return record;
}

const fake = useFakeWps({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET });
/** Opens every harness's gate after each test, so that a failed test leaves no request hanging. */
const openGates: (() => void)[] = [];
afterEach(() => {
  for (const open of openGates.splice(0)) open();
});

async function signedIn(h: Harness): Promise<{ agent: Agent; sid: string }> {
  const agent = request.agent(h.app);
  await signIn(agent);
  const sid = (await agent.get('/test/session').expect(200)).body.id as string;
  return { agent, sid };
}

describe('a request that loaded the session before a refresh and saves after it', () => {
  it.each([
    ['resave: false, a handler that writes to the session', false, '/slow-touch'],
    ['resave: true, a handler that only reads', true, '/slow-read'],
  ])('does not put the old tokens back (%s)', async (_name, resave, slowPath) => {
    const h = harness(fake, { resave });
    const { agent, sid } = await signedIn(h);
    await agent.post('/test/expire').expect(200);
    const before = (await storedTokens(h.store, sid)) as WpsTokenRecord;
    fake.reset();

    const slow = agent.get(slowPath).then((r) => r);
    await h.gate.entered;
    await agent.get('/protected').expect(200);
    const refreshed = (await storedTokens(h.store, sid)) as WpsTokenRecord;
    expect(refreshed.rev).toBe(before.rev + 1);
    h.gate.open();
    expect((await slow).status).toBe(200);

    const after = await stored(h.store, sid);
    expect(storedRecord(after)?.tokens).toEqual(refreshed);
    if (!resave) expect(after?.hits).toBe(1);
    expect(h.logger.lines.filter((l) => l.includes('kept the newer tokens'))).toEqual([
      `debug express-wps-oauth: kept the newer tokens from the session store over this request's older copy {"rev":${refreshed.rev}}`,
    ]);
    // The stored refresh token is the live one: the next refresh works.
    await agent.post('/test/expire').expect(200);
    await agent.get('/protected').expect(200);
    expect(fake.tokenRequests('refresh_token').map((r) => r.form.refresh_token)).toEqual([
      before.refreshToken,
      refreshed.refreshToken,
    ]);
  });

  it('keeps the newer tokens through a session regenerated mid-request', async () => {
    const h = harness(fake);
    const { agent } = await signedIn(h);
    const { sid } = (await agent.get('/test/regenerate-race').expect(200)).body as { sid: string };
    const after = await stored(h.store, sid);
    expect(after?.marker).toBe('written at the end of this request');
    expect(storedRecord(after)?.tokens?.rev).toBe(2);
    expect(storedRecord(after)?.tokens?.accessToken).toBe('sibling-access-token');
  });

  it('waits for a refresh in flight elsewhere before saving a session whose token is due, then keeps its result', async () => {
    const h = harness(fake);
    const { agent, sid } = await signedIn(h);
    await agent.post('/test/expire').expect(200);
    const owner = (await h.lock.inner.acquire(sid, 10_000)) as string;
    const tried = h.lock.acquired;

    const touch = agent.get('/touch').then((r) => r);
    // Its save found the lock held and came back to it: it is waiting, unanswered, for the refresh in flight.
    const first = await Promise.race([
      h.lock.triedTimes(tried + 2).then(() => 'waiting'),
      touch.then(() => 'answered'),
    ]);
    expect(first).toBe('waiting');
    const newer = await siblingRefreshes(fake, h.store, sid);
    expect((await touch).status).toBe(200);

    const after = await stored(h.store, sid);
    expect(storedRecord(after)?.tokens).toEqual(newer);
    expect(after?.hits).toBe(1);
    // It adopted the result without taking the lock, which the sibling still holds.
    expect(await h.lock.inner.acquire(sid, 10_000)).toBeNull();
    await h.lock.inner.release(sid, owner);
  });

  it('waits while a refresh elsewhere holds the lock, and adopts its stored result without calling WPS', async () => {
    const h = harness(fake);
    const { agent, sid } = await signedIn(h);
    await agent.post('/test/expire').expect(200);
    const owner = (await h.lock.inner.acquire(sid, 10_000)) as string;
    fake.reset();
    const tried = h.lock.acquired;

    const pending = agent.get('/protected').then((r) => r);
    // Its refresh found the lock held and came back to it: it is waiting for the holder's result.
    const first = await Promise.race([
      h.lock.triedTimes(tried + 2).then(() => 'waiting'),
      pending.then(() => 'answered'),
    ]);
    expect(first).toBe('waiting');
    const newer = await siblingRefreshes(fake, h.store, sid);
    const res = await pending;
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ token: newer.accessToken, expiresAt: new Date(newer.expiresAt).toISOString() });
    expect(fake.tokenRequests()).toEqual([]);
    await h.lock.inner.release(sid, owner);
  });

  it('believes the store when WPS rejects a refresh token a sibling has just rotated', async () => {
    const h = harness(fake);
    const { agent, sid } = await signedIn(h);
    await agent.post('/test/expire').expect(200);
    fake.reset();
    fake.queueTokenFault({ status: 400, body: { code: 40000003, msg: 'invalid_grant' } });
    // The sibling stores its rotation once WPS has this request's refresh, before this request reads the store again.
    let sibling: WpsTokenRecord | undefined;
    h.store.beforeRead = {
      when: () => fake.tokenRequests('refresh_token').length === 1,
      run: async () => (sibling = await siblingRefreshes(fake, h.store, sid)),
    };

    const res = await agent.get('/protected');
    const newer = sibling as WpsTokenRecord;
    expect(newer).toBeDefined();
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ token: newer.accessToken, expiresAt: new Date(newer.expiresAt).toISOString() });
    expect((await storedTokens(h.store, sid))?.rev).toBe(newer.rev);
  });

  it('gives up after the lock TTL when a holder never finishes: wps_timeout, and the session is saved anyway', async () => {
    const timeoutMs = 300;
    const ttlMs = timeoutMs + 5000;
    const clock = createTestClock();
    const h = harness(fake, { timeoutMs, clock });
    const { agent, sid } = await signedIn(h);
    await agent.post('/test/expire').expect(200);
    // Held by a "sibling" that never finishes (on the system clock: it stays held whatever the test clock says).
    await h.lock.inner.acquire(sid, 60_000);
    fake.reset();
    /**
     * Send `path`; once it has tried the held lock, the whole lock TTL (and the waiters' polling slack) passes — on
     * the clock the library reads, not in real time. One request at a time, so the tries are surely its own.
     */
    const afterTheTtl = async (path: string) => {
      const tried = h.lock.acquired;
      const pending = agent.get(path).then((r) => r);
      await h.lock.triedTimes(tried + 1);
      clock.advance(ttlMs + POLL_SLACK_MS);
      return pending;
    };

    const started = Date.now();
    const token = await afterTheTtl('/protected');
    const touch = await afterTheTtl('/touch');
    const waited = Date.now() - started;

    expect(token.status).toBe(504);
    expect(token.body).toEqual({
      code: 'wps_timeout',
      status: 504,
      message: 'Timed out waiting for another instance to refresh the WPS token',
    });
    expect(touch.status).toBe(200);
    // It gave up because the clock said the TTL had passed, not after waiting it out.
    expect(waited).toBeLessThan(ttlMs);
    expect(fake.tokenRequests()).toEqual([]);
    expect((await stored(h.store, sid))?.hits).toBe(1);
    expect(h.logger.lines.filter((l) => l.includes('without the refresh lock'))).toEqual([
      'warn express-wps-oauth: saving the session without the refresh lock: it was held longer than its TTL {}',
    ]);
  });
});

describe('what the guard costs', () => {
  it('nothing on a request that does not save, one store read on a save, no lock while the token is fresh', async () => {
    const h = harness(fake);
    const { agent } = await signedIn(h);
    const counts = () => ({ gets: h.store.gets, sets: h.store.sets, locks: h.lock.acquired });

    let base = counts();
    await agent.get('/protected').expect(200);
    expect(counts()).toEqual({ gets: base.gets + 1, sets: base.sets, locks: base.locks });

    base = counts();
    await agent.get('/touch').expect(200);
    expect(counts()).toEqual({ gets: base.gets + 2, sets: base.sets + 1, locks: base.locks });

    // A session without tokens (a login in progress) is saved without reading the store. express-session before
    // 1.18 saves a new session once more at the end of the request, after the login route's own save.
    base = counts();
    await request(h.app).get('/auth/wps/login').expect(302);
    const loginSets = process.env.WPS_EXPRESS_SESSION === 'oldest' ? 2 : 1;
    expect(counts()).toEqual({ gets: base.gets, sets: base.sets + loginSets, locks: base.locks });
  });
});

describe('a refresh lock that goes down', () => {
  it('refreshes nothing while it is down — a still-valid token served, an expired one 503 — and says so once each way', async () => {
    const h = harness(fake);
    const { agent } = await signedIn(h);
    h.lock.broken = true;

    // Due for refresh but still valid for 30 s: served as it is, WPS not called.
    await agent.post('/test/expire?in=30000').expect(200);
    fake.reset();
    const served = await Promise.all(Array.from({ length: 20 }, () => agent.get('/protected')));
    expect(served.map((r) => r.status)).toEqual(Array(20).fill(200));
    expect(fake.tokenRequests('refresh_token')).toHaveLength(0);

    // Expired: another instance may be rotating this refresh token, so no refresh — a 503 to retry, tokens kept.
    await agent.post('/test/expire').expect(200);
    const refused = await Promise.all(Array.from({ length: 20 }, () => agent.get('/protected')));
    expect(refused.map((r) => [r.status, r.body.code])).toEqual(Array(20).fill([503, 'store_unavailable']));
    expect(fake.tokenRequests('refresh_token')).toHaveLength(0);

    h.lock.broken = false;
    await agent.get('/protected').expect(200);
    expect(fake.tokenRequests('refresh_token')).toHaveLength(1);

    const said = h.logger.lines.filter((l) => /refresh lock (unavailable|available again)/.test(l));
    expect(said).toEqual([
      'error express-wps-oauth: refresh lock unavailable; no refresh until it is back (another instance may be ' +
        'rotating the same refresh token): newer stored tokens are adopted, still-valid access tokens served, other ' +
        'requests answered 503 {"reason":"Error ECONNREFUSED"}',
      'info express-wps-oauth: refresh lock available again; refreshing across instances {}',
    ]);
  });
});
