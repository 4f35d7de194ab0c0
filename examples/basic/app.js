'use strict';

// Sign in with WPS 365 in an Express app. This file is the part to copy; server.js only starts it.
//
// With WPS_CLIENT_ID, WPS_CLIENT_SECRET and WPS_REDIRECT_URI set it talks to the real openapi.wps.cn.
// Without them it starts a fake WPS in this process (demo user "Ada Demo"), so it works with no account.
// It also receives the events WPS pushes (POST /wps/events) and lists the last ones on its Events page.

const http = require('node:http');
const { randomBytes } = require('node:crypto');
const express = require('express');
const session = require('express-session');
const { wpsAuth, wpsEvents, requireWpsToken, WpsAuthError, WpsApiError } = require('express-wps-oauth');
const { startFakeWps } = require('express-wps-oauth/testing');

const WPS_BASE_URL = 'https://openapi.wps.cn';
const WPS_ENV = ['WPS_CLIENT_ID', 'WPS_CLIENT_SECRET', 'WPS_REDIRECT_URI'];
const DEMO_CLIENT = { clientId: 'demo-client-id', clientSecret: 'demo-client-secret' };
const DEMO_USER_NAME = 'Ada Demo';
const EVENTS_PATH = '/wps/events';
// How many events the Events page keeps (in memory: a restart empties it).
const MAX_EVENTS = 20;

/**
 * Where users sign in: the real WPS when all three WPS_* variables are set, otherwise a fake WPS on 127.0.0.1
 * whose consent page signs everyone in as the demo user.
 */
async function connectWps(env, origin, port) {
  const missing = WPS_ENV.filter((name) => !env[name]);
  if (missing.length === 0) {
    const redirect = new URL(env.WPS_REDIRECT_URI);
    const local = ['localhost', '127.0.0.1'].includes(redirect.hostname);
    if (local && Number(redirect.port || 80) !== port) {
      throw new Error(
        `WPS_REDIRECT_URI uses port ${redirect.port || 80} but the app listens on ${port}: set PORT to match`,
      );
    }
    return {
      options: { clientId: env.WPS_CLIENT_ID, clientSecret: env.WPS_CLIENT_SECRET, redirectUri: env.WPS_REDIRECT_URI },
      baseUrl: WPS_BASE_URL,
      url: new URL('/', redirect).href,
      fake: undefined,
    };
  }
  if (missing.length < WPS_ENV.length) {
    throw new Error(
      `Set all of ${WPS_ENV.join(', ')} for the real WPS, or none for the demo (missing: ${missing.join(', ')})`,
    );
  }
  // The fake is as strict as WPS: only this exact callback URL is "registered in the console".
  const redirectUri = `${origin}/auth/wps/callback`;
  const fake = await startFakeWps({
    ...DEMO_CLIENT,
    consent: 'page',
    user: { name: DEMO_USER_NAME },
    redirectUris: [redirectUri],
  });
  return { options: { ...DEMO_CLIENT, redirectUri, baseUrl: fake.url }, baseUrl: fake.url, url: `${origin}/`, fake };
}

