import { storedRecord } from '../helpers/stored';
import {
  connectRedis,
  deleteKeys,
  describeRedis,
  keysUnder,
  removeDir,
  send,
  sessionId,
  signInAt,
  startInstance,
  transpileLib,
  uniquePrefix,
  waitFor,
  type Instance,
  type Redis,
  type Reply,
} from './helpers';
import { useFakeWps } from '../helpers/fake-wps';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describeRedis('two app instances sharing connect-redis sessions and the Redis refresh lock', () => {
  let libDir: string | undefined;
  const fake = useFakeWps({ rotateRefreshTokens: true, tokenLatencyMs: 200 });
  let redis: Redis;
  let prefix: string;
  let instances: Instance[] = [];

  beforeAll(async () => {
    [libDir, redis] = await Promise.all([transpileLib(), connectRedis()]);
  });
  afterAll(async () => {
    await Promise.all(instances.map((i) => i.stop()));
    await redis?.close();
    await removeDir(libDir);
  });
  beforeEach(() => {
    prefix = uniquePrefix();
  });
  afterEach(async () => {
    await Promise.all(instances.map((i) => i.stop()));
    instances = [];
    await deleteKeys(redis, prefix);
  });

  async function startTwo(env: Record<string, string> = {}): Promise<[string, string]> {
    const common = { WPS_LIB_DIR: libDir as string, REDIS_URL: process.env.REDIS_URL as string, FAKE_URL: fake.url };
    instances = await Promise.all([0, 1].map(() => startInstance({ ...common, KEY_PREFIX: prefix, ...env })));
    return instances.map((i) => `http://127.0.0.1:${i.port}`) as [string, string];
  }

  async function storedTokens(cookie: string): Promise<{ accessToken: string; refreshToken: string; rev: number }> {
    const raw = await redis.get(`${prefix}sess:${sessionId(cookie)}`);
    if (raw === null) throw new Error('the session is not in Redis');
    return storedRecord(JSON.parse(raw))?.tokens as { accessToken: string; refreshToken: string; rev: number };
  }

  function statuses(replies: Reply[]): number[] {
    return replies.map((r) => r.status);
  }

  it('makes exactly one refresh call for 200 concurrent requests spread across both, and all get 200', async () => {
    const [a, b] = await startTwo();
    const cookie = await signInAt(a);
    const before = await storedTokens(cookie);
    fake.expireAccessTokens();
    expect((await send(`${b}/test/expire`, { method: 'POST', cookie })).body).toEqual({ expired: true });
    fake.reset();

    const replies = await Promise.all(
      Array.from({ length: 200 }, (_, i) => send(`${i % 2 === 0 ? a : b}/protected`, { cookie })),
    );

    expect(statuses(replies)).toEqual(Array(200).fill(200));
    const refreshes = fake.tokenRequests('refresh_token');
    expect(refreshes).toHaveLength(1);
    expect(refreshes[0]?.form.refresh_token).toBe(before.refreshToken);
    const after = await storedTokens(cookie);
    expect(after.rev).toBe(before.rev + 1);
    expect(new Set(replies.map((r) => r.body.token))).toEqual(new Set([after.accessToken]));
    expect(new Set(replies.map((r) => r.body.pid))).toEqual(new Set(instances.map((i) => i.child.pid)));
    // Every lock was released (none left to expire).
    expect(await keysUnder(redis, `${prefix}lock:`)).toEqual([]);
  }, 20_000);

  it('with resave: true and a handler writing every request, 20 rounds of expiry and storms keep the newest refresh token', async () => {
    const [a, b] = await startTwo({ RESAVE: '1' });
    const cookie = await signInAt(a);
    let previous = await storedTokens(cookie);

    for (let round = 0; round < 20; round++) {
      fake.expireAccessTokens();
      await send(`${round % 2 === 0 ? a : b}/test/expire`, { method: 'POST', cookie });
      fake.reset();
      // Stale writers: they load the expired tokens now and save well after the refresh stored new ones.
      const slow = Array.from({ length: 6 }, (_, i) => send(`${i % 2 === 0 ? a : b}/slow-write?ms=300`, { cookie }));
      const storm = Array.from({ length: 30 }, (_, i) => send(`${i % 2 === 0 ? b : a}/write`, { cookie }));
      const replies = await Promise.all([...slow, ...storm]);

      expect(statuses(replies)).toEqual(Array(36).fill(200));
      const refreshes = fake.tokenRequests('refresh_token');
      expect(refreshes).toHaveLength(1);
      expect(refreshes[0]?.form.refresh_token).toBe(previous.refreshToken);
      const current = await storedTokens(cookie);
      expect(current.rev).toBe(previous.rev + 1);
      expect(current.refreshToken).not.toBe(previous.refreshToken);
      previous = current;
    }

    // Still signed in, and the stored refresh token is the one WPS issued last: it is the only one it still accepts.
    fake.reset();
    expect((await send(`${a}/protected`, { cookie })).status).toBe(200);
    expect(fake.tokenRequests('refresh_token')).toHaveLength(0);
    await send(`${b}/test/expire`, { method: 'POST', cookie });
    expect((await send(`${b}/protected`, { cookie })).status).toBe(200);
    expect(fake.tokenRequests('refresh_token')[0]?.form.refresh_token).toBe(previous.refreshToken);
    expect((await storedTokens(cookie)).rev).toBe(previous.rev + 1);
    // The stale writers did meet newer tokens in the store, and kept them.
    const kept = instances.flatMap((i) => i.logs).filter((l) => l.includes('kept the newer tokens'));
    expect(kept.length).toBeGreaterThanOrEqual(20);
  }, 40_000);

  it('when the lock holder is killed mid-refresh, the other instance refreshes after the TTL and no request fails', async () => {
    const timeoutMs = 1000;
    const ttlMs = timeoutMs + 5000;
    const [a, b] = await startTwo({ TIMEOUT_MS: String(timeoutMs) });
    const cookie = await signInAt(a);
    const before = await storedTokens(cookie);
    await send(`${a}/test/expire`, { method: 'POST', cookie });
    fake.reset();
    fake.queueTokenFault({ hang: true });

    const doomed = send(`${a}/protected`, { cookie }).then(
      () => 'answered',
      () => 'died with its process',
    );
    await waitFor(() => fake.tokenRequests('refresh_token').length === 1);
    // A holds the lock; the lock holds a random owner id, not a token.
    const lockKey = `${prefix}lock:${sessionId(cookie)}`;
    const owner = await redis.get(lockKey);
    expect(owner).toMatch(UUID);
    expect(await redis.pTTL(lockKey)).toBeLessThanOrEqual(ttlMs);
    const [killed] = instances;
    killed?.child.kill('SIGKILL');
    await killed?.stop();
    expect(await doomed).toBe('died with its process');

    const replies = await Promise.all(Array.from({ length: 50 }, () => send(`${b}/protected`, { cookie })));

    expect(statuses(replies)).toEqual(Array(50).fill(200));
    const refreshes = fake.tokenRequests('refresh_token');
    expect(refreshes).toHaveLength(2);
    const [first, second] = refreshes;
    // The dead holder's call never completed at WPS, so its refresh token was still the valid one.
    expect(second?.form.refresh_token).toBe(before.refreshToken);
    expect((second?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThanOrEqual(ttlMs - 500);
    // Nobody waits for a second TTL: the slowest answer comes after one TTL, the refresh, and slack for a busy machine.
    expect(Math.max(...replies.map((r) => r.ms))).toBeLessThan(ttlMs + timeoutMs + 2000);
    expect((await storedTokens(cookie)).rev).toBe(before.rev + 1);
  }, 30_000);
});
