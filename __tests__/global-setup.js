'use strict';

const net = require('node:net');

/** Whether a Redis answers PING at host:port within `ms`. */
function redisAnswers(host, port, ms) {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(ms, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (chunk) => done(chunk.toString('latin1').startsWith('+PONG')));
  });
}

/**
 * Before any test file: when REDIS_URL is unset and a Redis answers on 127.0.0.1:6379 (as on this project's
 * machines and in .ci/run), use it — the Redis suites run without any setup. The workers inherit the variable.
 */
module.exports = async function globalSetup() {
  if (process.env.REDIS_URL) return;
  if (await redisAnswers('127.0.0.1', 6379, 1000)) process.env.REDIS_URL = 'redis://127.0.0.1:6379';
};
