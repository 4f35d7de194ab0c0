import { Redis as IoRedis } from 'ioredis';
import { redisEventDedupe } from '../../lib';
import { signWpsEvent } from '../../lib/testing';
import {
  CLIENT_KINDS,
  connectKind,
  connectRedis,
  deleteKeys,
  describeRedis,
  keysUnder,
  removeDir,
  startEventInstance,
  startRedisProxy,
  transpileLib,
  uniquePrefix,
  type EventInstance,
  type KindClient,
  type Redis,
  type RedisProxy,
} from '../redis/helpers';
import { APP_ID, APP_KEY, CREDENTIALS, postJson, startEventsApp, waitFor, type EventsServer } from './helpers';

describe('redisEventDedupe(client, options) arguments', () => {
  it('refuses what is not a Redis client, saying what it lacks and which clients work', () => {
    expect(() => redisEventDedupe({ get: () => Promise.resolve(null) } as never)).toThrow(
      new TypeError(
        'express-wps-oauth: redisEventDedupe(client) cannot use this client: it has no set(), del(), eval(). ' +
          "It takes a client of node-redis 5 or 6 (createClient() or createCluster() from 'redis') or " +
          "of ioredis 5 or 6 (new Redis() or new Cluster() from 'ioredis').",
      ),
    );
  });

  it('lists every bad option by name, and refuses options that are not an object', () => {
    const client = new IoRedis({ lazyConnect: true });
    expect(() => redisEventDedupe(client, { prefix: ['a'] as never, commandTimeoutMs: 0 })).toThrow(
      new TypeError(
        'express-wps-oauth: invalid redisEventDedupe options:\n' +
          '  - prefix must be a string\n' +
          '  - commandTimeoutMs must be a whole number of ms from 1 to 60000',
      ),
    );
    expect(() => redisEventDedupe(client, null as never)).toThrow(
      new TypeError(
        "express-wps-oauth: redisEventDedupe(client, options) expects an options object, e.g. redisEventDedupe(client, { prefix: 'my-app:' })",
      ),
    );
    expect(() => redisEventDedupe(client, { prefix: undefined, commandTimeoutMs: undefined })).not.toThrow();
  });
});

describeRedis('redisEventDedupe on a real Redis', () => {
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

    beforeAll(async () => {
      [a, b] = await Promise.all([connectKind(kind), connectKind(kind)]);
    });
    afterAll(() => {
      a?.close();
      b?.close();
    });

    it('refuses an event claimed through another client, until its claimant forgets it', async () => {
      const first = redisEventDedupe(a.client, { prefix });
      const second = redisEventDedupe(b.client, { prefix });
      expect(await first.claim('event-1', 5000)).toBe(true);
      expect(await second.claim('event-1', 5000)).toBe(false);
      expect(await first.claim('event-1', 5000)).toBe(false);
      // Only the claimant's release forgets it.
      await second.release('event-1');
      expect(await second.claim('event-1', 5000)).toBe(false);
      await first.release('event-1');
      expect(await second.claim('event-1', 5000)).toBe(true);
      const ttl = await redis.pTTL(`${prefix}event-1`);
      expect(ttl).toBeGreaterThan(4000);
      expect(ttl).toBeLessThanOrEqual(5000);
    });
  });
});

describeRedis('two app instances sharing redisEventDedupe', () => {
  describe.each([
    ['node-redis', 'redis'],
    ['ioredis', 'ioredis'],
  ])('through %s', (_kind, clientPackage) => twoInstanceSuite(clientPackage));
});

