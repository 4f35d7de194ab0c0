import { redisTenantStore } from '../../lib';
import { Haystack } from '../hostile/helpers/secrets';
import {
  CLIENT_KINDS,
  connectKind,
  connectRedis,
  deleteKeys,
  describeRedis,
  keysUnder,
  uniquePrefix,
  type KindClient,
  type Redis,
} from '../redis/helpers';
import { startIsvApp } from './helpers';

// redisTenantStore on a real Redis, through node-redis and ioredis: what it writes (keys, hash tags, expiry, the
// stored forms), encryption at rest, and Redis going away.

const KEY = 'tenant-store-test-key-0123456789abcdef0123';

describeRedis('redisTenantStore', () => {
  let redis: Redis;
  beforeAll(async () => {
    redis = await connectRedis();
  });
  afterAll(() => redis.destroy());

  describe.each(CLIENT_KINDS)('with %s', (kind) => {
    let client: KindClient;
    let prefix: string;
    let closed = false;
    beforeEach(async () => {
      client = await connectKind(kind);
      prefix = uniquePrefix();
      closed = false;
    });
    afterEach(async () => {
      if (!closed) client.close();
      await deleteKeys(redis, prefix);
    });

    it('keeps the ticket, each company’s keys under one hash tag, and nothing without an expiry', async () => {
      const store = redisTenantStore(client.client, { prefix });
      const t = await startIsvApp({ fake: { marketplace: { companies: ['acme', 'a{b}:c'] } }, tenants: { store } });
      try {
        expect((await t.get('/call/acme')).status).toBe(200);
        expect((await t.get(`/call/${encodeURIComponent('a{b}:c')}`)).status).toBe(200);
        await t.fake.marketplace.uninstall('acme');
        const keys = (await keysUnder(redis, prefix)).map((k) => k.slice(prefix.length)).sort();
        expect(keys.filter((k) => !k.startsWith('event:'))).toEqual([
          'ask:none',
          'ticket',
          '{a%7Bb%7D%3Ac}:token',
          '{acme}:state',
        ]);
        expect(keys.filter((k) => k.startsWith('event:'))).toHaveLength(2);
        for (const key of keys) expect(await redis.pTTL(prefix + key)).toBeGreaterThan(0);
        const ticket = await redis.get(`${prefix}ticket`);
        expect(ticket).toBe(`${t.fake.marketplace.pushes()[0]?.body.time}|${t.fake.marketplace.currentTicket()}`);
        expect(await redis.get(`${prefix}{acme}:state`)).toMatch(/^\d+\|uninstalled$/);
        expect(JSON.parse((await redis.get(`${prefix}{a%7Bb%7D%3Ac}:token`)) ?? '')).toEqual({
          accessToken: expect.stringMatching(/^fake_at_/),
          expiresAt: expect.any(Number),
          renewAt: expect.any(Number),
        });
      } finally {
        await t.close();
      }
    });

    it('drops a token only if it is still the one given, and keeps the later of two states', async () => {
      const store = redisTenantStore(client.client, { prefix });
      await store.putToken('acme', 'token-1', 60_000);
      await store.dropToken('acme', 'token-0');
      expect((await store.getCompany('acme')).token).toBe('token-1');
      await store.dropToken('acme', 'token-1');
      expect(await store.getCompany('acme')).toEqual({ state: undefined, token: undefined, refusal: undefined });
      await store.putToken('acme', 'token-2', 60_000);
      await store.putRefusal('acme', 'digest', 60_000);
      expect(await store.putState('acme', { state: 'disabled', time: 100 }, 60_000)).toBe(true);
      expect(await store.putState('acme', { state: 'enabled', time: 99 }, 60_000)).toBe(false);
      expect(await store.getCompany('acme')).toEqual({
        state: { state: 'disabled', time: 100 },
        token: undefined,
        refusal: undefined,
      });
      expect(await store.putTicket('t-2', 200, 60_000)).toBe(true);
      expect(await store.putTicket('t-1', 199, 60_000)).toBe(false);
      expect(await store.putTicket('t-3', 200, 60_000)).toBe(true);
      expect(await store.getTicket()).toEqual({ value: 't-3', time: 200 });
    });

    it('stores tickets and tokens encrypted with tokenEncryptionKey', async () => {
      const store = redisTenantStore(client.client, { prefix });
      const t = await startIsvApp({
        fake: { marketplace: { companies: ['acme'] } },
        tenants: { store, tokenEncryptionKey: KEY },
      });
      try {
        expect((await t.get('/call/acme')).status).toBe(200);
        const keys = await keysUnder(redis, prefix);
        const haystack = new Haystack();
        for (const key of keys) haystack.add(key, (await redis.get(key)) ?? undefined);
        expect(haystack.leaks(t.fake.marketplace.secrets())).toEqual([]);
        expect(await redis.get(`${prefix}ticket`)).toMatch(/^\d+\|wpsenc:v1:/);
        expect(await redis.get(`${prefix}{acme}:token`)).toMatch(/^wpsenc:v1:/);
        // The same tenants read what they wrote: a cached call asks WPS for nothing.
        expect((await t.get('/call/acme')).status).toBe(200);
        expect(t.fake.marketplace.tenantTokenRequests()).toHaveLength(1);
      } finally {
        await t.close();
      }
    });

    it('answers store_unavailable when its Redis is gone, and names no key', async () => {
      const store = redisTenantStore(client.client, { prefix, commandTimeoutMs: 200 });
      const t = await startIsvApp({ tenants: { store } });
      try {
        client.close();
        closed = true;
        const { status, body } = await t.get('/call/acme');
        expect(status).toBe(503);
        expect(body.code).toBe('store_unavailable');
        // node-redis refuses at once (not ready); ioredis may fail the command itself: either reason is safe to show.
        expect(body.message).toMatch(
          /^the tenant store is unavailable \((the Redis client of the tenant store is not ready \(not connected or reconnecting\)|Redis failed the tenant store's EVAL: Error)\); nothing was asked of WPS: try again$/,
        );
        expect(t.logger.lines.join('\n')).not.toContain(prefix);
        const errors = t.logger.lines.filter((l) => l.startsWith('error'));
        expect(errors).toHaveLength(1);
        expect(errors[0]).toMatch(
          /^error express-wps-oauth: tenant store unavailable; calls for companies fail with store_unavailable, and events that need it are answered 500 \(WPS delivers them again\), until it is back \{"reason":"/,
        );
      } finally {
        await t.close();
      }
    });
  });
});
