'use strict';

// Refresh storm: `concurrency` simultaneous requests on one session whose access token has just expired, against a
// fake WPS answering token calls in 100 ms. Counts the refresh calls WPS received (must be 1) and the latency each
// request saw. The same burst on the same session right after (token now fresh) gives the floor: what 500
// simultaneous requests cost this machine without any refresh. Run alone with `node bench/storm.js` after
// `npm run build`.
const http = require('node:http');
const { performance } = require('node:perf_hooks');
const { ServerProcess } = require('./lib/child');
const { percentile } = require('./lib/stats');

const TOKEN_LATENCY_MS = 100;

function get(agent, port, path, headers) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = http.get({ agent, host: '127.0.0.1', port, path, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, ms: performance.now() - started }));
    });
    req.on('error', reject);
  });
}

/** `n` simultaneous GETs; resolves to their statuses and client-side latencies. */
function burst(agent, port, path, headers, n) {
  return Promise.all(Array.from({ length: n }, () => get(agent, port, path, headers)));
}

function summarize(shots, report) {
  const ms = shots.map((s) => s.ms);
  return {
    refreshCalls: report.refreshCalls,
    ok: shots.filter((s) => s.status === 200).length,
    total: shots.length,
    p50: percentile(ms, 50),
    p99: percentile(ms, 99),
    max: Math.max(...ms),
    serverP50: percentile(report.serverMs, 50),
    serverP99: percentile(report.serverMs, 99),
    arrivalSpanMs: report.arrivalSpanMs,
  };
}

/**
 * @param {{ concurrency?: number, runs?: number, server?: ServerProcess }} options `server`: an already started
 *   `servers/storm.js` (left running); otherwise one is started and stopped here.
 * @returns {Promise<Array<{ storm: object, floor: object }>>}
 */
async function runStorm({ concurrency = 500, runs = 3, server: given } = {}) {
  const server = given ?? (await ServerProcess.start('storm.js'));
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency, maxFreeSockets: concurrency });
  const results = [];
  try {
    for (let run = 0; run < runs; run++) {
      // Open every socket first, so the storm measures the server, not TCP handshakes.
      await burst(agent, server.port, '/healthz', {}, concurrency);
      const cookie = await server.call('expiredSession');
      const storm = summarize(
        await burst(agent, server.port, '/api', { cookie }, concurrency),
        await server.call('report'),
      );
      const floor = summarize(
        await burst(agent, server.port, '/api', { cookie }, concurrency),
        await server.call('report'),
      );
      results.push({ storm, floor });
    }
  } finally {
    agent.destroy();
    if (given === undefined) await server.stop();
  }
  return results;
}

module.exports = { runStorm, TOKEN_LATENCY_MS };

if (require.main === module) {
  runStorm().then(
    (results) => {
      console.table(results.map((r) => r.storm));
      console.table(results.map((r) => r.floor));
    },
    (err) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
