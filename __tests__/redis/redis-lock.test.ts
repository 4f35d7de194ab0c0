import { createClient, createCluster } from 'redis';
import { redisRefreshLock, type RedisLockClient } from '../../lib/refresh/redis-lock';
import { RefreshLockUnavailableError } from '../../lib/refresh/refresh-lock';
import type { RefreshLock } from '../../lib';
import {
  connectRedis,
  deleteKeys,
  describeRedis,
  keysUnder,
  startRedisProxy,
  uniquePrefix,
  type Redis,
  type RedisProxy,
} from './helpers';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function wait(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// Compile-time only (never called): every flavour of redis v5 client fits, with no cast.
function clientsThatFit(): RefreshLock[] {
  return [
    redisRefreshLock(createClient()),
    redisRefreshLock(createClient({ RESP: 3 })),
    redisRefreshLock(createCluster({ rootNodes: [] })),
  ];
}
void clientsThatFit;

describe('redisRefreshLock(client, options) arguments', () => {
  const client: RedisLockClient = { set: () => Promise.resolve('OK'), eval: () => Promise.resolve(1) };

  it.each([undefined, null, {}, { set() {} }, 'redis://127.0.0.1:6379'])('rejects %p as the client', (bad) => {
    expect(() => redisRefreshLock(bad as never)).toThrow(
      new TypeError(
        'express-wps-oauth: redisRefreshLock(client) expects a node-redis v5 client, e.g. ' +
          "redisRefreshLock(createClient({ url: 'redis://127.0.0.1:6379' })) from the 'redis' package",
      ),
    );
  });

  it('rejects a bad prefix and a bad commandTimeoutMs', () => {
    expect(() => redisRefreshLock(client, { prefix: 5 as never })).toThrow(
      new TypeError('express-wps-oauth: redisRefreshLock option prefix must be a string'),
    );
    for (const commandTimeoutMs of [0, 1.5, 60_001, '100' as never]) {
      expect(() => redisRefreshLock(client, { commandTimeoutMs })).toThrow(
        new TypeError(
          'express-wps-oauth: redisRefreshLock option commandTimeoutMs must be a whole number of ms, 1 to 60000',
        ),
      );
    }
  });

  it('fails fast, without queueing a command, when the client is not ready', async () => {
    const sent: string[] = [];
    const offline: RedisLockClient = {
      isReady: false,
      set: (key) => (sent.push(key), new Promise(() => {})),
      eval: (script) => (sent.push(script), new Promise(() => {})),
    };
    const lock = redisRefreshLock(offline);
    const notReady = new RefreshLockUnavailableError(
      'the Redis client of the refresh lock is not ready (not connected or reconnecting)',
    );
    await expect(lock.acquire('sid', 1000)).rejects.toThrow(notReady);
    await expect(lock.acquire('sid', 1000)).rejects.toBeInstanceOf(RefreshLockUnavailableError);
    await expect(lock.release('sid', 'owner')).rejects.toThrow(notReady);
    expect(sent).toEqual([]);
  });
});

describeRedis('redisRefreshLock on a real Redis', () => {
  let redis: Redis;
  let prefix: string;
  let lock: RefreshLock;

  beforeAll(async () => {
    redis = await connectRedis();
  });
  afterAll(() => redis?.close());
  beforeEach(() => {
    prefix = uniquePrefix();
    lock = redisRefreshLock(redis, { prefix });
  });
  afterEach(() => deleteKeys(redis, prefix));

  it('takes a free key (SET NX PX) and refuses a held one without waiting', async () => {
    const owner = await lock.acquire('session-a', 5000);
    expect(owner).toMatch(UUID);
    const started = Date.now();
    expect(await lock.acquire('session-a', 5000)).toBeNull();
    expect(Date.now() - started).toBeLessThan(500);
    expect(await lock.acquire('session-b', 5000)).toMatch(UUID);
    // The key is the prefix and the session id; the value is the random owner, nothing else.
    expect(await redis.get(`${prefix}session-a`)).toBe(owner);
    const ttl = await redis.pTTL(`${prefix}session-a`);
    expect(ttl).toBeGreaterThan(4000);
    expect(ttl).toBeLessThanOrEqual(5000);
  });

  it('lets only the owner release', async () => {
    const owner = (await lock.acquire('s', 5000)) as string;
    await lock.release('s', 'somebody-else');
    expect(await redis.get(`${prefix}s`)).toBe(owner);
    expect(await lock.acquire('s', 5000)).toBeNull();
    await lock.release('s', owner);
    expect(await redis.exists(`${prefix}s`)).toBe(0);
    expect(await lock.acquire('s', 5000)).toMatch(UUID);
  });

  it('expires after its TTL, and a late release by the old owner leaves the new owner alone', async () => {
    // A TTL long enough that a busy machine cannot let it run out between the first two calls.
    const first = (await lock.acquire('s', 1000)) as string;
    expect(await lock.acquire('s', 1000)).toBeNull();
    // Real time: the TTL is Redis's own (PX), which no clock of ours moves.
    await wait(1100);
    const second = (await lock.acquire('s', 5000)) as string;
    expect(second).toMatch(UUID);
    expect(second).not.toBe(first);
    await lock.release('s', first);
    expect(await redis.get(`${prefix}s`)).toBe(second);
  });

  it("uses 'wps-refresh-lock:' as the default prefix", async () => {
    const sid = `${uniquePrefix()}sid`;
    const owner = (await redisRefreshLock(redis).acquire(sid, 5000)) as string;
    try {
      expect(await redis.get(`wps-refresh-lock:${sid}`)).toBe(owner);
    } finally {
      await redis.del(`wps-refresh-lock:${sid}`);
    }
  });

  describe('when Redis misbehaves', () => {
    let proxy: RedisProxy;
    let client: Redis;

    beforeEach(async () => {
      proxy = await startRedisProxy(process.env.REDIS_URL as string);
      client = await connectRedis(proxy.url);
    });
    afterEach(async () => {
      client.destroy();
      await proxy.close();
    });

    it('rejects within commandTimeoutMs when Redis accepts but does not answer', async () => {
      const slow = redisRefreshLock(client, { prefix, commandTimeoutMs: 200 });
      proxy.freeze(true);
      const started = Date.now();
      await expect(slow.acquire('s', 5000)).rejects.toThrow(
        new RefreshLockUnavailableError("Redis did not answer the refresh lock's SET NX within 200 ms"),
      );
      expect(Date.now() - started).toBeLessThan(1000);
      await expect(slow.release('s', 'owner')).rejects.toThrow(
        new RefreshLockUnavailableError("Redis did not answer the refresh lock's release within 200 ms"),
      );
    });

    it('rejects at once while the client reconnects, and works again once it is back', async () => {
      const flaky = redisRefreshLock(client, { prefix });
      await proxy.down();
      const down = Date.now() + 5000;
      while (client.isReady && Date.now() < down) await wait(10);
      await expect(flaky.acquire('s', 5000)).rejects.toThrow('the Redis client of the refresh lock is not ready');
      await proxy.up();
      const until = Date.now() + 5000;
      while (!client.isReady && Date.now() < until) await wait(20);
      expect(await flaky.acquire('s', 5000)).toMatch(UUID);
      expect(await keysUnder(redis, prefix)).toEqual([`${prefix}s`]);
    });
  });
});
