'use strict';

// Starts the multi-instance example with one command: `node examples/multi-instance/start.js`.
// Builds the package if dist/ is missing, checks Redis, starts a fake WPS (rotating refresh tokens, 200 ms per
// token call), forks two app instances on two ports, and prints every token call the fake receives.

const { execFileSync, fork } = require('node:child_process');
const { randomBytes } = require('node:crypto');
const { existsSync } = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '../..');
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PORTS = [Number(process.env.PORT_A ?? 3001), Number(process.env.PORT_B ?? 3002)];
const NAMES = ['A', 'B'];
const KEY_PREFIX = 'wps-example:';
const CLIENT = { clientId: 'demo-client-id', clientSecret: 'demo-client-secret' };

function buildIfMissing() {
  if (existsSync(path.join(ROOT, 'dist/index.js'))) return;
  console.log('dist/ is missing: running `npm run build` first…');
  execFileSync(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
}

async function checkRedis() {
  const { createClient } = require('redis');
  const client = createClient({ url: REDIS_URL, socket: { reconnectStrategy: false, connectTimeout: 2000 } });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.ping();
  } catch (err) {
    throw new Error(
      `Redis is not reachable at ${REDIS_URL} (${err.message}). Start one, e.g. \`redis-server\` or ` +
        '`docker run --rm -p 6379:6379 redis`, or point REDIS_URL at yours.',
      { cause: err },
    );
  } finally {
    client.destroy();
  }
}

/** Print each token call the fake WPS receives, so one refresh per storm is visible. */
function watchTokenCalls(fake) {
  let seen = 0;
  const timer = setInterval(() => {
    const calls = fake.tokenRequests();
    for (; seen < calls.length; seen++) {
      console.log(`[fake WPS] token call #${seen + 1}: grant_type=${calls[seen].form.grant_type}`);
    }
  }, 200);
  timer.unref();
}

function startInstance(index, fake, sessionSecret) {
  const other = 1 - index;
  const child = fork(path.join(__dirname, 'instance.js'), [], {
    env: {
      ...process.env,
      INSTANCE_NAME: NAMES[index],
      PORT: String(PORTS[index]),
      PEER_NAME: NAMES[other],
      PEER_PORT: String(PORTS[other]),
      REDIS_URL,
      KEY_PREFIX,
      SESSION_SECRET: sessionSecret,
      WPS_BASE_URL: fake.url,
      WPS_CLIENT_ID: CLIENT.clientId,
      WPS_CLIENT_SECRET: CLIENT.clientSecret,
    },
  });
  return new Promise((resolve, reject) => {
    child.once('message', () => resolve(child));
    child.once('exit', (code) => reject(new Error(`instance ${NAMES[index]} exited with code ${code}`)));
  });
}

async function main() {
  for (const port of PORTS) {
    if (!Number.isInteger(port) || port < 1 || port > 65535)
      throw new Error('PORT_A and PORT_B must be ports, 1 to 65535');
  }
  buildIfMissing();
  await checkRedis();
  const { startFakeWps } = require('express-wps-oauth/testing');
  const fake = await startFakeWps({ ...CLIENT, tokenLatencyMs: 200, rotateRefreshTokens: true });
  watchTokenCalls(fake);
  // One secret for both instances, so that each can read the other's session cookie.
  const sessionSecret = randomBytes(32).toString('hex');
  const children = [];
  const stop = async () => {
    for (const child of children) child.kill('SIGTERM');
    await fake.close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    for (const index of [0, 1]) children.push(await startInstance(index, fake, sessionSecret));
  } catch (err) {
    for (const child of children) child.kill('SIGTERM');
    await fake.close();
    throw err;
  }
  console.log(
    [
      '',
      'express-wps-oauth multi-instance example',
      `  instance A: http://localhost:${PORTS[0]}/`,
      `  instance B: http://localhost:${PORTS[1]}/`,
      `  fake WPS:   ${fake.url} (rotates refresh tokens; 200 ms per token call)`,
      `  Redis:      ${REDIS_URL} (sessions under ${KEY_PREFIX}sess:, refresh locks under ${KEY_PREFIX}lock:)`,
      'Sign in on one instance, open the other: same session. Press "Storm" to see 100 requests across both',
      'instances cause one refresh call. Ctrl-C stops everything.',
      '',
    ].join('\n'),
  );
}

main().catch((err) => {
  console.error(`Could not start the example: ${err.message}`);
  process.exit(1);
});
