import { randomBytes } from 'node:crypto';
import { RedisStore } from 'connect-redis';
import { MemoryStore, type Store } from 'express-session';
import request from 'supertest';
import { requireWpsToken, wpsAuth, type WpsAuthOptions, type WpsTokenRecord } from '../lib';
import { resolveConfig } from '../lib/config';
import { deriveTokenKey, TokenSealer } from '../lib/session/token-sealer';
import {
  authorize,
  CLIENT_ID,
  CLIENT_SECRET,
  createTestApp,
  openTokens,
  REDIRECT_URI,
  signIn,
  type TestApp,
} from './helpers/app';
import { countSets, sessionsOf, storedRecord, withStoredRecord, type StoredRecord } from './helpers/stored';
import { connectRedis, deleteKeys, describeRedis, uniquePrefix, type Redis } from './redis/helpers';
import { useFakeWps } from './helpers/fake-wps';

const KEY = randomBytes(32).toString('base64');
const OLD_KEY = randomBytes(32).toString('base64');
const OTHER_KEY = randomBytes(32);

const fake = useFakeWps({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET });

/** MemoryStore keeps each session as the JSON string it would send to any other store: that is the dump. */
function dump(t: TestApp): string {
  return Object.values(sessionsOf(t.store)).join('\n');
}

/** `wps.tokens` exactly as the store holds it. */
function rawTokens(t: TestApp, sid: string): unknown {
  const json = sessionsOf(t.store)[sid];
  return json === undefined ? undefined : storedRecord(JSON.parse(json))?.tokens;
}

function setRawTokens(t: TestApp, sid: string, tokens: unknown): void {
  const stored = JSON.parse(sessionsOf(t.store)[sid] as string) as object;
  sessionsOf(t.store)[sid] = JSON.stringify(
    withStoredRecord(stored, { ...storedRecord(stored), tokens } as StoredRecord),
  );
}

/** Another app's sessions, as if both apps shared one store. */
function copySessions(from: TestApp, to: TestApp): void {
  Object.assign(sessionsOf(to.store), sessionsOf(from.store));
}

/** Sign in on `t` and return the session cookie (`connect.sid=…`) and the session id. */
async function signInCookie(t: TestApp): Promise<{ cookie: string; sid: string }> {
  const agent = request.agent(t.app);
  const { callback } = await authorize(agent);
  const res = await agent.get(callback).expect(302);
  const header = (res.headers['set-cookie'] as unknown as string[] | undefined)?.find((c) =>
    c.startsWith('connect.sid='),
  );
  if (header === undefined) throw new Error('the callback set no session cookie');
  const cookie = header.split(';')[0] as string;
  const sid = (await request(t.app).get('/test/session').set('Cookie', cookie).expect(200)).body.id as string;
  return { cookie, sid };
}

async function tokensIn(t: TestApp, cookie: string): Promise<WpsTokenRecord> {
  return (await request(t.app).get('/test/session').set('Cookie', cookie).expect(200)).body.wps
    .tokens as WpsTokenRecord;
}

function kidOf(sealed: unknown): string {
  return String(sealed).split(':')[2] ?? '';
}

