import { connectIoRedis, connectRedis, describeRedis, startRedisProxy, uniquePrefix } from './helpers';

describe('startRedisProxy', () => {
  it("keeps the target's database number and credentials, with its own host and port", async () => {
    const proxy = await startRedisProxy('redis://user:secret@127.0.0.1:6379/5');
    try {
      const url = new URL(proxy.url);
      expect([url.username, url.password, url.hostname, url.pathname]).toEqual(['user', 'secret', '127.0.0.1', '/5']);
      expect(url.port).not.toBe('6379');
    } finally {
      await proxy.close();
    }
  });
});

describeRedis('startRedisProxy on a real Redis', () => {
  it('reaches the database of REDIS_URL, not database 0, with either client', async () => {
    const db5 = new URL(process.env.REDIS_URL as string);
    db5.pathname = '/5';
    const db0 = new URL(db5.href);
    db0.pathname = '/0';
    const proxy = await startRedisProxy(db5.href);
    const [viaProxy, ioViaProxy, direct5, direct0] = await Promise.all([
      connectRedis(proxy.url),
      connectIoRedis(proxy.url),
      connectRedis(db5.href),
      connectRedis(db0.href),
    ]);
    const key = `${uniquePrefix()}db`;
    try {
      await viaProxy.set(key, 'node-redis');
      expect(await direct5.get(key)).toBe('node-redis');
      expect(await direct0.exists(key)).toBe(0);
      expect(await ioViaProxy.get(key)).toBe('node-redis');
    } finally {
      await direct5.del(key);
      viaProxy.destroy();
      ioViaProxy.disconnect();
      direct5.destroy();
      direct0.destroy();
      await proxy.close();
    }
  });
});
