import { redisDialect } from '../../lib/redis/client';
import { hashTag, redisCommands, type RedisCommands } from '../../lib/redis/commands';
import { RefreshLockUnavailableError } from '../../lib/refresh/refresh-lock';
import {
  CLIENT_KINDS,
  connectKind,
  connectRedis,
  deleteKeys,
  describeRedis,
  uniquePrefix,
  type KindClient,
  type Redis,
} from './helpers';

describe('hashTag: the part of a key a Redis Cluster hashes', () => {
  it.each([
    ['app:{tenant-42}:token', 'tenant-42'],
    ['{a}{b}', 'a'],
    ['a{}b{c}', 'a{}b{c}'],
    ['a{b', 'a{b'],
    ['a}b{c}', 'c'],
    ['plain', 'plain'],
  ])('%s hashes %s', (key, tag) => {
    expect(hashTag(key)).toBe(tag);
  });
});

describeRedis('the commands of the Redis helpers, on a real Redis', () => {
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
    let client: KindClient;
    let commands: RedisCommands;

    beforeAll(async () => {
      client = await connectKind(kind);
      commands = redisCommands(redisDialect(client.client, 'test'), {
        what: 'the test',
        commandTimeoutMs: 1000,
        unavailable: RefreshLockUnavailableError,
      });
    });
    afterAll(() => client?.close());

    it('sets with a TTL, gets, sets only if absent, and deletes', async () => {
      const key = `${prefix}k`;
      expect(await commands.get(key)).toBeNull();
      await commands.set(key, 'one', 5000);
      expect(await commands.get(key)).toBe('one');
      expect(await redis.pTTL(key)).toBeGreaterThan(4000);
      expect(await commands.setNx(key, 'two', 5000)).toBe(false);
      expect(await commands.get(key)).toBe('one');
      expect(await commands.del([key])).toBe(1);
      expect(await commands.setNx(key, 'three', 5000)).toBe(true);
      expect(await redis.get(key)).toBe('three');
      expect(await commands.del([])).toBe(0);
    });

    it('runs a script over several keys of one hash tag, and deletes them together', async () => {
      const keys = [`${prefix}{user-7}:a`, `${prefix}{user-7}:b`];
      const script = "redis.call('set', KEYS[1], ARGV[1]); redis.call('set', KEYS[2], ARGV[2]); return 2";
      expect(await commands.evalScript(script, keys, ['x', 'y'])).toBe(2);
      expect(await redis.mGet(keys)).toEqual(['x', 'y']);
      expect(await commands.del(keys)).toBe(2);
    });

    it('refuses keys a Cluster could spread over several slots, and a script without a key, sending nothing', async () => {
      const spread = new TypeError(
        'express-wps-oauth: the keys of one EVAL must share a hash tag ({…}), or a Redis Cluster may spread them ' +
          'over several slots',
      );
      await expect(commands.evalScript('return 1', [`${prefix}a`, `${prefix}b`], [])).rejects.toThrow(spread);
      await expect(commands.del([`${prefix}{a}:1`, `${prefix}{b}:1`])).rejects.toThrow(
        new TypeError(spread.message.replace('EVAL', 'DEL')),
      );
      await expect(commands.evalScript('return 1', [], [])).rejects.toThrow(
        new TypeError('express-wps-oauth: EVAL needs at least one key, to route it'),
      );
    });

    it('reports a command Redis refuses as the helper error, with the reply code only', async () => {
      // A wrong-type reply: the key holds a list. Only the error's name and the reply's code word are kept.
      const key = `${prefix}list`;
      await redis.lPush(key, 'item');
      const failure = commands.get(key);
      await expect(failure).rejects.toBeInstanceOf(RefreshLockUnavailableError);
      await expect(failure).rejects.toThrow(
        new RefreshLockUnavailableError(
          `Redis failed the test's GET: ${kind === 'ioredis' ? 'ReplyError' : 'Error'} WRONGTYPE`,
        ),
      );
    });
  });
});