describe('tokenEncryptionKey: tokens at rest', () => {
  it('signs in, serves a protected route and refreshes, with no token in the store dump', async () => {
    const t = createTestApp(fake, { tokenEncryptionKey: KEY });
    const { cookie, sid } = await signInCookie(t);
    const first = await tokensIn(t, cookie);
    expect(first).toMatchObject({ tokenType: 'bearer', rev: 1 });

    const served = await request(t.app).get('/protected').set('Cookie', cookie).expect(200);
    expect(served.body.token).toBe(first.accessToken);

    await request(t.app).post('/test/expire').set('Cookie', cookie).expect(200);
    const refreshed = await request(t.app).get('/api/error-mode').set('Cookie', cookie).expect(200);
    expect(fake.tokenRequests('refresh_token').map((r) => r.form.refresh_token)).toEqual([first.refreshToken]);
    const second = await tokensIn(t, cookie);
    expect(refreshed.body.token).toBe(second.accessToken);
    expect(second.rev).toBe(2);
    expect(second.accessToken).not.toBe(first.accessToken);

    const stored = dump(t);
    for (const secret of [first.accessToken, first.refreshToken, second.accessToken, second.refreshToken]) {
      expect(stored).not.toContain(secret as string);
    }
    expect(rawTokens(t, sid)).toMatch(/^wpsenc:v1:[0-9a-f]{8}:[\w-]{16}:[\w-]+:[\w-]{22}$/);
    // The profile stays readable: only the token record is sealed.
    expect(storedRecord(JSON.parse(sessionsOf(t.store)[sid] as string))?.user?.id).toEqual(expect.any(String));
  });

  it('stores tokens as they are, and leaves the store alone, when the option is off', async () => {
    const t = createTestApp(fake);
    const { cookie, sid } = await signInCookie(t);
    expect(rawTokens(t, sid)).toEqual(await tokensIn(t, cookie));
    // Identity checks only: the store was not wrapped.
    /* eslint-disable @typescript-eslint/unbound-method */
    expect(t.store.get).toBe(MemoryStore.prototype.get);
    expect(t.store.set).toBe(MemoryStore.prototype.set);
    /* eslint-enable @typescript-eslint/unbound-method */
  });

  it('does not save a session that a request did not change (resave: false)', async () => {
    const t = createTestApp(fake, { tokenEncryptionKey: KEY });
    const { cookie, sid } = await signInCookie(t);
    const sealed = rawTokens(t, sid);
    const sets = countSets(t.store);
    await request(t.app).get('/protected').set('Cookie', cookie).expect(200);
    await request(t.app).get('/api/error-mode').set('Cookie', cookie).expect(200);
    await request(t.app).get('/').set('Cookie', cookie).expect(200);
    expect(sets.count).toBe(0);
    expect(rawTokens(t, sid)).toBe(sealed);

    await request(t.app).post('/test/expire?in=3600000').set('Cookie', cookie).expect(200);
    expect(sets.count).toBe(1);
    // Sealed again with a fresh IV: a new string for the same key.
    expect(rawTokens(t, sid)).not.toBe(sealed);
    expect(kidOf(rawTokens(t, sid))).toBe(kidOf(sealed));
  });

  it('a save in the middle of a request leaves that request signed in, with its tokens sealed at rest', async () => {
    const t = createTestApp(fake, { tokenEncryptionKey: KEY });
    t.app.get('/test/save-then-read', (req, res, next) => {
      req.session.save((err) => {
        if (err) return next(err);
        res.json({
          authenticated: req.wps.isAuthenticated(),
          token: openTokens(req)?.accessToken ?? null,
        });
      });
    });
    const { cookie, sid } = await signInCookie(t);
    const { accessToken } = await tokensIn(t, cookie);
    const res = await request(t.app).get('/test/save-then-read').set('Cookie', cookie).expect(200);
    expect(res.body).toEqual({ authenticated: true, token: accessToken });
    expect(rawTokens(t, sid)).toMatch(/^wpsenc:v1:/);
  });

  it('opens sessions loaded while the store was being wrapped (the first requests after a start)', async () => {
    const before = createTestApp(fake, { tokenEncryptionKey: KEY });
    const { cookie } = await signInCookie(before);
    const t = createTestApp(fake, { tokenEncryptionKey: KEY });
    copySessions(before, t);

    // Hold the first load until a second request has gone all the way through wpsAuth (which wraps the store).
    // Called below with .call(t.store), never detached.
    // eslint-disable-next-line @typescript-eslint/unbound-method
    const get = t.store.get;
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      let first = true;
      t.store.get = function heldGet(this: Store, sid, callback) {
        if (!first) return get.call(this, sid, callback);
        first = false;
        get.call(this, sid, (err, sess) => {
          release = () => callback(err, sess);
          resolve();
        });
      };
    });
    const early = request(t.app)
      .get('/api/error-mode')
      .set('Cookie', cookie)
      .then((res) => res);
    await held;
    const late = await request(t.app).get('/api/error-mode').set('Cookie', cookie);
    release();
    expect([(await early).status, late.status]).toEqual([200, 200]);
    expect((await early).body.token).toBe(late.body.token);
  });
});