function escapeHtml(value) {
  return String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** "expires in 1 h 59 min", "expired 3 min ago". The page's script runs this same function to keep it current. */
function describeExpiry(msLeft) {
  const minutes = Math.floor(Math.abs(msLeft) / 60000);
  const hours = Math.floor(minutes / 60);
  const span =
    minutes === 0
      ? 'less than a minute'
      : [hours > 0 ? `${hours} h` : '', minutes % 60 > 0 ? `${minutes % 60} min` : ''].filter(Boolean).join(' ');
  return msLeft >= 0 ? `expires in ${span}` : `expired ${span} ago`;
}

/** Without JavaScript, times show in UTC, labelled so; the script below shows them in the reader's time zone. */
function utcTime(date) {
  const iso = date.toISOString();
  const today = iso.slice(0, 10) === new Date().toISOString().slice(0, 10);
  return `${today ? '' : `${iso.slice(0, 10)} `}${iso.slice(11, 19)} UTC`;
}

const idAttr = (id) => (id ? ` id="${id}"` : '');
/** A `<time>` the browser rewrites to local time, e.g. "15:02:10". */
const localTime = (date, id) =>
  `<time${idAttr(id)} data-local datetime="${date.toISOString()}">${utcTime(date)}</time>`;
/** A `<time>` reading "expires in 1 h 59 min", kept current by the browser. */
const expiryIn = (date, id) =>
  `<time${idAttr(id)} data-expiry datetime="${date.toISOString()}">` +
  `${describeExpiry(date.getTime() - Date.now())}</time>`;

// Runs in the browser: local times (24-hour clock, the date only when not today) and a ticking "expires in".
const SCRIPT = `(() => {
${describeExpiry}
const clock = { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' };
function update() {
  const today = new Date().toDateString();
  for (const el of document.querySelectorAll('time[data-local]')) {
    const at = new Date(el.dateTime);
    const options = at.toDateString() === today ? clock : { month: 'short', day: 'numeric', ...clock };
    el.textContent = at.toLocaleString(undefined, options);
    el.title = at.toLocaleString(undefined, { dateStyle: 'full', timeStyle: 'long' });
  }
  for (const el of document.querySelectorAll('time[data-expiry]')) {
    el.textContent = describeExpiry(Date.parse(el.dateTime) - Date.now());
  }
}
update();
setInterval(update, 15000);
})();`;

const LOGO =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32" aria-hidden="true">' +
  '<rect width="32" height="32" rx="7" fill="#1a5fff"/><path d="M7 10l3.5 12L16 13l5.5 9L25 10" fill="none" ' +
  'stroke="#fff" stroke-width="3" stroke-linecap="round" stroke-linejoin="round"/></svg>';
// Linked as a data URI in every page, so browsers never ask for /favicon.ico; served there too for other clients.
const FAVICON = `data:image/svg+xml,${encodeURIComponent(LOGO)}`;

const STYLE = `*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2329;background:#f2f4f8}
a{color:#1a5fff}.muted{color:#646a73}
.top{background:#fff;border-bottom:1px solid #e3e6eb}
.top-in{max-width:40rem;margin:0 auto;padding:.75rem 0;display:flex;flex-wrap:wrap;align-items:center;
justify-content:space-between;gap:.5rem 1rem}
.brand{display:flex;align-items:center;gap:.5rem;font-weight:700;color:inherit;text-decoration:none}
.brand svg{width:28px;height:28px;flex:none}.brand .muted{font-weight:400}
nav{display:flex;gap:.25rem}nav a{padding:.3rem .7rem;border-radius:6px;color:inherit;text-decoration:none}
nav a:hover{background:#f0f1f3}nav a[aria-current=page]{background:#e8efff;color:#1a5fff;font-weight:600}
.card{max-width:40rem;margin:2rem auto 1rem;background:#fff;border:1px solid #e3e6eb;border-radius:12px;
padding:1.5rem;box-shadow:0 2px 8px rgba(31,35,41,.06)}
h1{font-size:1.5rem;line-height:1.25;margin:0 0 .75rem}p{margin:.6rem 0}
.note{max-width:40rem;margin:0 auto 2rem;padding:0;font-size:.85rem;color:#646a73}
.flash{margin:0 0 1rem;padding:.6rem .8rem;border-radius:8px;background:#e8f7ee;border:1px solid #a8dcb9}
.flash.bad,.error{background:#fdecea;border:1px solid #f5b7b1}.error{padding:.75rem;border-radius:8px}
.error p{margin:.5rem 0 0}
.actions{display:flex;flex-wrap:wrap;gap:.75rem;margin:1.25rem 0 0}.actions form{margin:0}
.button,button{display:inline-block;background:#1a5fff;color:#fff;border:1px solid #1a5fff;border-radius:8px;
padding:.55rem 1rem;font:inherit;font-weight:600;text-decoration:none;cursor:pointer}
.button.secondary,button.secondary{background:#fff;color:#1a5fff}
:focus-visible{outline:3px solid #9dbbff;outline-offset:2px}
code{background:#f0f1f3;padding:0 .3rem;border-radius:4px;font-size:.9em;overflow-wrap:anywhere}
pre{overflow:auto;font-size:.8rem;background:#f5f7fa;padding:.75rem;border-radius:8px}
.profile{display:flex;align-items:center;gap:.75rem;margin:0 0 1rem}
.avatar{flex:none;width:3rem;height:3rem;border-radius:50%;background:#1a5fff;color:#fff;display:grid;
place-items:center;font-weight:600;font-size:1.1rem}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.4rem 1rem;margin:0}dt{color:#646a73}dd{margin:0}
h2{font-size:1.1rem;margin:1.5rem 0 .5rem}
.events{list-style:none;margin:0;padding:0}.events li{padding:.6rem 0;border-top:1px solid #e3e6eb}
.event-head{display:flex;flex-wrap:wrap;align-items:baseline;gap:.25rem .6rem}
.event-head time{margin-left:auto;font-size:.85rem;color:#646a73}
.op{font-size:.8rem;padding:0 .45rem;border-radius:99px;background:#e8efff;color:#1a5fff}
.detail{font-size:.9rem;overflow-wrap:anywhere}.empty{padding:.75rem;border-radius:8px;background:#f5f7fa}
@media (max-width:42rem){.top-in{padding:.75rem}.card{margin:1rem .75rem;padding:1.25rem}.note{padding:0 .75rem}
nav{width:100%}nav a{flex:1;text-align:center}}`;

// The header's links, one per page.
const NAV = [
  { href: '/', label: 'Home' },
  { href: '/me', label: 'Profile' },
  { href: '/events', label: 'Events' },
];

/** A whole HTML page. `body` and `flash` are trusted HTML: escape every value put into them. */
function page({ path, title, heading = title, body, flash = '', notice = '' }) {
  const nav = NAV.map(
    ({ href, label }) => `<a href="${href}"${href === path ? ' aria-current="page"' : ''}>${label}</a>`,
  ).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(title)} · express-wps-oauth example</title><link rel="icon" href="${FAVICON}">
<style>${STYLE}</style></head>
<body><header class="top"><div class="top-in"><a class="brand" href="/">${LOGO}<span>express-wps-oauth
<span class="muted">example</span></span></a><nav aria-label="Pages">${nav}</nav></div></header>
<main class="card">${flash}<h1>${escapeHtml(heading)}</h1>
${body}</main>${notice}
<script>${SCRIPT}</script></body></html>`;
}

/** "AD" for "Ada Demo": the avatar, drawn without loading the user's picture from WPS. */
function initials(name) {
  return name
    .split(/\s+/)
    .filter(Boolean)
    .slice(0, 2)
    .map((word) => word.charAt(0).toUpperCase())
    .join('');
}

const signInButton = '<a class="button" id="sign-in" href="/auth/wps/login">Sign in with WPS</a>';
const signOutButton =
  '<form method="post" action="/auth/wps/logout">' +
  '<button type="submit" class="secondary" id="sign-out">Sign out</button></form>';
const homeButton = '<a class="button secondary" id="home" href="/">Home</a>';

/** The one-time message a POST (/me/refresh, /events/test) left in the session, as HTML (removed once read), or ''. */
function takeFlash(req) {
  const flash = req.session.flash;
  if (flash === undefined) return '';
  delete req.session.flash;
  if (flash.kind === 'event-sent') {
    const ok = flash.status === 200;
    return `<p class="flash${ok ? '' : ' bad'}" id="flash" role="${ok ? 'status' : 'alert'}">Test event sent: the
app answered <code id="event-answer">${escapeHtml(`${flash.status} ${flash.body}`)}</code></p>`;
  }
  if (flash.kind === 'event-failed') {
    return `<p class="flash bad" id="flash" role="alert">The test event could not be sent:
${escapeHtml(flash.message)}</p>`;
  }
  if (flash.kind === 'failed') {
    return `<p class="flash bad" id="flash" role="alert">Refresh failed (<code>${escapeHtml(flash.code)}</code>); the
current token is kept.<br><span class="muted">${escapeHtml(flash.message)}</span></p>`;
  }
  const before = localTime(new Date(flash.before));
  const after = localTime(new Date(flash.after));
  if (!flash.newTokens) {
    return `<p class="flash" id="flash" role="status">Token not refreshed (no usable refresh token): expiry ${before}</p>`;
  }
  // A refresh right after signing in moves the expiry by a few seconds only: say what changed, not just two times.
  const moved = movedBy(Date.parse(flash.after) - Date.parse(flash.before));
  return `<p class="flash" id="flash" role="status">Token refreshed: WPS issued a new access token and a new refresh
token; the expiry moved ${moved} later (${before} → ${after})</p>`;
}

/** How far a time moved, e.g. "less than a second", "4 s", "12 min 3 s". */
function movedBy(ms) {
  if (ms < 1000) return 'less than a second';
  const seconds = Math.round(ms / 1000);
  return seconds < 60 ? `${seconds} s` : `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
}

