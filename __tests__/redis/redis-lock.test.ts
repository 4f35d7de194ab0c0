import { Cluster, Redis as IoRedis } from 'ioredis';
import { Cluster as IoCluster5, Redis as IoRedis5 } from 'ioredis5';
import { createClient, createCluster } from 'redis';
import { createClient as createClient6, createCluster as createCluster6 } from 'redis6';
import { redisRefreshLock } from '../../lib/refresh/redis-lock';
import { RefreshLockUnavailableError } from '../../lib/refresh/refresh-lock';
import type { RefreshLock } from '../../lib';
import {
  CLIENT_KINDS,
  connectKind,
  connectRedis,
  deleteKeys,
  describeRedis,
  keysUnder,
  startRedisProxy,
  uniquePrefix,
  waitFor,
  type KindClient,
  type Redis,
  type RedisProxy,
} from './helpers';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const WORKS_WITH =
  "It takes a client of node-redis 5 or 6 (createClient() or createCluster() from 'redis') or " +
  "of ioredis 5 or 6 (new Redis() or new Cluster() from 'ioredis').";

function wait(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// Compile-time only (never called): every client kind, version and topology fits, with no cast.
function clientsThatFit(): RefreshLock[] {
  return [
    redisRefreshLock(createClient()),
    redisRefreshLock(createClient({ RESP: 3 })),
    redisRefreshLock(createCluster({ rootNodes: [] })),
    redisRefreshLock(createClient6()),
    redisRefreshLock(createCluster6({ rootNodes: [] })),
    redisRefreshLock(new IoRedis()),
    redisRefreshLock(new Cluster([])),
    redisRefreshLock(new IoRedis5()),
    redisRefreshLock(new IoCluster5([])),
  ];
}
void clientsThatFit;

describe('redisRefreshLock(client, options) arguments', () => {
  // Never connected: enough to validate options.
  const client = createClient();
  const nodeRedis4 = { set() {}, get() {}, del() {}, eval() {}, isOpen: false, isReady: false };

  it.each([
    [undefined, 'got undefined'],
    [null, 'got null'],
    ['redis://127.0.0.1:6379', 'got a string (pass a client, not its URL)'],
    [42, 'got a number'],
    [{}, 'it has no set(), get(), del(), eval()'],
    [{ set() {}, eval() {} }, 'it has no get(), del()'],
    [{ set() {}, get() {}, del() {}, eval() {} }, 'it has neither isOpen (node-redis) nor status (ioredis)'],
    [nodeRedis4, 'it has no withTypeMapping(), so it is node-redis 4 or older, whose SET options differ'],
  ])('refuses %p as the client, saying what it lacks and what works', (bad, problem) => {
    expect(() => redisRefreshLock(bad as never)).toThrow(
      new TypeError(`express-wps-oauth: redisRefreshLock(client) cannot use this client: ${problem}. ${WORKS_WITH}`),
    );
  });

  it('lists every bad option, by name, without its value', () => {
    expect(() => redisRefreshLock(client, { prefix: 5 as never, commandTimeoutMs: 0, lockTtl: 5 } as never)).toThrow(
      new TypeError(
        'express-wps-oauth: invalid redisRefreshLock options:\n' +
          '  - prefix must be a string\n' +
          '  - commandTimeoutMs must be a whole number of ms from 1 to 60000\n' +
          '  - lockTtl is not allowed',
      ),
    );
    for (const commandTimeoutMs of [1.5, 60_001, '100' as never, Infinity]) {
      expect(() => redisRefreshLock(client, { commandTimeoutMs })).toThrow(
        new TypeError(
          'express-wps-oauth: invalid redisRefreshLock options:\n' +
            '  - commandTimeoutMs must be a whole number of ms from 1 to 60000',
        ),
      );
    }
    expect(() => redisRefreshLock(client, 'prefix' as never)).toThrow(
      new TypeError(
        "express-wps-oauth: redisRefreshLock(client, options) expects an options object, e.g. redisRefreshLock(client, { prefix: 'my-app:' })",
      ),
    );
  });

  it('accepts undefined for every option', () => {
    expect(() => redisRefreshLock(client, { prefix: undefined, commandTimeoutMs: undefined })).not.toThrow();
    expect(() => redisRefreshLock(client, { prefix: '', commandTimeoutMs: 60_000 })).not.toThrow();
  });
});

describe('redisRefreshLock on a client that is not connected yet', () => {
  const notReady = new RefreshLockUnavailableError(
    'the Redis client of the refresh lock is not ready (not connected or reconnecting)',
  );

  it('fails at once on node-redis (createClient, createCluster, v5 and v6), sending nothing', async () => {
    for (const client of [createClient(), createCluster({ rootNodes: [] }), createClient6()]) {
      const lock = redisRefreshLock(client);
      await expect(lock.acquire('sid', 1000)).rejects.toThrow(notReady);
      await expect(lock.release('sid', 'owner')).rejects.toThrow(notReady);
      expect(client.isOpen).toBe(false);
    }
  });

  it('fails at once on ioredis (Redis, Cluster), without queueing a command that would connect it', async () => {
    const clients = [new IoRedis({ lazyConnect: true }), new Cluster([{ port: 1 }], { lazyConnect: true })];
    for (const client of clients) {
      const lock = redisRefreshLock(client);
      await expect(lock.acquire('sid', 1000)).rejects.toThrow(notReady);
      await expect(lock.release('sid', 'owner')).rejects.toBeInstanceOf(RefreshLockUnavailableError);
      // A command would have started connecting (ioredis connects a lazy client on its first command).
      expect(client.status).toBe('wait');
    }
  });
});

describeRedis('redisRefreshLock on a real Redis', () => {
  let redis: Redis;
  let prefix: string;

  beforeAll(async () => {
    redis = await connectRedis();
  });
  afterAll(() => redis?.close());
  beforeEach(() => {
    prefix = uniquePrefix();
  });
  afterEach(() => deleteKeys(redis, prefix));

  describe.each(CLIENT_KINDS)('through %s', (kind) => {
    let a: KindClient;
    let b: KindClient;
    let lock: RefreshLock;

    beforeAll(async () => {
      [a, b] = await Promise.all([connectKind(kind), connectKind(kind)]);
    });
    afterAll(() => {
      a?.close();
      b?.close();
    });
    beforeEach(() => {
      lock = redisRefreshLock(a.client, { prefix });
    });

    it('takes a free key (SET PX NX), and refuses it to another client without waiting', async () => {
      const owner = await lock.acquire('session-a', 5000);
      expect(owner).toMatch(UUID);
      const started = Date.now();
      expect(await redisRefreshLock(b.client, { prefix }).acquire('session-a', 5000)).toBeNull();
      expect(await lock.acquire('session-a', 5000)).toBeNull();
      expect(Date.now() - started).toBeLessThan(500);
      expect(await lock.acquire('session-b', 5000)).toMatch(UUID);
      // The key is the prefix and the session id; the value is the random owner, nothing else.
      expect(await redis.get(`${prefix}session-a`)).toBe(owner);
      const ttl = await redis.pTTL(`${prefix}session-a`);
      expect(ttl).toBeGreaterThan(4000);
      expect(ttl).toBeLessThanOrEqual(5000);
    });

    it('lets only the owner release, whichever client it releases through', async () => {
      const owner = (await lock.acquire('s', 5000)) as string;
      const other = redisRefreshLock(b.client, { prefix });
      await other.release('s', 'somebody-else');
      expect(await redis.get(`${prefix}s`)).toBe(owner);
      expect(await other.acquire('s', 5000)).toBeNull();
      await other.release('s', owner);
      expect(await redis.exists(`${prefix}s`)).toBe(0);
      expect(await other.acquire('s', 5000)).toMatch(UUID);
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
      const owner = (await redisRefreshLock(a.client).acquire(sid, 5000)) as string;
      try {
        expect(await redis.get(`wps-refresh-lock:${sid}`)).toBe(owner);
      } finally {
        await redis.del(`wps-refresh-lock:${sid}`);
      }
    });
  });

  it('is one lock whatever the client kind: taken through node-redis, refused through ioredis', async () => {
    const [node, io] = await Promise.all([connectKind('node-redis'), connectKind('ioredis')]);
    try {
      const owner = await redisRefreshLock(node.client, { prefix }).acquire('s', 5000);
      expect(owner).toMatch(UUID);
      expect(await redisRefreshLock(io.client, { prefix }).acquire('s', 5000)).toBeNull();
      await redisRefreshLock(io.client, { prefix }).release('s', owner as string);
      expect(await redisRefreshLock(node.client, { prefix }).acquire('s', 5000)).toMatch(UUID);
    } finally {
      node.close();
      io.close();
    }
  });

  describe.each(CLIENT_KINDS)('when Redis misbehaves, through %s', (kind) => {
    let proxy: RedisProxy;
    let client: KindClient;

    beforeEach(async () => {
      proxy = await startRedisProxy(process.env.REDIS_URL as string);
      client = await connectKind(kind, proxy.url);
    });
    afterEach(async () => {
      client.close();
      await proxy.close();
    });

    // ioredis keeps a sent command until it is answered, and queues new ones while offline: only the bound ends it.
    it('rejects within commandTimeoutMs when Redis accepts but does not answer', async () => {
      const slow = redisRefreshLock(client.client, { prefix, commandTimeoutMs: 200 });
      proxy.freeze(true);
      const started = Date.now();
      await expect(slow.acquire('s', 5000)).rejects.toThrow(
        new RefreshLockUnavailableError("Redis did not answer the refresh lock's SET NX within 200 ms"),
      );
      expect(Date.now() - started).toBeLessThan(1000);
      await expect(slow.release('s', 'owner')).rejects.toThrow(
        new RefreshLockUnavailableError("Redis did not answer the refresh lock's EVAL within 200 ms"),
      );
    });

    it('rejects at once while the client reconnects, and works again once it is back', async () => {
      // A long bound: failing well before it shows that nothing waited on a command.
      const flaky = redisRefreshLock(client.client, { prefix, commandTimeoutMs: 5000 });
      await proxy.down();
      await waitFor(() => !client.ready());
      const started = Date.now();
      await expect(flaky.acquire('s', 5000)).rejects.toThrow(
        new RefreshLockUnavailableError(
          'the Redis client of the refresh lock is not ready (not connected or reconnecting)',
        ),
      );
      expect(Date.now() - started).toBeLessThan(1000);
      await proxy.up();
      await waitFor(() => client.ready());
      expect(await flaky.acquire('s', 5000)).toMatch(UUID);
      expect(await keysUnder(redis, prefix)).toEqual([`${prefix}s`]);
    });
  });
});