describe('tokenEncryptionKey: rotation and migration', () => {
  it('reads records sealed with an older key in the list and seals them with the first key at the next save', async () => {
    const old = createTestApp(fake, { tokenEncryptionKey: OLD_KEY });
    const { cookie, sid } = await signInCookie(old);
    const tokens = await tokensIn(old, cookie);
    const oldKid = kidOf(rawTokens(old, sid));

    const rotated = createTestApp(fake, { tokenEncryptionKey: [KEY, OLD_KEY] });
    // The app's first request wraps its store. A session loaded before that is opened in place, which express-session
    // sees as a change and saves (sealed with the first key): keep this session out of it.
    await request(rotated.app).get('/').expect(200);
    copySessions(old, rotated);
    expect((await request(rotated.app).get('/protected').set('Cookie', cookie).expect(200)).body.token).toBe(
      tokens.accessToken,
    );
    expect(kidOf(rawTokens(rotated, sid))).toBe(oldKid);

    await request(rotated.app).post('/test/expire?in=3600000').set('Cookie', cookie).expect(200);
    const newKid = kidOf(rawTokens(rotated, sid));
    expect(newKid).toMatch(/^[0-9a-f]{8}$/);
    expect(newKid).not.toBe(oldKid);

    // Now only the new key is needed, and the old one alone no longer opens it.
    const newOnly = createTestApp(fake, { tokenEncryptionKey: KEY });
    copySessions(rotated, newOnly);
    expect((await request(newOnly.app).get('/api/error-mode').set('Cookie', cookie).expect(200)).body.token).toBe(
      tokens.accessToken,
    );
    const oldOnly = createTestApp(fake, { tokenEncryptionKey: OLD_KEY });
    copySessions(rotated, oldOnly);
    await request(oldOnly.app).get('/api/error-mode').set('Cookie', cookie).expect(401);
  });

  it('keeps sessions stored before encryption was turned on, and seals them at their next save', async () => {
    const plain = createTestApp(fake);
    const { cookie, sid } = await signInCookie(plain);
    const tokens = await tokensIn(plain, cookie);
    const t = createTestApp(fake, { tokenEncryptionKey: KEY });
    copySessions(plain, t);
    expect((await request(t.app).get('/protected').set('Cookie', cookie).expect(200)).body.token).toBe(
      tokens.accessToken,
    );
    await request(t.app).post('/test/expire?in=3600000').set('Cookie', cookie).expect(200);
    expect(rawTokens(t, sid)).toMatch(/^wpsenc:v1:/);
    expect(dump(t)).not.toContain(tokens.accessToken);
  });
});

describe('tokenEncryptionKey: records that do not open count as signed out', () => {
  async function expectSignedOut(t: TestApp, cookie: string, reason: string, sealed: string): Promise<void> {
    // Twice: the first request opens its session itself (loaded before the store was wrapped), the next through
    // the wrapped store.
    for (let i = 0; i < 2; i++) {
      const res = await request(t.app).get('/api/error-mode').set('Cookie', cookie).expect(401);
      expect(res.body.code).toBe('login_required');
    }
    expect((await request(t.app).get('/').set('Cookie', cookie).expect(200)).body.authenticated).toBe(false);
    const warnings = t.logger.lines.filter((l) => l.startsWith('warn '));
    expect(warnings).toContain(
      'warn express-wps-oauth: could not decrypt the WPS tokens stored in this session; treating it as signed out ' +
        `{"reason":"${reason}"}`,
    );
    for (const part of sealed.split(':').slice(3)) expect(t.logger.lines.join('\n')).not.toContain(part);
    expect(t.errors.filter((e) => (e as { status?: number }).status !== 401)).toEqual([]);
  }

  it('a record sealed with a key that is not in the list', async () => {
    const other = createTestApp(fake, { tokenEncryptionKey: OTHER_KEY });
    const { cookie, sid } = await signInCookie(other);
    const t = createTestApp(fake, { tokenEncryptionKey: KEY });
    copySessions(other, t);
    await expectSignedOut(t, cookie, 'unknown_key', rawTokens(t, sid) as string);
  });

  it('a tampered record', async () => {
    const t = createTestApp(fake, { tokenEncryptionKey: KEY });
    const { cookie, sid } = await signInCookie(t);
    const parts = String(rawTokens(t, sid)).split(':');
    const body = parts[4] as string;
    parts[4] = (body[0] === 'A' ? 'B' : 'A') + body.slice(1);
    setRawTokens(t, sid, parts.join(':'));
    await expectSignedOut(t, cookie, 'authentication_failed', parts.join(':'));
  });

  it("a record copied into another user's session", async () => {
    const t = createTestApp(fake, { tokenEncryptionKey: KEY });
    const victim = await signInCookie(t);
    const attacker = await signInCookie(t);
    const stolen = rawTokens(t, victim.sid) as string;
    setRawTokens(t, attacker.sid, stolen);
    await expectSignedOut(t, attacker.cookie, 'authentication_failed', stolen);
    await request(t.app).get('/api/error-mode').set('Cookie', victim.cookie).expect(200);
  });

  it('a string that is not a sealed record', async () => {
    const t = createTestApp(fake, { tokenEncryptionKey: KEY });
    const { cookie, sid } = await signInCookie(t);
    setRawTokens(t, sid, 'wpsenc:v1:not-a-record');
    await expectSignedOut(t, cookie, 'malformed', 'wpsenc:v1:x:not-a-record');
  });
});

