import express from 'express';
import request from 'supertest';
import { redisEventDedupe, wpsEvents } from '../../lib';
import { resolveEventsConfig } from '../../lib/events/config';
import { createClient } from 'redis';

const HEAD = 'express-wps-oauth: invalid wpsEvents options:\n';

describe('wpsEvents options', () => {
  it('fills every default, reading clientId and clientSecret from the environment', () => {
    const c = resolveEventsConfig({}, { WPS_CLIENT_ID: 'env-id', WPS_CLIENT_SECRET: 'env-secret' });
    expect(c).toMatchObject({
      clientId: 'env-id',
      clientSecret: 'env-secret',
      onEvent: undefined,
      maxAgeMs: 300_000,
      ackTimeoutMs: 2500,
      maxBodyBytes: 1024 * 1024,
      dedupeTtlMs: 600_000,
      dedupe: undefined,
    });
    expect(c.handlers.size).toBe(0);
    expect(typeof c.clock.now()).toBe('number');
  });

  it('accepts every option given as undefined (exactOptionalPropertyTypes users may write so)', () => {
    const c = resolveEventsConfig(
      {
        clientId: undefined,
        clientSecret: undefined,
        on: undefined,
        onEvent: undefined,
        maxAgeSeconds: undefined,
        ackTimeoutMs: undefined,
        maxBodyBytes: undefined,
        dedupe: undefined,
        logger: undefined,
        clock: undefined,
      },
      { WPS_CLIENT_ID: 'id', WPS_CLIENT_SECRET: 'secret' },
    );
    expect([c.clientId, c.maxAgeMs, c.ackTimeoutMs]).toEqual(['id', 300_000, 2500]);
  });

  it('keeps handlers in a Map: a topic named like an Object.prototype member finds nothing', () => {
    const handler = () => {};
    const c = resolveEventsConfig({ clientId: 'a', clientSecret: 'b', on: { 'kso.x': handler } }, {});
    expect([c.handlers.get('kso.x'), c.handlers.get('constructor'), c.handlers.get('__proto__')]).toEqual([
      handler,
      undefined,
      undefined,
    ]);
  });

  it('lists every problem by name, with the fix, never a value', () => {
    const secretLooking = 987654321;
    expect(() =>
      wpsEvents({
        clientId: 5,
        clientSecret: secretLooking,
        on: { 'a.b': 'x', 'c:d': () => {} },
        onEvent: 1,
        maxAgeSeconds: 0,
        ackTimeoutMs: 5000,
        maxBodyBytes: 1.5,
        dedupe: {},
        logger: { info() {} },
        clock: 'now',
        extra: 1,
      } as never),
    ).toThrow(
      new TypeError(
        HEAD +
          '  - clientId must be a string\n' +
          '  - clientSecret must be a non-empty string\n' +
          '  - on.a.b must be a function: (event, req) => …\n' +
          '  - on.c:d is not a topic name (WPS topics contain no ":")\n' +
          '  - onEvent must be a function: (event, req) => …\n' +
          '  - maxAgeSeconds must be a whole number of seconds from 1 to 86400\n' +
          '  - ackTimeoutMs must be a whole number of ms from 1 to 3000 (WPS waits 3 s)\n' +
          '  - maxBodyBytes must be a whole number of bytes from 1024 to 67108864\n' +
          '  - dedupe.claim is missing (dedupe needs claim(key, ttlMs) and release(key), e.g. redisEventDedupe(client))\n' +
          '  - dedupe.release is missing (dedupe needs claim(key, ttlMs) and release(key), e.g. redisEventDedupe(client))\n' +
          '  - logger.debug is missing (a logger needs debug, info, warn and error; pino, winston and console fit)\n' +
          '  - logger.warn is missing (a logger needs debug, info, warn and error; pino, winston and console fit)\n' +
          '  - logger.error is missing (a logger needs debug, info, warn and error; pino, winston and console fit)\n' +
          '  - clock must be an object (a clock needs now() returning epoch ms, e.g. systemClock or createTestClock())\n' +
          '  - extra is not allowed',
      ),
    );
  });

  it('names the missing credentials and their environment variables', () => {
    expect(() => resolveEventsConfig({}, {})).toThrow(
      new TypeError(
        HEAD +
          '  - clientId is required (or set WPS_CLIENT_ID)\n' +
          '  - clientSecret is required (or set WPS_CLIENT_SECRET)',
      ),
    );
    expect(() =>
      resolveEventsConfig(
        { on: [], dedupe: { claim: 1, release: () => {} }, clock: { now: 1 } },
        { WPS_CLIENT_ID: 'a', WPS_CLIENT_SECRET: 'b' },
      ),
    ).toThrow(
      new TypeError(
        HEAD +
          '  - on must be an object of handlers by topic name, such as kso.app_chat.message\n' +
          '  - dedupe.claim must be a function (dedupe needs claim(key, ttlMs) and release(key), e.g. redisEventDedupe(client))\n' +
          '  - clock.now must be a function (a clock needs now() returning epoch ms, e.g. systemClock or createTestClock())',
      ),
    );
  });

  it('refuses options that are not an object', () => {
    for (const bad of ['id', null, [], () => {}]) {
      expect(() => wpsEvents(bad as never)).toThrow(
        new TypeError(
          "express-wps-oauth: wpsEvents(options) expects an options object, e.g. wpsEvents({ on: { 'kso.app_chat.message': handler } })",
        ),
      );
    }
  });

  it('says how to mount it when it was passed uncalled', async () => {
    const app = express();
    app.post('/wps/events', wpsEvents as never);
    const errors: unknown[] = [];
    app.use((err: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      errors.push(err);
      res.status(500).json({ message: err.message });
    });
    const res = await request(app).post('/wps/events').send({ challenge: 'x' }).expect(500);
    expect(res.body.message).toBe(
      "express-wps-oauth: it appears you have done something like `app.post('/wps/events', wpsEvents)`, " +
        "but it should be `app.post('/wps/events', wpsEvents({ on: { 'kso.app_chat.message': handler } }))`.",
    );
    expect(errors[0]).toMatchObject({ code: 'misconfigured' });
  });
});

describe('redisEventDedupe options', () => {
  // Never connected: enough to validate options.
  const client = createClient();

  it('refuses what is not a Redis client, and bad options, with the fix', () => {
    expect(() => redisEventDedupe({} as never)).toThrow(
      new TypeError(
        'express-wps-oauth: redisEventDedupe(client) cannot use this client: it has no set(), get(), del(), eval(). ' +
          "It takes a client of node-redis 5 or 6 (createClient() or createCluster() from 'redis') or " +
          "of ioredis 5 or 6 (new Redis() or new Cluster() from 'ioredis').",
      ),
    );
    expect(() => redisEventDedupe(client, { prefix: 5 as never })).toThrow(
      new TypeError('express-wps-oauth: invalid redisEventDedupe options:\n  - prefix must be a string'),
    );
    expect(() => redisEventDedupe(client, { commandTimeoutMs: 0 })).toThrow(
      new TypeError(
        'express-wps-oauth: invalid redisEventDedupe options:\n' +
          '  - commandTimeoutMs must be a whole number of ms from 1 to 60000',
      ),
    );
    expect(() => redisEventDedupe(client, null as never)).toThrow(
      new TypeError(
        "express-wps-oauth: redisEventDedupe(client, options) expects an options object, e.g. redisEventDedupe(client, { prefix: 'my-app:' })",
      ),
    );
  });

  it('accepts undefined for every option', () => {
    expect(() => redisEventDedupe(client, { prefix: undefined, commandTimeoutMs: undefined })).not.toThrow();
  });
});
