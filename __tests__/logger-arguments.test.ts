import express from 'express';
import session from 'express-session';
import request from 'supertest';
import { requireWpsToken, wpsAuth, wpsEvents, type WpsLogger } from '../lib';
import { expireAgentAccessToken, signedInAgent } from '../lib/testing';
import { CLIENT_ID, CLIENT_SECRET, REDIRECT_URI } from './helpers/app';
import { useFakeWps } from './helpers/fake-wps';

/** Every call the library makes to the logger, with its exact arguments. */
function recordingLogger(): WpsLogger & { calls: unknown[][] } {
  const calls: unknown[][] = [];
  const record =
    (level: string) =>
    (...args: unknown[]) =>
      void calls.push([level, ...args]);
  return { calls, debug: record('debug'), info: record('info'), warn: record('warn'), error: record('error') };
}

const fake = useFakeWps({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET });

describe('calls to the logger', () => {
  it('never pass undefined (or anything but one object) as a second argument, through sign-in, refresh, faults and events', async () => {
    const logger = recordingLogger();
    const app = express();
    app.post('/wps/events', wpsEvents({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, logger, on: {} }));
    app.use(session({ secret: 's', resave: false, saveUninitialized: false }));
    app.use(
      wpsAuth({
        clientId: CLIENT_ID,
        clientSecret: CLIENT_SECRET,
        redirectUri: REDIRECT_URI,
        baseUrl: fake.url,
        logger,
      }),
    );
    app.get('/me', requireWpsToken({ unauthenticated: 'error' }), (req, res) => res.json({ ok: true }));
    app.use((err: { status?: number }, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      res.status(err.status ?? 500).json({});
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const { port } = server.address() as { port: number };
    try {
      const agent = await signedInAgent(request.agent(app), fake);
      await expireAgentAccessToken(agent);
      await agent.get('/me').expect(200);
      // A refresh WPS is down for: the still-valid token is gone, so a 502, logged with details.
      await expireAgentAccessToken(agent);
      fake.queueTokenFault({ status: 503 });
      await agent.get('/me').expect(502);
      await agent.get('/auth/wps/logout').expect(302);
      // A callback with a state this session never issued, then events: the URL check, a bad signature, a good one.
      await request(app).get('/auth/wps/callback?code=c&state=s').expect(400);
      await fake.sendEvent(`http://127.0.0.1:${port}/wps/events`, { topic: 'kso.test', operation: 'create', data: {} });
      await request(app).post('/wps/events').send({ challenge: 'x' }).expect(200);
      await request(app).post('/wps/events').type('json').send('{"topic":').expect(400);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }

    expect(logger.calls.length).toBeGreaterThan(10);
    const levels = new Set(logger.calls.map((c) => c[0]));
    expect([...levels].sort()).toEqual(['debug', 'error', 'info', 'warn']);
    for (const call of logger.calls) {
      const [, message, ...rest] = call;
      expect(typeof message).toBe('string');
      expect(rest.length).toBeLessThanOrEqual(1);
      if (rest.length === 1) expect(rest[0]).toEqual(expect.any(Object));
      expect(rest).not.toContain(undefined);
    }
    // Both forms occur: lines with details, and lines without (one argument).
    expect(logger.calls.some((c) => c.length === 2)).toBe(true);
    expect(logger.calls.some((c) => c.length === 3)).toBe(true);
  });
});