describe('TokenSealer', () => {
  const sealer = new TokenSealer([deriveTokenKey(KEY)]);
  const record: WpsTokenRecord = {
    accessToken: 'at-1',
    refreshToken: 'rt-1',
    tokenType: 'bearer',
    expiresAt: 1,
    rev: 1,
  };

  it('uses a new IV for every seal and opens each only for its session', () => {
    const a = sealer.seal(record, 'sid-a');
    const b = sealer.seal(record, 'sid-a');
    expect(a).not.toBe(b);
    expect(sealer.unseal(a, 'sid-a')).toEqual(record);
    expect(sealer.unseal(b, 'sid-b')).toBeUndefined();
    expect(sealer.failureOf(b)).toBe('authentication_failed');
  });

  it('hands out a new object on every open, so a request changing its record does not change the next one', () => {
    const sealed = sealer.seal(record, 'sid-c');
    const first = sealer.unseal(sealed, 'sid-c') as WpsTokenRecord;
    first.expiresAt = 0;
    expect(sealer.unseal(sealed, 'sid-c')).toEqual(record);
  });

  it('still opens records once its cache of opened records is full', () => {
    const many = Array.from({ length: 1005 }, (_, i) => sealer.seal({ ...record, rev: i }, `sid-${i}`));
    expect(many.map((sealed, i) => sealer.unseal(sealed, `sid-${i}`)?.rev)).toEqual(many.map((_, i) => i));
  });

  it('refuses a non-canonical or incomplete encoding', () => {
    const sealed = sealer.seal(record, 'sid-d');
    const parts = sealed.split(':');
    expect(sealer.unseal(`${sealed}:extra`, 'sid-d')).toBeUndefined();
    expect(
      sealer.unseal([...parts.slice(0, 3), `${parts[3] as string}=`, ...parts.slice(4)].join(':'), 'sid-d'),
    ).toBeUndefined();
    expect(sealer.failureOf(`${sealed}:extra`)).toBe('malformed');
    expect(sealer.failureOf('plain text')).toBe('malformed');
  });

  it('derives the same key from the same string, and uses a 32-byte Buffer as it is', () => {
    expect(deriveTokenKey(KEY).equals(deriveTokenKey(KEY))).toBe(true);
    expect(deriveTokenKey(KEY).equals(deriveTokenKey(OLD_KEY))).toBe(false);
    expect(deriveTokenKey(OTHER_KEY).equals(OTHER_KEY)).toBe(true);
  });
});

describe('tokenEncryptionKey: several wpsAuth() on one store', () => {
  function twoInstances(a: WpsAuthOptions['tokenEncryptionKey'], b: WpsAuthOptions['tokenEncryptionKey']) {
    const base = { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUri: REDIRECT_URI, baseUrl: fake.url };
    return createTestApp(
      fake,
      { tokenEncryptionKey: a },
      {
        routes: (app) => {
          const callback = 'http://127.0.0.1/b/auth/wps/callback';
          app.use(
            '/b',
            wpsAuth({
              ...base,
              redirectUri: callback,
              tokenEncryptionKey: b,
              loginPath: false,
              logoutPath: false,
              clientSignInPath: false,
            }),
          );
          app.get('/b/api', requireWpsToken({ unauthenticated: 'error' }), (req, res) =>
            res.json({ token: req.wps.accessToken }),
          );
        },
      },
    );
  }

  it('wraps the store once when they share the keys', async () => {
    const { app, store } = twoInstances(KEY, [KEY]);
    const agent = request.agent(app);
    const { callback } = await authorize(agent);
    await agent.get(callback).expect(302);
    const res = await agent.get('/b/api').expect(200);
    const stored = Object.values(sessionsOf(store)).join('\n');
    const sealed = Object.values(sessionsOf(store)).map((json) => storedRecord(JSON.parse(json))?.tokens);
    expect(sealed).toContainEqual(expect.stringMatching(/^wpsenc:v1:/));
    expect(stored).not.toContain(res.body.token as string);
  });

  it('fails as misconfigured when they do not', async () => {
    const { app } = twoInstances(KEY, [OLD_KEY, KEY]);
    const res = await request(app).get('/b/api').expect(500);
    expect(res.body).toEqual({
      code: 'misconfigured',
      status: 500,
      message:
        'express-wps-oauth: another wpsAuth() already encrypts the tokens in this session store with other keys. ' +
        'Give every wpsAuth() that shares a session store the same tokenEncryptionKey list.',
    });
  });
});