function twoInstanceSuite(clientPackage: string): void {
  let libDir: string | undefined;
  let redis: Redis;
  let prefix: string;
  let instances: EventInstance[] = [];

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

  async function startTwo(envA: Record<string, string> = {}): Promise<[EventInstance, EventInstance]> {
    const common = {
      WPS_LIB_DIR: libDir as string,
      REDIS_URL: process.env.REDIS_URL as string,
      KEY_PREFIX: prefix,
      REDIS_CLIENT: clientPackage,
      APP_ID,
      APP_KEY,
    };
    instances = await Promise.all([startEventInstance({ ...common, ...envA }), startEventInstance(common)]);
    return instances as [EventInstance, EventInstance];
  }

  const handledCount = () => instances.reduce((n, i) => n + i.handled.length, 0);

  it('runs the handler once for copies of one event delivered to both at once and one after another', async () => {
    const [a, b] = await startTwo();
    const body = signWpsEvent({ topic: 'topic.ok', operation: 'create', data: { n: 1 } }, CREDENTIALS);
    const replies = await Promise.all([a, b, a, b, a, b, a, b].map((i) => postJson(i.url, body)));
    replies.push(await postJson(b.url, body), await postJson(a.url, body));
    expect(replies.map((r) => [r.status, r.body])).toEqual(replies.map(() => [200, { code: 0 }]));
    expect(handledCount()).toBe(1);
    expect(instances.flatMap((i) => i.handled.map((h) => h.data))).toEqual([{ n: 1 }]);

    // One key, no event data in it, remembered for 2 × maxAgeSeconds.
    const keys = await keysUnder(redis, prefix);
    expect(keys).toHaveLength(1);
    const key = keys[0] as string;
    expect(await redis.get(key)).toMatch(/^[0-9a-f-]{36}$/);
    const ttl = await redis.pTTL(key);
    expect(ttl).toBeGreaterThan(590_000);
    expect(ttl).toBeLessThanOrEqual(600_000);
  });

  it('forgets an event whose handler failed in one instance, so its re-delivery to the other runs it', async () => {
    const [a, b] = await startTwo({ FAIL: '1' });
    const body = signWpsEvent({ topic: 'topic.fails', operation: 'create', data: { n: 2 } }, CREDENTIALS);
    expect(await postJson(a.url, body)).toMatchObject({ status: 500, body: { error: 'handler_failed' } });
    expect(await keysUnder(redis, prefix)).toEqual([]);
    expect(await postJson(b.url, body)).toMatchObject({ status: 200, body: { code: 0 } });
    expect(await postJson(a.url, body)).toMatchObject({ status: 200, body: { code: 0 } });
    expect([a.handled.length, b.handled.length]).toEqual([1, 1]);
  });
}

describeRedis('redisEventDedupe while Redis is down', () => {
  describe.each(CLIENT_KINDS)('through %s', (kind) => outageSuite(kind));
});

function outageSuite(kind: (typeof CLIENT_KINDS)[number]): void {
  let proxy: RedisProxy;
  let client: KindClient;
  let s: EventsServer;
  let prefix: string;
  let direct: Redis;

  beforeAll(async () => {
    direct = await connectRedis();
  });
  afterAll(() => direct?.close());
  beforeEach(async () => {
    prefix = uniquePrefix();
    proxy = await startRedisProxy(process.env.REDIS_URL as string);
    client = await connectKind(kind, proxy.url);
    s = await startEventsApp(false, { dedupe: redisEventDedupe(client.client, { prefix, commandTimeoutMs: 200 }) });
  });
  afterEach(async () => {
    await s.close();
    await proxy.close();
    client.close();
    await deleteKeys(direct, prefix);
  });

  const send = (n: number) => signWpsEvent({ topic: 'topic.ok', operation: 'create', data: { n } }, CREDENTIALS);
  const outageLines = () => s.logger.lines.filter((l) => l.includes('event dedupe'));

  it('falls back to in-process dedupe, logs the outage once and its end once', async () => {
    const first = send(1);
    expect((await postJson(s.url, first)).status).toBe(200);
    await proxy.down();
    await waitFor(() => !client.ready());
    const during = send(2);
    const replies = [];
    for (const body of [during, during, send(3), first]) replies.push(await postJson(s.url, body));
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    // The repeat within this process was dropped; `first` was remembered in Redis only, so it ran again.
    expect(s.handled.map((e) => e.data)).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }, { n: 1 }]);
    expect(outageLines()).toEqual([
      'error express-wps-oauth: event dedupe unavailable; repeats are dropped within this process only until it is back ' +
        '(a re-delivery reaching another instance may run its handler again) {"reason":"the Redis client of the event dedupe is not ready (not connected or reconnecting)"}',
    ]);

    await proxy.up();
    await waitFor(() => client.ready());
    expect((await postJson(s.url, send(4))).status).toBe(200);
    expect(outageLines()).toHaveLength(2);
    expect(outageLines()[1]).toBe(
      'info express-wps-oauth: event dedupe available again; repeats are dropped across instances {}',
    );
  });

  it('treats a Redis that does not answer within commandTimeoutMs as down', async () => {
    proxy.freeze(true);
    const started = Date.now();
    const reply = await postJson(s.url, send(5));
    expect([reply.status, reply.body]).toEqual([200, { code: 0 }]);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(outageLines()[0]).toContain(`{"reason":"Redis did not answer the event dedupe's SET NX within 200 ms"}`);
    proxy.freeze(false);
  });
}