/** `value` as one line of JSON, cut to about `max` characters. */
function shortJson(value, max = 160) {
  const json = JSON.stringify(value) ?? String(value);
  return json.length > max ? `${json.slice(0, max - 1)}…` : json;
}

/** "fields: chat_id, text": what an event's data holds, without its values. */
function fieldsOf(data) {
  if (data === null || typeof data !== 'object') return `data: ${data === null ? 'null' : typeof data}`;
  const keys = Object.keys(data);
  if (keys.length === 0) return 'no fields';
  return `fields: ${keys.slice(0, 8).join(', ')}${keys.length > 8 ? ', …' : ''}`;
}

/**
 * Keeps the last `MAX_EVENTS` events for the Events page, newest first, and the handlers that fill it. The page is
 * open to anyone, so with the real WPS it shows the names of an event's fields only; in demo mode (the fake's
 * events, made up here) it shows their values too.
 */
function eventInbox({ showData }) {
  const entries = [];
  // What a topic's handler made of its event, for onEvent (which runs next, with the same event) to record.
  const summaries = new WeakMap();
  const detail = (data, text) => (showData ? text : fieldsOf(data));
  const on = {
    // A bot received a message (operation `create`). A real bot would reply here, or enqueue the work: WPS waits
    // 3 s at most for the answer. The demo's data is { chat_id, text }; check real payloads before relying on it.
    'kso.app_chat.message': (event) => {
      const { data } = event;
      const text = typeof data?.text === 'string' ? `“${data.text}”` : shortJson(data);
      summaries.set(event, { label: 'Bot received a message', detail: detail(data, text) });
    },
    // The app's visibility changed (operation `update`): data is { company_id, app_id }.
    'kso.developer.application.subject': (event) => {
      const { data } = event;
      const text = `company ${data?.company_id ?? '?'}, app ${data?.app_id ?? '?'}`;
      summaries.set(event, { label: 'App visibility changed', detail: detail(data, text) });
    },
  };
  // Every verified, first-seen event, after its topic's handler succeeded; also topics without a handler.
  const onEvent = (event) => {
    const summary = summaries.get(event) ?? { label: 'Event', detail: detail(event.data, shortJson(event.data)) };
    entries.unshift({ topic: event.topic, operation: event.operation, time: event.time, ...summary });
    entries.splice(MAX_EVENTS);
  };
  return { entries, on, onEvent };
}

