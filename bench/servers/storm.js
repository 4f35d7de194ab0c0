'use strict';

// Refresh storm: our app with a fake WPS that takes 100 ms per token call. `expiredSession` signs in with a
// 1-second access token and waits until it has expired (refreshSkewSeconds 0: expired means expired).
const { performance } = require('node:perf_hooks');
const { start } = require('./common');
const { buildOursApp } = require('./ours-app');

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

start(async (origin) => {
  // Server-side view of each request (arrival at the route → response finished), to tell server time from the
  // time a request spends queued in socket buffers while the server works through the burst.
  let timings = [];
  function timed(_req, res, next) {
    const arrived = performance.now();
    res.on('finish', () => timings.push({ arrived, ms: performance.now() - arrived }));
    next();
  }
  const ours = await buildOursApp(origin, {
    fake: { tokenLatencyMs: 100 },
    auth: { refreshSkewSeconds: 0 },
    beforeGuard: [timed],
  });
  const commands = {
    async expiredSession() {
      ours.fake.setOptions({ accessTokenTtlSeconds: 1 });
      const cookie = await ours.login();
      ours.fake.setOptions({ accessTokenTtlSeconds: 7200 });
      await sleep(1100);
      ours.fake.reset();
      timings = [];
      return cookie;
    },
    /** Refresh calls WPS received and the server-side timings since the last `expiredSession` or `report`. */
    report() {
      const refreshCalls = ours.fake.tokenRequests('refresh_token').length;
      const arrivals = timings.map((t) => t.arrived);
      const result = {
        refreshCalls,
        serverMs: timings.map((t) => t.ms),
        arrivalSpanMs: arrivals.length === 0 ? 0 : Math.max(...arrivals) - Math.min(...arrivals),
      };
      ours.fake.reset();
      timings = [];
      return result;
    },
  };
  return { ...ours, commands };
});
