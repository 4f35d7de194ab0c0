'use strict';

// A marketplace (ISV) app: it acts for every customer company that installed it, with one tenant token per
// company, bought with the app ticket WPS pushes to its event URL. This file is the part to copy; server.js only
// starts it.
//
// With WPS_CLIENT_ID and WPS_CLIENT_SECRET set it talks to the real openapi.wps.cn. Without them it starts a fake
// WPS in this process (marketplace mode, two companies), whose buttons install and remove the app.

const http = require('node:http');
const express = require('express');
const { wpsEvents, wpsTenants, WpsError } = require('express-wps-oauth');
const { startFakeWps } = require('express-wps-oauth/testing');

const WPS_ENV = ['WPS_CLIENT_ID', 'WPS_CLIENT_SECRET'];
const DEMO_CLIENT = { clientId: 'demo-isv-app-id', clientSecret: 'demo-isv-app-secret' };
const DEMO_COMPANIES = ['acme-corp', 'globex-inc'];
// The fake's own endpoint that says which company a token is for (not a WPS API).
const DEMO_API_PATH = '/v7/fake/whoami';
const EVENTS_PATH = '/wps/events';
const MAX_ACTIVITY = 10;

/**
 * The real WPS when both WPS_* variables are set (the companies: COMPANY_IDS, plus every one an event names),
 * otherwise a fake WPS on 127.0.0.1 with two companies that installed the app before it listened.
 */
async function connectWps(env, origin) {
  const missing = WPS_ENV.filter((name) => !env[name]);
  if (missing.length === 0) {
    return {
      options: { clientId: env.WPS_CLIENT_ID, clientSecret: env.WPS_CLIENT_SECRET },
      companies: (env.COMPANY_IDS ?? '').split(',').filter(Boolean),
      eventsUrl: new URL(EVENTS_PATH, env.PUBLIC_URL || origin).href,
      apiPath: env.WPS_TENANT_API_PATH || undefined,
      fake: undefined,
    };
  }
  if (missing.length < WPS_ENV.length) {
    throw new Error(`Set both ${WPS_ENV.join(' and ')} for the real WPS, or neither for the demo`);
  }
  const fake = await startFakeWps({ ...DEMO_CLIENT, marketplace: { companies: DEMO_COMPANIES } });
  // WPS pushes events to the URL registered in the console; the fake pushes them to this one.
  const eventsUrl = `${origin}${EVENTS_PATH}`;
  fake.marketplace.setEventUrls([eventsUrl]);
  return {
    options: { ...DEMO_CLIENT, baseUrl: fake.url },
    companies: [...DEMO_COMPANIES],
    eventsUrl,
    apiPath: DEMO_API_PATH,
    fake,
  };
}