// What wpsEvents() has to say (a URL check answered, an event refused, a handler failing), one line each: topic,
// operation and a reason, never the APPKEY or event data. Its debug lines (one per event handled) are left out.
const eventLine = (message, meta) => (meta ? `${message} ${JSON.stringify(meta)}` : message);
const eventLogger = {
  debug: () => {},
  info: (message, meta) => console.info(eventLine(message, meta)),
  warn: (message, meta) => console.warn(eventLine(message, meta)),
  error: (message, meta) => console.error(eventLine(message, meta)),
};

/** Express 4 does not send a rejected promise to the error handler; this does. */
const asyncRoute = (fn) => (req, res, next) => fn(req, res).catch(next);

/**
 * Save the session, then redirect. express-session saves a changed session as the response ends, but a browser
 * follows a redirect as soon as its headers arrive — possibly before that save, so the next page would load the
 * session without the flash message. Saving first makes the order certain (the library's own routes do the same).
 */
function saveThenRedirect(req, res, location) {
  return new Promise((resolve, reject) =>
    req.session.save((err) => {
      if (err) return reject(err);
      res.redirect(303, location);
      resolve();
    }),
  );
}

function listen(server, port) {
  return new Promise((resolve, reject) => {
    server.once('error', (err) => {
      reject(
        err.code === 'EADDRINUSE'
          ? new Error(`Port ${port} is in use: set PORT to another one (0 = any free port)`)
          : err,
      );
    });
    server.listen(port, () => resolve(server.address().port));
  });
}

