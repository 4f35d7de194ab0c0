/* global describe, test, expect, beforeAll, afterAll, document, window */
'use strict';

// Sign-in inside the WPS 365 client (免登) in Debian's Chromium: the example's "Open as if inside WPS" page (the fake
// WPS's stub bridge, then /auth/wps/client-sign-in.js) on a desktop and a phone, the same page without the bridge,
// a user who declines in the client, and the script under a strict Content-Security-Policy. Screenshots go to
// e2e-artifacts/client-<viewport>-<nn>-<page>.png.

const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const express = require('express');
const session = require('express-session');
const { wpsAuth } = require('express-wps-oauth');
const { startFakeWps } = require('express-wps-oauth/testing');
const { createApp } = require('../examples/basic/app');
const { STEP_TIMEOUT_MS, VIEWPORTS, launchChromium, watch } = require('./browser');

const ARTIFACTS = path.join(__dirname, '..', 'e2e-artifacts');
const SCREENSHOT = /^client-((desktop|phone)-)?\d{2}-[a-z0-9-]+\.png$/;
const DEMO_ENV = { NODE_ENV: 'production', SESSION_SECRET: 'e2e-client-session-secret' };
const DECLINED = 'Not signed in: The WPS client gave no code: the user declined, or the bridge failed';

let example;
let browser;

beforeAll(async () => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  for (const file of fs.readdirSync(ARTIFACTS)) if (SCREENSHOT.test(file)) fs.rmSync(path.join(ARTIFACTS, file));
  example = await createApp({ port: 0, env: DEMO_ENV });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await example?.close();
});

/** Run `steps` in a fresh browser context (own cookies) for `viewport`, recording every request the page makes. */
async function withContext(viewport, steps) {
  const context = await browser.newContext({ ...viewport.context, locale: 'en-US', timezoneId: viewport.timezoneId });
  context.setDefaultTimeout(STEP_TIMEOUT_MS);
  try {
    const page = await context.newPage();
    const requests = [];
    page.on('request', (req) => requests.push(`${req.method()} ${req.url()}`));
    const press = (selector) => (viewport.context.hasTouch ? page.tap(selector) : page.click(selector));
    const shot = (name) => page.screenshot({ path: path.join(ARTIFACTS, `client-${viewport.name}-${name}.png`) });
    await steps({ context, page, press, requests, watcher: watch(page), shot });
  } finally {
    await context.close();
  }
}

const isConsentPage = (url) => url.href.startsWith(`${example.fake.url}/oauth2/auth?`);

describe.each(VIEWPORTS)('the example\'s "Open as if inside WPS" in Chromium on a $name', (viewport) => {
  test('lands signed in on the home page, with no redirect to the authorize page', async () => {
    await withContext(viewport, async ({ context, page, press, requests, watcher, shot }) => {
      await page.goto(example.url);
      expect(await page.locator('#in-wps').textContent()).toBe('Open as if inside WPS');
      expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
      await shot('01-home');

      await press('#in-wps');
      await page.waitForURL(`${example.url}in-wps`);
      await page.waitForURL(example.url);
      expect(await page.locator('h1').textContent()).toBe('Hello, Ada Demo');
      expect(await page.locator('#status').textContent()).toBe('You are signed in with WPS.');
      await shot('02-signed-in');

      const fake = example.fake.url;
      expect(requests.filter((r) => r.includes(fake) || r.includes('/auth/wps/'))).toEqual([
        `GET ${fake}/fake-client/ksoxz-sdk.js`,
        `GET ${example.url}auth/wps/client-sign-in.js`,
        `GET ${example.url}auth/wps/client-sign-in`,
        `POST ${fake}/fake-client/request-access`,
        `POST ${example.url}auth/wps/client-sign-in`,
      ]);
      const cookies = await context.cookies(example.url);
      expect(cookies.map(({ name, httpOnly, sameSite }) => ({ name, httpOnly, sameSite }))).toEqual([
        { name: 'wps_example.sid', httpOnly: true, sameSite: 'Lax' },
      ]);
      expect(watcher.take()).toEqual([]);

      // Signed in already: the page asks, and goes straight to data-return-to without asking the bridge again.
      await page.goto(`${example.url}in-wps`);
      await page.waitForURL(example.url);
      expect(requests.filter((r) => r.includes('request-access'))).toHaveLength(1);
    });
  });

  test('without the bridge (a plain browser tab) it lands on the redirect sign-in, then signed in', async () => {
    await withContext(viewport, async ({ page, press, requests, watcher, shot }) => {
      await page.goto(`${example.url}in-wps?bridge=off`);
      await page.waitForURL(isConsentPage);
      const authorize = new URL(page.url()).searchParams;
      expect(authorize.get('redirect_uri')).toBe(`${example.url}auth/wps/callback`);
      await shot('03-no-bridge-consent');
      expect(requests.some((r) => r.includes('/fake-client/'))).toBe(false);
      await press('#wps-allow');
      await page.waitForURL(example.url);
      expect(await page.locator('h1').textContent()).toBe('Hello, Ada Demo');
      expect(watcher.take()).toEqual([]);
    });
  });
});

describe('edge cases in Chromium (desktop)', () => {
  const [desktop] = VIEWPORTS;

  test('a user who declines in the client: the page says so, stays, and nothing is left unhandled', async () => {
    example.fake.setOptions({ clientAccess: 'deny' });
    try {
      await withContext(desktop, async ({ page, watcher, shot }) => {
        await page.goto(`${example.url}in-wps`);
        await page.locator('#client-status', { hasText: 'Not signed in' }).waitFor();
        expect(await page.locator('#client-status').textContent()).toBe(DECLINED);
        expect(page.url()).toBe(`${example.url}in-wps`);
        await shot('04-declined');
        // The stub's refusal is a 403 from the fake: the only red line, and no page error.
        expect(watcher.take()).toEqual([
          { kind: 'status', url: `${example.fake.url}/fake-client/request-access`, status: 403, type: 'fetch' },
          expect.objectContaining({ kind: 'console', text: expect.stringContaining('403 (Forbidden)') }),
        ]);
      });
    } finally {
      example.fake.setOptions({ clientAccess: 'allow' });
    }
  });
});