function escapeHtml(value) {
  return String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const STYLE = `*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2329;background:#f2f4f8}
.muted{color:#646a73}.top{background:#fff;border-bottom:1px solid #e3e6eb}
.top-in{max-width:46rem;margin:0 auto;padding:.75rem 0;font-weight:700}
.card{max-width:46rem;margin:2rem auto 1rem;background:#fff;border:1px solid #e3e6eb;border-radius:12px;
padding:1.5rem;box-shadow:0 2px 8px rgba(31,35,41,.06)}
h1{font-size:1.5rem;margin:0 0 .75rem}h2{font-size:1.1rem;margin:1.5rem 0 .5rem}p{margin:.6rem 0}
code{background:#f0f1f3;padding:0 .3rem;border-radius:4px;font-size:.9em;overflow-wrap:anywhere}
.companies{list-style:none;margin:0;padding:0}.companies>li{padding:.75rem 0;border-top:1px solid #e3e6eb}
.row{display:flex;flex-wrap:wrap;align-items:center;gap:.5rem .75rem}.row strong{margin-right:auto}
.status{font-size:.8rem;padding:.05rem .55rem;border-radius:99px;background:#e8efff;color:#1a5fff}
.status.uninstalled,.status.disabled{background:#fdecea;color:#b42318}
form{margin:0}button{font:inherit;font-weight:600;padding:.4rem .8rem;border-radius:8px;cursor:pointer;
border:1px solid #1a5fff;background:#1a5fff;color:#fff}button.secondary{background:#fff;color:#1a5fff}
button:focus-visible{outline:3px solid #9dbbff;outline-offset:2px}
.result{margin:.5rem 0 0;padding:.5rem .75rem;border-radius:8px;background:#e8f7ee;font-size:.9rem}
.result.bad{background:#fdecea}.activity{margin:0;padding-left:1.2rem;font-size:.9rem}
.note{max-width:46rem;margin:0 auto 2rem;font-size:.85rem;color:#646a73}
@media (max-width:48rem){.card{margin:1rem .75rem;padding:1.25rem}.note,.top-in{padding:0 .75rem}}`;

function page(body, notice) {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Companies · express-wps-oauth ISV example</title><link rel="icon" href="data:,">
<style>${STYLE}</style></head>
<body><header class="top"><div class="top-in">express-wps-oauth <span class="muted">marketplace example</span></div>
</header><main class="card">${body}</main>${notice}</body></html>`;
}

/** What a call as a company gave, for the page: the API's answer (field names only with the real WPS), or an error. */
function describeResult(result) {
  if (result === undefined) return '';
  const text = result.ok ? result.text : `${result.code}: ${result.message}`;
  return `<p class="result${result.ok ? '' : ' bad'}" data-result>${escapeHtml(text)}</p>`;
}

/** One company: its state, the call button, and (demo) the buttons that make the fake WPS send install events. */
function companyItem(id, status, result, demo) {
  const post = (action, label, secondary = false) =>
    `<form method="post" action="/companies/${encodeURIComponent(id)}/${action}">` +
    `<button type="submit"${secondary ? ' class="secondary"' : ''} data-action="${action}">${label}</button></form>`;
  const active = status !== 'uninstalled' && status !== 'disabled';
  const demoButtons = demo ? (active ? post('uninstall', 'Uninstall', true) : post('install', 'Install', true)) : '';
  return `<li data-company="${escapeHtml(id)}"><div class="row"><strong>${escapeHtml(id)}</strong>
<span class="status ${status}" data-status>${status}</span>${post('call', 'Call WPS as this company')}${demoButtons}
</div>${describeResult(result)}</li>`;
}

/** Keeps the companies the app knows, the last result per company, and what the hooks saw (in memory). */
function companyBook(initial) {
  const known = new Set(initial);
  const results = new Map();
  const activity = [];
  const hook =
    (what) =>
    (companyId, { version }) => {
      known.add(companyId);
      results.delete(companyId);
      activity.unshift(
        `${new Date().toISOString().slice(11, 19)} ${companyId} ${what}${version ? ` (v${version})` : ''}`,
      );
      activity.splice(MAX_ACTIVITY);
    };
  return { known, results, activity, hook };
}

/** The tenant client's call: the demo asks the fake who it is; with the real WPS, WPS_TENANT_API_PATH or only a token. */
async function callAs(tenants, id, apiPath, demo) {
  const client = tenants.client(id);
  if (apiPath === undefined) {
    await client.getTenantAccessToken();
    return { ok: true, text: 'WPS issued a tenant access token for this company (kept in the tenant store).' };
  }
  const { data } = await client.api.get(apiPath);
  if (demo) return { ok: true, text: `WPS says this token is for company ${data.data.company_id}` };
  return { ok: true, text: `GET ${apiPath}: code ${data.code}, fields ${Object.keys(data.data ?? {}).join(', ')}` };
}

function listen(server, port) {
  return new Promise((resolve, reject) => {
    server.once('error', (err) => {
      reject(err.code === 'EADDRINUSE' ? new Error(`Port ${port} is in use: set PORT to another one`) : err);
    });
    server.listen(port, () => resolve(server.address().port));
  });
}

const asyncRoute = (fn) => (req, res, next) => fn(req, res).catch(next);

/**
 * Creates the example app and starts listening on `port` (0 picks a free one); in demo mode the fake WPS must know
 * the event URL, so it listens first.
 *
 * @param {{ port?: number, env?: NodeJS.ProcessEnv }} [options] `env` defaults to `process.env`.
 */
async function createApp({ port = 3000, env = process.env } = {}) {
  const server = http.createServer();
  const boundPort = await listen(server, port);
  const closeServer = () =>
    new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  let wps;
  try {
    wps = await connectWps(env, `http://127.0.0.1:${boundPort}`);
  } catch (err) {
    await closeServer();
    throw err;
  }
  const demo = wps.fake !== undefined;
  const book = companyBook(wps.companies);
  // One per app. With several instances, pass store: redisTenantStore(redisClient) so they share tickets and tokens.
  const tenants = wpsTenants({
    ...wps.options,
    onInstall: book.hook('installed'),
    onUninstall: book.hook('removed the app'),
    onEnable: book.hook('enabled the app'),
    onDisable: book.hook('disabled the app'),
  });

  const app = express();
  app.disable('x-powered-by');
  // The event URL: wpsEvents stores each app ticket and install state, and runs the hooks above, before any handler
  // of the app's own. Subscribe it to kso.app.ticket and kso.developer.application.authorization.status.
  const { clientId, clientSecret } = wps.options;
  app.all(EVENTS_PATH, wpsEvents({ clientId, clientSecret, tenants }));

  app.get(
    '/',
    asyncRoute(async (req, res) => {
      const ids = [...book.known];
      const statuses = await Promise.all(ids.map((id) => tenants.status(id)));
      const items = ids.map((id, i) => companyItem(id, statuses[i], book.results.get(id), demo)).join('\n');
      const activity = book.activity.length
        ? `<ol class="activity" id="activity">${book.activity.map((a) => `<li>${escapeHtml(a)}</li>`).join('')}</ol>`
        : '<p class="muted" id="activity">No install event yet.</p>';
      res
        .set('Cache-Control', 'no-store')
        .type('html')
        .send(
          page(
            `<h1>Customer companies</h1>
<p>WPS pushes app tickets and install states to <code id="events-url">${escapeHtml(wps.eventsUrl)}</code>.
A company never seen in an install event (it installed the app before this one listened) shows as
<code>unknown</code>, and may be called.</p>
${items ? `<ul class="companies" id="companies">${items}</ul>` : '<p id="companies">No company yet.</p>'}
<h2>Install events</h2>${activity}`,
            demo
              ? '<p class="note">Demo mode: a fake WPS runs inside this app. Set WPS_CLIENT_ID and WPS_CLIENT_SECRET for the real WPS.</p>'
              : '',
          ),
        );
    }),
  );

  app.post(
    '/companies/:id/call',
    asyncRoute(async (req, res) => {
      const { id } = req.params;
      if (!book.known.has(id)) return res.status(404).type('text').send('Unknown company');
      try {
        book.results.set(id, await callAs(tenants, id, wps.apiPath, demo));
      } catch (err) {
        if (!(err instanceof WpsError)) throw err;
        // Every error of the library has a code and a status, and no ticket or token in its message.
        book.results.set(id, { ok: false, code: err.code, message: err.message });
      }
      res.redirect(303, '/');
    }),
  );

  if (demo) {
    // The fake WPS changes the company's state and pushes the event to /wps/events, as WPS would.
    for (const action of ['install', 'uninstall']) {
      app.post(
        `/companies/:id/${action}`,
        asyncRoute(async (req, res) => {
          if (!book.known.has(req.params.id)) return res.status(404).type('text').send('Unknown company');
          await wps.fake.marketplace[action](req.params.id);
          res.redirect(303, '/');
        }),
      );
    }
  }

  app.use((err, req, res, _next) => {
    console.error(err);
    res.status(500).type('text').send('Something went wrong.');
  });

  server.on('request', app);
  return {
    app,
    url: `http://localhost:${boundPort}/`,
    fake: wps.fake,
    tenants,
    close: async () => {
      await closeServer();
      await wps.fake?.close();
    },
  };
}

module.exports = { createApp };