/**
 * Creates the example app and starts listening on `port` (0 picks a free one). It listens first because in demo
 * mode the callback URL registered at the fake WPS must name the real port.
 *
 * @param {{ port?: number, env?: NodeJS.ProcessEnv }} [options] `env` defaults to `process.env`.
 * @returns {Promise<{ app: import('express').Express, url: string, fake: import('express-wps-oauth/testing').FakeWps | undefined, close: () => Promise<void> }>}
 */
async function createApp({ port = 3000, env = process.env } = {}) {
  const production = env.NODE_ENV === 'production';
  const server = http.createServer();
  const boundPort = await listen(server, port);
  const closeServer = () =>
    new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });

  let wps;
  try {
    if (production && !env.SESSION_SECRET) throw new Error('Set SESSION_SECRET in production');
    wps = await connectWps(env, `http://localhost:${boundPort}`, boundPort);
  } catch (err) {
    await closeServer();
    throw err;
  }
  const notice = wps.fake
    ? `<p class="note">Demo mode: "Sign in with WPS" goes to a fake WPS running inside this app and signs you in as
${escapeHtml(DEMO_USER_NAME)}. Set WPS_CLIENT_ID, WPS_CLIENT_SECRET and WPS_REDIRECT_URI to use the real WPS.</p>`
    : '';
  // Pages depend on who is signed in: never cached, so Back after signing out does not show the old page.
  const render = (req, res, { status = 200, ...content }) =>
    res
      .status(status)
      .set('Cache-Control', 'no-store')
      .type('html')
      .send(page({ ...content, path: req.path, notice }));

  const app = express();
  app.disable('x-powered-by');
  // Behind a reverse proxy that terminates HTTPS (TRUST_PROXY=1 for one proxy), Express must trust its
  // X-Forwarded-Proto to know the request was https, and so to send the `secure` cookie below.
  if (env.TRUST_PROXY)
    app.set('trust proxy', /^\d+$/.test(env.TRUST_PROXY) ? Number(env.TRUST_PROXY) : env.TRUST_PROXY);

  app.get('/favicon.ico', (req, res) => {
    res.set('Cache-Control', 'public, max-age=86400').type('image/svg+xml').send(LOGO);
  });

  // Events WPS pushes to the app (developer console → 事件与回调): the URL check is answered by itself, each event
  // verified (signature, time), decrypted, then handed to the handlers. Mounted before the session and wpsAuth():
  // WPS's POSTs carry no cookie and need neither. No body parser runs first here (wpsEvents reads the body itself;
  // it also works after express.json()). app.all: other methods get 405 with `Allow: POST`, not the 404 page.
  const inbox = eventInbox({ showData: Boolean(wps.fake) });
  app.all(
    EVENTS_PATH,
    wpsEvents({
      // The same APPID and APPKEY as sign-in (in demo mode, the fake's): they sign and encrypt every event.
      clientId: wps.options.clientId,
      clientSecret: wps.options.clientSecret,
      on: inbox.on,
      onEvent: inbox.onEvent,
      logger: eventLogger,
    }),
  );

  app.use(
    session({
      name: 'wps_example.sid',
      // A random secret signs everyone out at each restart. Use a real store (e.g. connect-redis) in production:
      // the default MemoryStore is for one process in development.
      secret: env.SESSION_SECRET || randomBytes(32).toString('hex'),
      resave: false,
      saveUninitialized: false,
      // sameSite 'lax' still sends the cookie when WPS redirects the browser back to the callback (a top-level
      // GET), and keeps it off cross-site POSTs, which protects the logout and refresh forms from CSRF.
      cookie: { httpOnly: true, sameSite: 'lax', secure: 'auto' },
    }),
  );

  app.use(
    wpsAuth({
      ...wps.options,
      // WPS wants scopes comma-separated (not space-separated as in most OAuth providers); the library joins
      // them. A scope works only once it was requested in the WPS developer console and approved.
      scope: ['kso.user_base.read'],
    }),
  );
  // wpsAuth now serves GET /auth/wps/login, GET /auth/wps/callback (the path of the redirect URI) and
  // GET|POST /auth/wps/logout. WPS authorization codes are single-use and live only 10 minutes, so a sign-in left
  // open longer fails with `state_mismatch`: the error page below offers to start again. It also serves the sign-in
  // of pages opened inside the WPS 365 client (免登): POST /auth/wps/client-sign-in and its script
  // /auth/wps/client-sign-in.js (see GET /in-wps below).
  const inWpsButton = wps.fake
    ? ' <a class="button secondary" id="in-wps" href="/in-wps">Open as if inside WPS</a>'
    : '';

  app.get('/', (req, res) => {
    if (!req.wps.isAuthenticated()) {
      return render(req, res, {
        title: 'Home',
        heading: 'Welcome',
        body: `<p id="status">You are not signed in.</p>
<p class="muted">Sign in with your WPS 365 account to see your profile and your access token.</p>
<div class="actions">${signInButton}${inWpsButton}</div>`,
      });
    }
    // req.wps.user is the profile fetched at sign-in (undefined if that fetch failed); no request to WPS here.
    const name = req.wps.user?.name;
    render(req, res, {
      title: 'Home',
      heading: name ? `Hello, ${name}` : 'Hello',
      body: `<p id="status">You are signed in with WPS.</p>
<p>Your access token ${expiryIn(req.wps.expiresAt)} (at ${localTime(req.wps.expiresAt)}).</p>
<div class="actions"><a class="button" id="profile" href="/me">Your WPS profile</a> ${signOutButton}</div>`,
    });
  });

  // A page as the WPS 365 client opens it: the client's JS bridge (window.ksoxz_sdk) hands it a code, and the
  // library's script posts it to /auth/wps/client-sign-in — signed in with no redirect to WPS's authorize page. In
  // demo mode the bridge is the fake WPS's stub; ?bridge=off leaves it out, as in a plain browser tab, where the
  // script falls back to the redirect sign-in. With the real WPS, the client provides the bridge (or bundle
  // @ksxz/jssdk) and this page is where the workbench points.
  app.get('/in-wps', (req, res) => {
    const bridge =
      wps.fake && req.query.bridge !== 'off' ? `<script src="${escapeHtml(wps.fake.bridgeScriptUrl)}"></script>\n` : '';
    render(req, res, {
      title: 'Inside WPS',
      heading: 'Open as if inside WPS',
      body: `<p id="client-status" role="status">Signing you in as the WPS 365 client does…</p>
<p class="muted">This page loads ${wps.fake ? "a stub of the WPS client's JS bridge (<code>window.ksoxz_sdk</code>, from the fake WPS) and " : ''}
<code>/auth/wps/client-sign-in.js</code>. The script asks the bridge for a code, posts it to the app and lands on
the home page signed in: no redirect to the authorize page. Without the bridge it falls back to the redirect
sign-in.</p>
<div class="actions"><a class="button secondary" id="without-bridge" href="/in-wps?bridge=off">Open without the
bridge</a> ${homeButton}</div>
${bridge}<script src="/auth/wps/client-sign-in.js" data-return-to="/"></script>
<script>document.addEventListener('wps-client-sign-in', (event) => {
  if (!event.detail.signedIn) {
    document.getElementById('client-status').textContent = 'Not signed in: ' + event.detail.message;
  }
});</script>`,
    });
  });

  // requireWpsToken(): signed-out browsers are sent to sign in and come back here afterwards; an access token
  // about to expire is refreshed first. req.wps.accessToken is then valid.
  app.get(
    '/me',
    requireWpsToken(),
    asyncRoute(async (req, res) => {
      // The profile (id, name, avatar, companyId) was fetched from /v7/users/current at sign-in; getUser()
      // fetches it again only if that failed.
      const user = await req.wps.getUser();
      const expiresAt = req.wps.expiresAt;
      const flash = takeFlash(req);
      const company = user.companyId ? `<dt>Company</dt><dd><code>${escapeHtml(user.companyId)}</code></dd>` : '';
      render(req, res, {
        title: 'Your WPS profile',
        flash,
        body: `<div class="profile">
<span class="avatar" aria-hidden="true">${escapeHtml(initials(user.name))}</span>
<div><strong id="user-name">${escapeHtml(user.name)}</strong>
<div class="muted">WPS user <code>${escapeHtml(user.id)}</code></div></div></div>
<dl>${company}<dt>Access token</dt>
<dd>${expiryIn(expiresAt, 'expires-in')}, at ${localTime(expiresAt, 'expires-at')}</dd></dl>
<p class="muted">The library refreshes the token shortly before it expires. <strong>Force refresh</strong> gets a
new one now; WPS also replaces the refresh token each time.</p>
<div class="actions"><form method="post" action="/me/refresh">
<button type="submit" id="force-refresh">Force refresh</button></form>
${signOutButton}</div>`,
      });
    }),
  );

  // POST, then redirect to GET /me (so reloading does not refresh again): the outcome waits in the session as a
  // one-time "flash" message, under the app's own key. The library's session data is not the app's to read.
  app.post(
    '/me/refresh',
    requireWpsToken(),
    asyncRoute(async (req, res) => {
      const before = req.wps.expiresAt;
      const tokenBefore = req.wps.accessToken;
      try {
        // WPS rotates the refresh token on every refresh and the old one stops working at once: the library stores
        // the new one and serializes refreshes, so two tabs refreshing together do not sign the user out.
        const tokenAfter = await req.wps.refresh();
        req.session.flash = {
          kind: 'refreshed',
          before: before.toISOString(),
          after: req.wps.expiresAt.toISOString(),
          // Whether the tokens changed, as a yes or no: the tokens themselves never reach the browser.
          newTokens: tokenAfter !== tokenBefore,
        };
      } catch (err) {
        // wps_unavailable or wps_timeout keep the old tokens: say so on the profile. A refresh WPS refused signed the
        // user out (login_required): the error page offers to sign in again.
        if (!(err instanceof WpsAuthError) || !req.wps.isAuthenticated()) throw err;
        req.session.flash = { kind: 'failed', code: err.code, message: err.message };
      }
      await saveThenRedirect(req, res, '/me');
    }),
  );

  // An API answers 401 JSON instead of redirecting: `unauthenticated: 'error'` hands login_required to the
  // error handler even when a browser asks.
  app.get(
    '/api/me',
    requireWpsToken({ unauthenticated: 'error' }),
    asyncRoute(async (req, res) => {
      // req.wps.api is axios with the user's bearer token (refreshed first when needed, one retry after a 401).
      // WPS answers { code, msg, data }; a code other than 0 rejects with a WpsApiError.
      const { data } = await req.wps.api.get('/v7/users/current');
      res
        .set('Cache-Control', 'no-store')
        .json({ name: data.data.user_name, expiresAt: req.wps.expiresAt.toISOString() });
    }),
  );

  // The Events page. Its instructions depend on the mode only: in demo mode a button, with the real WPS the URL to
  // register in the developer console (the app's public origin, from WPS_REDIRECT_URI, + /wps/events).
  const eventsUrl = new URL(EVENTS_PATH, wps.url).href;
  const eventsHowTo = wps.fake
    ? `<p>In demo mode, <strong>Send a test event</strong> makes the fake WPS sign and encrypt a bot message and POST
it to this app's <code>${EVENTS_PATH}</code>, as WPS would.</p>
<form class="actions" method="post" action="/events/test">
<button type="submit" id="send-test-event">Send a test event</button></form>`
    : `<p>Register this URL in the WPS developer console, under your app → <span lang="zh-CN">事件与回调</span>
(events and callbacks): <code id="events-url">${escapeHtml(eventsUrl)}</code></p>
<p>When you save it, WPS first sends a URL check (<code>{"challenge": "…"}</code>), which this route answers
automatically; then it delivers the events you subscribed to.${
        new URL(eventsUrl).protocol === 'https:'
          ? ''
          : ' WPS needs a public HTTPS address: run the app behind one (a reverse proxy or a tunnel) and register that.'
      }</p>
<p class="muted">This page is open to anyone, so it shows the names of each event's fields, not their values.</p>`;
  const noEvents = `<p class="empty" id="no-events">No events yet. Each event WPS sends, once verified, appears here
with its topic, operation, time and a summary of its data, newest first.${
    wps.fake ? ' Send a test event to see one.' : ''
  }</p>`;
  const eventItem = (e) => `<li><div class="event-head"><code class="topic">${escapeHtml(e.topic)}</code>
<span class="op">${escapeHtml(e.operation)}</span> ${localTime(e.time)}</div>
<div class="summary">${escapeHtml(e.label)}: <span class="detail">${escapeHtml(e.detail)}</span></div></li>`;

  app.get('/events', (req, res) => {
    const list = inbox.entries.length
      ? `<ol class="events" id="events">${inbox.entries.map(eventItem).join('\n')}</ol>`
      : noEvents;
    render(req, res, {
      title: 'Events',
      heading: 'Events from WPS',
      flash: takeFlash(req),
      body: `<p>WPS pushes events (a bot received a message, the app's visibility changed) to
<code>POST ${EVENTS_PATH}</code>. This page shows the last ${MAX_EVENTS} the app received.</p>
${eventsHowTo}
<h2>Last events</h2>
${list}`,
    });
  });

  let testEvents = 0;
  if (wps.fake) {
    // Demo mode: the fake WPS pushes one event to this app's own /wps/events over real HTTP, then POST-redirect-GET
    // shows its answer once.
    app.post(
      '/events/test',
      asyncRoute(async (req, res) => {
        testEvents += 1;
        const event = {
          topic: 'kso.app_chat.message',
          operation: 'create',
          data: { chat_id: 'demo-chat', text: `Hello from the demo (test event ${testEvents})` },
        };
        try {
          const reply = await wps.fake.sendEvent(`http://127.0.0.1:${boundPort}${EVENTS_PATH}`, event);
          const body = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body);
          req.session.flash = { kind: 'event-sent', status: reply.status, body: body.slice(0, 200) };
        } catch (err) {
          req.session.flash = { kind: 'event-failed', message: err.message };
        }
        await saveThenRedirect(req, res, '/events');
      }),
    );
  }

  // No route matched.
  app.use((req, res) => {
    if (req.path.startsWith('/api/')) {
      return res.status(404).json({ code: 'not_found', message: `No API at ${req.method} ${req.path}` });
    }
    render(req, res, {
      status: 404,
      title: 'Page not found',
      body: `<p id="not-found">There is no page at <code>${escapeHtml(req.path)}</code>.</p>
<div class="actions"><a class="button" id="home" href="/">Home</a></div>`,
    });
  });

  // Library errors carry a stable `code` and an HTTP `status`, and their messages never hold a secret or a token.
  app.use((err, req, res, next) => {
    const known = err instanceof WpsAuthError || err instanceof WpsApiError;
    const status = known ? err.status : 500;
    const code = known ? err.code : 'internal_error';
    const message = known || !production ? err.message : 'Something went wrong.';
    if (!known) console.error(production ? `internal_error: ${err.message}` : err);
    if (res.headersSent) return next(err);
    if (req.path.startsWith('/api/')) return res.status(status).json({ code, message });
    const stack = !known && !production ? `<pre>${escapeHtml(err.stack)}</pre>` : '';
    render(req, res, {
      status,
      title: known ? 'Sign-in problem' : 'Something went wrong',
      body: `<div class="error">Error code: <code id="error-code">${escapeHtml(code)}</code>
<p id="error-message">${escapeHtml(message)}</p></div>${stack}
<div class="actions">${signInButton} ${homeButton}</div>`,
    });
  });

  server.on('request', app);
  return {
    app,
    url: wps.url,
    fake: wps.fake,
    close: async () => {
      await closeServer();
      await wps.fake?.close();
    },
  };
}

module.exports = { createApp };
