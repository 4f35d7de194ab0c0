import request from 'supertest';
import { redisRefreshLock } from '../../lib/refresh/redis-lock';
import { CLIENT_ID, CLIENT_SECRET, createTestApp, signIn } from '../helpers/app';
import {
  CLIENT_KINDS,
  connectKind,
  connectRedis,
  deleteKeys,
  describeRedis,
  startRedisProxy,
  uniquePrefix,
  waitFor,
  type KindClient,
  type Redis,
  type RedisProxy,
} from './helpers';
import { useFakeWps } from '../helpers/fake-wps';

type Agent = ReturnType<typeof request.agent>;

describeRedis('Redis down: no refresh without the refresh lock', () => {
  describe.each(CLIENT_KINDS)('through %s', (kind) => outageSuite(kind));
});

function outageSuite(kind: (typeof CLIENT_KINDS)[number]): void {
  const fake = useFakeWps({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, tokenLatencyMs: 100 });
  let redis: Redis;
  let proxy: RedisProxy;
  let client: KindClient;
  let prefix: string;

  beforeAll(async () => {
    redis = await connectRedis();
  });
  afterAll(async () => {
    await redis?.close();
  });
  beforeEach(async () => {
    prefix = uniquePrefix();
    proxy = await startRedisProxy(process.env.REDIS_URL as string);
    client = await connectKind(kind, proxy.url);
  });
  afterEach(async () => {
    client.close();
    await proxy.close();
    await deleteKeys(redis, prefix);
  });

  /** Expire the access token, send `n` concurrent requests, and check: all 200, one refresh, one token. */
  async function storm(agent: Agent, n: number): Promise<void> {
    await agent.post('/test/expire').expect(200);
    fake.reset();
    const replies = await Promise.all(Array.from({ length: n }, () => agent.get('/protected')));
    expect(replies.map((r) => r.status)).toEqual(Array(n).fill(200));
    expect(fake.tokenRequests('refresh_token')).toHaveLength(1);
    expect(new Set(replies.map((r) => (r.body as { token: string }).token)).size).toBe(1);
  }

  /** Expire the access token, send `n` concurrent requests while the lock is down: all 503, no refresh at WPS. */
  async function refusedStorm(agent: Agent, n: number): Promise<void> {
    await agent.post('/test/expire').expect(200);
    fake.reset();
    const replies = await Promise.all(Array.from({ length: n }, () => agent.get('/protected')));
    expect(replies.map((r) => [r.status, (r.body as { code?: string }).code])).toEqual(
      Array(n).fill([503, 'store_unavailable']),
    );
    expect(fake.tokenRequests('refresh_token')).toHaveLength(0);
  }

  function linesWith(lines: string[], text: string): string[] {
    return lines.filter((l) => l.includes(text));
  }

  const DOWN =
    'error express-wps-oauth: refresh lock unavailable; no refresh until it is back (another instance may be ' +
    'rotating the same refresh token): newer stored tokens are adopted, still-valid access tokens served, other ' +
    'requests answered 503';

  it('refreshes nothing while Redis is down (a 503 to retry, the tokens kept), then refreshes once it is back', async () => {
    const t = createTestApp(fake, { refreshLock: redisRefreshLock(client.client, { prefix }) });
    const alice = request.agent(t.app);
    const bob = request.agent(t.app);
    await signIn(alice);
    await signIn(bob);

    await proxy.down();
    await waitFor(() => !client.ready());
    await refusedStorm(alice, 200);
    await refusedStorm(bob, 100);

    expect(linesWith(t.logger.lines, 'refresh lock unavailable')).toEqual([
      `${DOWN} {"reason":"the Redis client of the refresh lock is not ready (not connected or reconnecting)"}`,
    ]);

    await proxy.up();
    await waitFor(() => client.ready());
    await storm(bob, 20);
    await storm(alice, 20);
    expect(linesWith(t.logger.lines, 'refresh lock available again')).toEqual([
      'info express-wps-oauth: refresh lock available again; refreshing across instances {}',
    ]);
    expect(linesWith(t.logger.lines, 'refresh lock unavailable')).toHaveLength(1);
  }, 20_000);

  it('treats a Redis that stops answering as down after commandTimeoutMs, once', async () => {
    const t = createTestApp(fake, { refreshLock: redisRefreshLock(client.client, { prefix, commandTimeoutMs: 150 }) });
    const alice = request.agent(t.app);
    await signIn(alice);

    proxy.freeze(true);
    await refusedStorm(alice, 50);
    await refusedStorm(alice, 50);

    expect(linesWith(t.logger.lines, 'refresh lock unavailable')).toEqual([
      expect.stringContaining('{"reason":"Redis did not answer the refresh lock\'s SET NX within 150 ms"}'),
    ]);
  }, 20_000);
}
