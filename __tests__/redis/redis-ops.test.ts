import express from 'express';
import session from 'express-session';
import { RedisStore } from 'connect-redis';
import request from 'supertest';
import { redisRefreshLock, requireWpsToken, wpsAuth } from '../../lib';
import { signedInAgent, startFakeWps, type FakeWps } from '../../lib/testing';
import { CLIENT_ID, CLIENT_SECRET, REDIRECT_URI } from '../helpers/app';
import { connectRedis, deleteKeys, describeRedis, uniquePrefix, waitFor, type Redis } from './helpers';

// What a request costs in Redis through connect-redis: the library adds no command to what express-session does
// alone. Counted with MONITOR, on this test's own key prefix (other suites may share the Redis).

describeRedis('Redis commands per request through connect-redis', () => {
  let fake: FakeWps;
  let redis: Redis;
  let monitor: Redis;
  let prefix: string;
  const seen: string[][] = [];

  beforeAll(async () => {
    prefix = uniquePrefix();
    [fake, redis, monitor] = await Promise.all([
      startFakeWps({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET }),
      connectRedis(),
      connectRedis(),
    ]);
    await monitor.monitor((line: string) => {
      if (!line.includes(prefix)) return;
      const args = [...line.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1] as string);
      seen.push(args.map((a, i) => (i === 0 ? a.toUpperCase() : a)));
    });
  });
  afterAll(async () => {
    await deleteKeys(redis, prefix);
    await Promise.all([fake?.close(), redis?.close(), monitor?.close()]);
  });

  function app(withLibrary: boolean): express.Express {
    const a = express();
    a.use(
      session({
        store: new RedisStore({ client: redis, prefix: `${prefix}sess:` }),
        secret: 's',
        resave: false,
        saveUninitialized: false,
      }),
    );
    if (withLibrary) {
      a.use(
        wpsAuth({
          clientId: CLIENT_ID,
          clientSecret: CLIENT_SECRET,
          redirectUri: REDIRECT_URI,
          baseUrl: fake.url,
          refreshLock: redisRefreshLock(redis, { prefix: `${prefix}lock:` }),
        }),
      );
      a.get('/api', requireWpsToken({ unauthenticated: 'error' }), (_req, res) => res.json({ ok: true }));
    } else {
      a.get('/start', (req, res) => {
        req.session.hits = 1;
        res.json({ ok: true });
      });
      a.get('/api', (_req, res) => res.json({ ok: true }));
    }
    return a;
  }

  /** The commands `n` requests of `agent` to /api sent to Redis (under this test's prefix), by name. */
  async function commandsOf(agent: ReturnType<typeof request.agent>, n: number): Promise<string[]> {
    await agent.get('/api').expect(200); // the session is loaded once before counting
    await waitFor(() => seen.length > 0);
    const marker = `${prefix}marker:${Math.random()}`;
    await redis.get(marker);
    await waitFor(() => seen.some((c) => c.includes(marker)));
    seen.length = 0;
    for (let i = 0; i < n; i++) await agent.get('/api').expect(200);
    const end = `${prefix}marker:${Math.random()}`;
    await redis.get(end);
    await waitFor(() => seen.some((c) => c.includes(end)));
    return seen.filter((c) => !c.includes(end)).map((c) => c[0] as string);
  }

  it('a protected request with a fresh token: one GET and one EXPIRE, exactly as express-session alone', async () => {
    const plain = request.agent(app(false));
    await plain.get('/start').expect(200);
    const alone = await commandsOf(plain, 5);

    const ours = await signedInAgent(request.agent(app(true)), fake);
    const withLibrary = await commandsOf(ours, 5);

    expect(alone).toEqual(Array(5).fill(['GET', 'EXPIRE']).flat());
    expect(withLibrary).toEqual(alone);
  });
});

declare module 'express-session' {
  interface SessionData {
    hits?: number;
  }
}
