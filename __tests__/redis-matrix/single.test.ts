import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { redisRefreshLock, RefreshLockUnavailableError } from '../../lib';
import { connectRedis, deleteKeys, startRedisProxy, uniquePrefix, waitFor, type Redis } from '../redis/helpers';
import { createMatrixClient } from './clients';
import { CLIENTS, describeCombinations } from './matrix';

// One Redis: REDIS_URL, or the one answering on 127.0.0.1:6379 (found by __tests__/global-setup.js).
const url = process.env.REDIS_URL;
if (url === undefined) {
  throw new Error('the Redis matrix needs a Redis: start redis-server on 127.0.0.1:6379 or set REDIS_URL');
}

let redis: Redis;
beforeAll(async () => {
  redis = await connectRedis(url);
});
afterAll(() => redis?.close());

describe('every client on one Redis', () => {
  describeCombinations('single', {
    target: () => ({ url }),
    async stallable(pkg) {
      const proxy = await startRedisProxy(url);
      const client = createMatrixClient(pkg, { url: proxy.url });
      await client.connect();
      return {
        client,
        stall: () => proxy.freeze(true),
        unstall: () => proxy.freeze(false),
        close: async () => {
          client.close();
          await proxy.close();
        },
      };
    },
    cleanUp: (prefix) => deleteKeys(redis, prefix),
  });
});

describe.each(CLIENTS)('$name losing its connection to one Redis', ({ pkg }) => {
  it('fails at once while it reconnects, and serves the lock again once it is back', async () => {
    const prefix = uniquePrefix();
    const proxy = await startRedisProxy(url);
    const client = createMatrixClient(pkg, { url: proxy.url });
    try {
      await client.connect();
      // A long bound: failing well before it shows that nothing waited on a command.
      const lock = redisRefreshLock(client.client, { prefix, commandTimeoutMs: 5000 });
      await proxy.down();
      await waitFor(() => !client.ready());
      const started = Date.now();
      await expect(lock.acquire('s', 5000)).rejects.toThrow(
        new RefreshLockUnavailableError(
          'the Redis client of the refresh lock is not ready (not connected or reconnecting)',
        ),
      );
      expect(Date.now() - started).toBeLessThan(1000);
      await proxy.up();
      await waitFor(() => client.ready());
      expect(await lock.acquire('s', 5000)).not.toBeNull();
    } finally {
      client.close();
      await proxy.close();
      await deleteKeys(redis, prefix);
    }
  });
});

// Why the ioredis rows use connect-redis 8: 9 and later send node-redis's option shapes whatever the client. Run in
// a child process: connect-redis 11 is an ES module, which Jest's module loader does not import.
const SAVE_WITH_IOREDIS = `
const { Redis } = require('ioredis6');
import(process.argv[1]).then(async ({ RedisStore }) => {
  const client = new Redis(process.argv[2]);
  try {
    await new RedisStore({ client, prefix: process.argv[3] }).set('sid', { cookie: { originalMaxAge: 60000 } });
    console.log('saved');
  } catch (err) {
    console.log(err.message);
  } finally {
    client.disconnect();
  }
});`;

describe.each(['connect-redis', 'connect-redis10', 'connect-redis11'])('%s with an ioredis client', (store) => {
  const needsNode22 = store !== 'connect-redis' && Number(process.versions.node.split('.')[0]) < 22;

  (needsNode22 ? it.skip : it)('fails the first session save with "ERR syntax error"', async () => {
    const prefix = uniquePrefix();
    try {
      const { stdout } = await promisify(execFile)(process.execPath, ['-e', SAVE_WITH_IOREDIS, store, url, prefix], {
        cwd: path.resolve(__dirname, '../..'),
      });
      expect(stdout.trim()).toBe('ERR syntax error');
    } finally {
      await deleteKeys(redis, prefix);
    }
  });
});
