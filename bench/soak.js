'use strict';

// Soak: `requests` requests through requireWpsToken over `sessions` signed-in sessions, one token refresh every
// `every` requests; heap after full GCs at the end against the heap after warm-up. Run alone with
// `node bench/soak.js` (after `npm run build`).
const { performance } = require('node:perf_hooks');
const { ServerProcess } = require('./lib/child');
const { load } = require('./lib/load');

const CHUNK = 40_000;

/**
 * @param {{ requests?: number, warmup?: number, every?: number, sessions?: number, connections?: number,
 *   budgetMs?: number, server?: ServerProcess }} options `budgetMs` bounds the measured phase: the soak stops early
 *   (and says so) past it. `server`: an already started `servers/soak.js` with `every` (stopped here either way).
 */
async function runSoak({
  requests = 200_000,
  warmup = 30_000,
  every = 1000,
  sessions = 10,
  connections = 50,
  budgetMs = 90_000,
  server: given,
} = {}) {
  const server = given ?? (await ServerProcess.start('soak.js', [String(every)], { execArgv: ['--expose-gc'] }));
  try {
    const cookies = [];
    for (let i = 0; i < sessions; i++) cookies.push(await server.call('login'));
    let next = 0;
    const setupClient = (client) => client.setHeaders({ cookie: cookies[next++ % cookies.length] });
    const url = `${server.origin}/api`;

    const warm = await load({ url, connections, amount: warmup, setupClient });
    const before = await server.call('heap');
    const started = performance.now();
    let done = 0;
    let bad = warm.bad;
    let stoppedEarly = false;
    const checkpoints = [{ requests: 0, heapUsed: before.heapUsed }];
    while (done < requests) {
      if (performance.now() - started > budgetMs) {
        stoppedEarly = true;
        break;
      }
      const run = await load({ url, connections, amount: Math.min(CHUNK, requests - done), setupClient });
      done += run.total;
      bad += run.bad;
      checkpoints.push({ requests: done, heapUsed: (await server.call('heap')).heapUsed });
    }
    const seconds = (performance.now() - started) / 1000;
    const after = await server.call('heap');
    return {
      requests: done,
      stoppedEarly,
      seconds,
      rps: done / seconds,
      bad,
      sessions,
      every,
      refreshCalls: after.refreshCalls - before.refreshCalls,
      heapAfterWarmup: before.heapUsed,
      heapAtEnd: after.heapUsed,
      checkpoints,
      growthPct: ((after.heapUsed - before.heapUsed) / before.heapUsed) * 100,
    };
  } finally {
    await server.stop();
  }
}

module.exports = { runSoak };

if (require.main === module) {
  runSoak().then(
    (result) => console.log(result),
    (err) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
