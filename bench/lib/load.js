'use strict';

const autocannon = require('autocannon');

/**
 * Load `url` with autocannon from this process (the servers are other processes) and summarize the run.
 * Bounded by `duration` seconds, or by `amount` requests when given.
 */
async function load({ url, connections, duration, amount, headers, setupClient }) {
  const result = await autocannon({
    url,
    connections,
    pipelining: 1,
    ...(amount === undefined ? { duration } : { amount }),
    ...(headers !== undefined && { headers }),
    ...(setupClient !== undefined && { setupClient }),
  });
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    total: result.requests.total,
    seconds: result.duration,
    bad: result.non2xx + result.errors + result.timeouts,
  };
}

module.exports = { load };