/**
 * An app whose every page carries a strict CSP — scripts only from itself and the fake (for the stub bridge), no
 * inline code, no eval — with pages that load the client sign-in script in its two modes.
 */
async function startCspApp() {
  const fake = await startFakeWps({ clientId: 'csp-app', clientSecret: 'csp-app-secret', user: { name: 'Csp User' } });
  const server = http.createServer();
  await new Promise((resolve) => server.listen(0, resolve));
  const origin = `http://localhost:${server.address().port}`;
  const csp =
    `default-src 'self'; img-src 'self' data:; script-src 'self' ${fake.url}; connect-src 'self' ${fake.url}; ` +
    "object-src 'none'; base-uri 'none'";
  const app = express();
  app.use((_req, res, next) => {
    res.set('Content-Security-Policy', csp);
    next();
  });
  app.use(session({ secret: 'csp-session-secret', resave: false, saveUninitialized: false }));
  app.use(
    wpsAuth({
      clientId: 'csp-app',
      clientSecret: 'csp-app-secret',
      redirectUri: `${origin}/auth/wps/callback`,
      baseUrl: fake.url,
    }),
  );
  const html = (body) =>
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>CSP</title><link rel="icon" href="data:,">` +
    `</head><body>${body}</body></html>`;
  const bridge = `<script src="${fake.bridgeScriptUrl}"></script>`;
  const manual =
    '<script src="/auth/wps/client-sign-in.js" data-auto="false"></script><script src="/manual.js"></script>';
  app.get('/manual.js', (_req, res) => {
    res.type('text/javascript').send(`window.wpsClientSignIn({ returnTo: '/done' }).then(function (answer) {
  document.getElementById('result').textContent = JSON.stringify(answer);
});`);
  });
  app.get('/manual', (req, res) =>
    res.type('html').send(html(`<pre id="result"></pre>${req.query.bridge === 'off' ? '' : bridge}${manual}`)),
  );
  app.get('/auto', (_req, res) => {
    res
      .type('html')
      .send(
        html(`<p>Signing in…</p>${bridge}<script src="/auth/wps/client-sign-in.js" data-return-to="/done"></script>`),
      );
  });
  app.get('/inline', (_req, res) =>
    res
      .type('html')
      .send(html('<p id="x">before</p><script>document.getElementById("x").textContent = "ran"</script>')),
  );
  app.get('/done', (req, res) => {
    res.type('html').send(html(`<p id="who">${req.wps.isAuthenticated() ? req.wps.user.name : 'nobody'}</p>`));
  });
  server.on('request', app);
  const close = async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await fake.close();
  };
  return { origin, fake, close };
}

describe("the script under Content-Security-Policy: script-src 'self' (no inline code, no eval)", () => {
  const [desktop] = VIEWPORTS;
  let csp;
  beforeAll(async () => {
    csp = await startCspApp();
  });
  afterAll(() => csp?.close());

  test('the policy is enforced: an inline script is refused (the control)', async () => {
    await withContext(desktop, async ({ page, watcher }) => {
      await page.goto(`${csp.origin}/inline`);
      expect(await page.locator('#x').textContent()).toBe('before');
      expect(watcher.take()).toEqual([
        expect.objectContaining({ kind: 'console', text: expect.stringMatching(/inline script/) }),
      ]);
    });
  });

  test('auto: lands on data-return-to signed in, with no violation', async () => {
    await withContext(desktop, async ({ page, watcher }) => {
      await page.goto(`${csp.origin}/auto`);
      await page.waitForURL(`${csp.origin}/done`);
      expect(await page.locator('#who').textContent()).toBe('Csp User');
      expect(watcher.take()).toEqual([]);
    });
  });

  test("wpsClientSignIn(): resolves with the route's answer, a declined bridge, or no bridge — never rejects", async () => {
    await withContext(desktop, async ({ page, watcher }) => {
      const result = async () => {
        await page.locator('#result:not(:empty)').waitFor();
        return JSON.parse(await page.locator('#result').textContent());
      };
      await page.goto(`${csp.origin}/manual?bridge=off`);
      expect(await result()).toEqual({
        signedIn: false,
        error: 'no_bridge',
        message: 'Not inside the WPS client (no ksoxz_sdk)',
        loginUrl: `${csp.origin}/auth/wps/login?returnTo=%2Fdone`,
      });

      csp.fake.setOptions({ clientAccess: 'deny' });
      await page.goto(`${csp.origin}/manual`);
      expect(await result()).toEqual({
        signedIn: false,
        error: 'bridge_error',
        message: 'The WPS client gave no code: the user declined, or the bridge failed',
      });
      expect(watcher.take().map((p) => p.kind)).toEqual(['status', 'console']); // the stub's 403, nothing else

      csp.fake.setOptions({ clientAccess: 'allow' });
      await page.goto(`${csp.origin}/manual`);
      expect(await result()).toEqual({
        signedIn: true,
        returnTo: '/done',
        user: {
          id: 'fake-user-1',
          name: 'Csp User',
          avatar: 'https://example.invalid/avatar.png',
          companyId: 'fake-company-1',
        },
      });
      await page.goto(`${csp.origin}/done`);
      expect(await page.locator('#who').textContent()).toBe('Csp User');
      expect(watcher.take()).toEqual([]);
    });
  });
});
