'use strict';

// Soak: our app under sustained load, a token refresh every `EVERY` requests, heap measured after full GCs.
// Needs --expose-gc.
const { start } = require('./common');
const { buildOursApp } = require('./ours-app');
const { expireAccessToken } = require('express-wps-oauth/testing');

const EVERY = Number(process.argv[2] ?? 1000);

if (typeof global.gc !== 'function') throw new Error('run the soak server with --expose-gc');

start(async (origin) => {
  let served = 0;
  let refreshCalls = 0;
  // Bench-only: every EVERY-th request finds its session's access token expired, as time would leave it, so
  // requireWpsToken refreshes through the real fake WPS (single-flight, lock, store re-read, save).
  function expireEvery(req, _res, next) {
    served++;
    if (served % EVERY === 0) expireAccessToken(req);
    next();
  }
  const ours = await buildOursApp(origin, { beforeGuard: [expireEvery] });

  const commands = {
    /** Heap after full GCs, with the fake's request log (bench bookkeeping, not the library) emptied first. */
    async heap() {
      refreshCalls += ours.fake.tokenRequests('refresh_token').length;
      ours.fake.reset();
      for (let i = 0; i < 4; i++) {
        global.gc();
        await new Promise((resolve) => setImmediate(resolve));
      }
      const { heapUsed, rss } = process.memoryUsage();
      return { heapUsed, rss, served, refreshCalls };
    },
  };
  return { ...ours, commands };
});