describe('tokenEncryptionKey option', () => {
  const valid = {
    clientId: 'AK2024',
    clientSecret: 'sekret-value-9',
    redirectUri: 'https://app.example.com/auth/wps/cb',
  };
  const invalid = (...problems: string[]) =>
    new TypeError(`express-wps-oauth: invalid wpsAuth options:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  const TYPE = 'tokenEncryptionKey must be a string of at least 32 characters, a 32-byte Buffer, or an array of these';

  it('keeps one key per entry, first key first; none when not given', () => {
    expect(resolveConfig(valid, {}).tokenKeys).toBeUndefined();
    const keys = resolveConfig({ ...valid, tokenEncryptionKey: [KEY, OTHER_KEY] }, {}).tokenKeys ?? [];
    expect(keys).toEqual([KEY, OTHER_KEY]);
    // The first seals; a sealer holding only the first key opens what the pair sealed.
    const sealed = new TokenSealer(keys).seal({ accessToken: 'a', tokenType: 'bearer', expiresAt: 1, rev: 1 }, 'sid');
    expect(new TokenSealer([KEY]).unseal(sealed, 'sid')?.accessToken).toBe('a');
    expect(new TokenSealer([OTHER_KEY]).unseal(sealed, 'sid')).toBeUndefined();
  });

  it('names the option and the rule, never the value', () => {
    const shortKey = 'too-short-secret-value';
    expect(() => wpsAuth({ ...valid, tokenEncryptionKey: shortKey })).toThrow(
      invalid('tokenEncryptionKey must be at least 32 characters long (a random key, not a password)'),
    );
    expect(() => resolveConfig({ ...valid, tokenEncryptionKey: randomBytes(16) }, {})).toThrow(
      invalid('tokenEncryptionKey must be exactly 32 bytes when it is a Buffer'),
    );
    expect(() => resolveConfig({ ...valid, tokenEncryptionKey: 42 as never }, {})).toThrow(invalid(TYPE));
    expect(() => resolveConfig({ ...valid, tokenEncryptionKey: null as never }, {})).toThrow(invalid(TYPE));
    expect(() => resolveConfig({ ...valid, tokenEncryptionKey: [] }, {})).toThrow(
      invalid('tokenEncryptionKey must hold at least one key'),
    );
    expect(() =>
      resolveConfig({ ...valid, tokenEncryptionKey: [KEY, shortKey, Buffer.alloc(31), {} as never] }, {}),
    ).toThrow(
      invalid(
        'tokenEncryptionKey[1] must be at least 32 characters long (a random key, not a password)',
        'tokenEncryptionKey[2] must be exactly 32 bytes when it is a Buffer',
        'tokenEncryptionKey[3] must be a string of at least 32 characters or a 32-byte Buffer',
      ),
    );
  });
});

describeRedis('tokenEncryptionKey with connect-redis', () => {
  let redis: Redis;
  const prefix = uniquePrefix();

  beforeAll(async () => {
    redis = await connectRedis();
  });
  afterAll(async () => {
    await deleteKeys(redis, prefix);
    await redis.quit();
  });

  it('leaves no token in the Redis value, through login, a protected route and a refresh', async () => {
    const store = new RedisStore({ client: redis, prefix: `${prefix}sess:` });
    const t = createTestApp(fake, { tokenEncryptionKey: KEY }, { store });
    const agent = request.agent(t.app);
    await signIn(agent);
    const seen = async () => {
      const { id, wps } = (await agent.get('/test/session').expect(200)).body as {
        id: string;
        wps: { tokens: WpsTokenRecord };
      };
      return { sid: id, token: wps.tokens.accessToken, refresh: wps.tokens.refreshToken as string };
    };
    const first = await seen();
    await agent.post('/test/expire').expect(200);
    await agent.get('/protected').expect(200);
    const second = await seen();
    expect(second.token).not.toBe(first.token);

    const value = (await redis.get(`${prefix}sess:${first.sid}`)) ?? '';
    // The app's own promise-style reads still work, and see the sealed record.
    const direct = await (store.get as unknown as (sid: string) => Promise<object>).call(store, first.sid);
    expect(storedRecord(direct)?.tokens).toMatch(/^wpsenc:v1:/);
    expect(storedRecord(JSON.parse(value))?.tokens).toMatch(/^wpsenc:v1:/);
    for (const secret of [first.token, first.refresh, second.token, second.refresh])
      expect(value).not.toContain(secret);
    expect(t.logger.lines.filter((l) => l.startsWith('warn '))).toEqual([]);
  });
});
