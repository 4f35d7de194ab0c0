'use strict';

// One app instance. start.js runs two of them on two ports; they share sessions (connect-redis) and the refresh
// lock (redisRefreshLock) through one Redis, so either instance can serve any request of any user.
//
// The part to copy is the setup in main(): one redis client, used by connect-redis and by redisRefreshLock.

const { createHash } = require('node:crypto');
const express = require('express');
const session = require('express-session');
const { RedisStore } = require('connect-redis');
const { createClient } = require('redis');
const { wpsAuth, requireWpsToken, redisRefreshLock } = require('express-wps-oauth');
const { expireAccessToken } = require('express-wps-oauth/testing');

const env = process.env;
const NAME = env.INSTANCE_NAME;
const PORT = Number(env.PORT);
const STORM_SIZE = 100;

function say(line) {
  console.log(`[${NAME}] ${line}`);
}

/** Prints what the library reports (it never logs a token). */
const logger = {
  debug: (message, meta) => say(`${message} ${JSON.stringify(meta ?? {})}`),
  info: (message, meta) => say(`${message} ${JSON.stringify(meta ?? {})}`),
  warn: (message, meta) => say(`WARN ${message} ${JSON.stringify(meta ?? {})}`),
  error: (message, meta) => say(`ERROR ${message} ${JSON.stringify(meta ?? {})}`),
};

/** A short, non-reversible name for a token, to show that two answers carry the same one. */
function fingerprint(token) {
  return createHash('sha256').update(token).digest('hex').slice(0, 10);
}

function escapeHtml(value) {
  return String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title, body) {
  return `<!doctype html><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem}
form{display:inline}button{margin:0 .5rem .5rem 0}code{background:#f3f3f3;padding:0 .2rem}</style>
<h1>${escapeHtml(title)}</h1>${body}`;
}

/** GET `url` with this user's cookie; resolves with the status and JSON body, never rejects. */
async function callWithCookie(url, cookie) {
  try {
    const res = await fetch(url, { headers: cookie ? { cookie } : {} });
    return { status: res.status, body: await res.json().catch(() => ({})) };
  } catch {
    return { status: 0, body: {} };
  }
}

async function main() {
  const redis = createClient({ url: env.REDIS_URL });
  redis.on('error', (err) => say(`redis: ${err.message}`));
  await redis.connect();

  const app = express();
  app.use(
    session({
      store: new RedisStore({ client: redis, prefix: `${env.KEY_PREFIX}sess:` }),
      // Every instance must use the same secret, or they cannot read each other's session cookies.
      secret: env.SESSION_SECRET,
      resave: false,
      saveUninitialized: false,
    }),
  );
  app.use(
    wpsAuth({
      clientId: env.WPS_CLIENT_ID,
      clientSecret: env.WPS_CLIENT_SECRET,
      redirectUri: `http://localhost:${PORT}/auth/wps/callback`,
      baseUrl: env.WPS_BASE_URL,
      refreshLock: redisRefreshLock(redis, { prefix: `${env.KEY_PREFIX}lock:` }),
      logger,
    }),
  );

  app.get('/', (req, res, next) => {
    if (!req.wps.isAuthenticated()) return home(req, res);
    // Signed in: show which access token this instance uses (refreshed first if it has expired).
    req.wps.getAccessToken().then(() => home(req, res), next);
  });

  function home(req, res) {
    const peer = `<a href="http://localhost:${Number(env.PEER_PORT)}/">instance ${escapeHtml(env.PEER_NAME)}</a>`;
    const body = req.wps.isAuthenticated()
      ? `<p>Signed in. Access token <code>${fingerprint(req.wps.accessToken ?? '')}</code>,
expires ${escapeHtml(req.wps.expiresAt?.toISOString() ?? '')}. Open ${peer}: same session.</p>
<form method="post" action="/demo/expire"><button>Expire my access token</button></form>
<form method="post" action="/demo/storm"><button>Storm: expire it, then ${STORM_SIZE} requests across both instances</button></form>
<form method="post" action="/auth/wps/logout"><button>Sign out</button></form>`
      : `<p>Not signed in. <a href="/auth/wps/login">Sign in with WPS</a> (the fake WPS signs you in at once).</p>
<p>Then open ${peer}: it knows you too.</p>`;
    res.type('html').send(page(`Instance ${NAME} (port ${PORT}, pid ${process.pid})`, body));
  }

  app.get('/api/token', requireWpsToken({ unauthenticated: 'error' }), (req, res) => {
    res.json({ instance: NAME, token: fingerprint(req.wps.accessToken) });
  });

  app.post('/demo/expire', (req, res) => {
    expireAccessToken(req);
    res.redirect(303, '/');
  });

  // Expires the token, then sends STORM_SIZE concurrent requests with this user's cookie, half to each instance.
  app.post('/demo/storm', async (req, res, next) => {
    try {
      if (!expireAccessToken(req)) return res.redirect(303, '/');
      await new Promise((resolve, reject) => req.session.save((err) => (err ? reject(err) : resolve())));
      const ports = [PORT, Number(env.PEER_PORT)];
      const urls = Array.from({ length: STORM_SIZE }, (_, i) => `http://127.0.0.1:${ports[i % 2]}/api/token`);
      const replies = await Promise.all(urls.map((url) => callWithCookie(url, req.headers.cookie)));
      const ok = replies.filter((r) => r.status === 200);
      const byInstance = {};
      for (const r of ok) byInstance[r.body.instance] = (byInstance[r.body.instance] ?? 0) + 1;
      const distinct = [...new Set(ok.map((r) => r.body.token))];
      say(`storm: ${ok.length}/${STORM_SIZE} answered 200, ${distinct.length} distinct access token(s)`);
      res.type('html').send(
        page(
          'Storm result',
          `<p>${ok.length} of ${STORM_SIZE} requests answered 200 (${Object.entries(byInstance)
            .map(([name, n]) => `${n} by instance ${escapeHtml(name)}`)
            .join(', ')}).</p>
<p>Access tokens seen: ${distinct.map((d) => `<code>${escapeHtml(d)}</code>`).join(', ')}.</p>
<p>The terminal shows how many refresh calls reached the fake WPS: one per storm.</p><p><a href="/">Back</a></p>`,
        ),
      );
    } catch (err) {
      next(err);
    }
  });

  app.use((err, req, res, _next) => {
    res
      .status(err.status ?? 500)
      .type('html')
      .send(page('Error', `<p>${escapeHtml(err.code ?? 'error')}: ${escapeHtml(err.message)}</p>`));
  });

  const server = app.listen(PORT, '127.0.0.1', () => process.send?.({ ready: PORT }));
  server.on('error', (err) => {
    say(`cannot listen on port ${PORT}: ${err.message}`);
    process.exit(1);
  });
  const stop = () => {
    server.close();
    server.closeAllConnections();
    redis.destroy();
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  process.once('disconnect', stop);
}

main().catch((err) => {
  say(`could not start: ${err.message}`);
  process.exit(1);
});
