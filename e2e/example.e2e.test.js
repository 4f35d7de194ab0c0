/* global describe, test, expect, beforeAll, afterAll, document, window */
'use strict';

// The example app (demo mode, fake WPS in-process) driven by Debian's Chromium: never a downloaded browser.
// The walk runs on a desktop and on a phone viewport; every page must load without a console error, a page error,
// a failed request or an error status (bar the deliberate 404/401 document itself), and leaves a screenshot in
// e2e-artifacts/ named `<viewport>-<nn>-<page>.png`.

const fs = require('node:fs');
const path = require('node:path');
const { createApp } = require('../examples/basic/app');
const { STEP_TIMEOUT_MS, VIEWPORTS, launchChromium, watch } = require('./browser');

const ARTIFACTS = path.join(__dirname, '..', 'e2e-artifacts');
const SCREENSHOT = /^((desktop|phone)-)?\d{2}-[a-z0-9-]+\.png$/;
// The whole walk takes about 10 s here; room for a slower machine.
const WALK_TIMEOUT_MS = 60_000;
const LOCALE = 'en-US';
// No WPS_* variables: demo mode. Production mode, so error pages must not show a stack trace.
const DEMO_ENV = { NODE_ENV: 'production', SESSION_SECRET: 'e2e-session-secret' };

let example;
let browser;

/** What the page's script shows for `iso` in `timeZone`: "15:02:10", or "Dec 3, 00:10:05" when not today. */
function localClock(iso, timeZone) {
  const at = new Date(iso);
  const clock = { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23', timeZone };
  const day = (date) => date.toLocaleDateString(LOCALE, { timeZone });
  const options = day(at) === day(new Date()) ? clock : { month: 'short', day: 'numeric', ...clock };
  return at.toLocaleString(LOCALE, options);
}

/** The fake WPS's authorization (consent) page, whatever its query. */
function isConsentPage(url) {
  return url.href.startsWith(`${example.fake.url}/oauth2/auth?`);
}

/** What Chromium reports for a page whose own document answered `status`: the response and its console line. */
function deliberateDocumentError(url, status, reason) {
  return [
    { kind: 'status', url, status, type: 'document' },
    {
      kind: 'console',
      text: `Failed to load resource: the server responded with a status of ${status} (${reason})`,
      url,
    },
  ];
}

/**
 * Checks the page just shown: nothing went wrong loading it (or only `expected`), it links the inline icon (so the
 * browser asks for no /favicon.ico), it has no horizontal scroll bar, and saves its screenshot.
 */
async function checkPage(page, watcher, name, expected = []) {
  await page.waitForLoadState('load');
  const problems = watcher.take();
  expect(problems).toHaveLength(expected.length);
  expect(problems).toEqual(expect.arrayContaining(expected));
  expect(await page.locator('link[rel="icon"]').getAttribute('href')).toMatch(/^data:image\/svg\+xml,/);
  expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** Run `steps` with a fresh browser context (own cookies) for `viewport`, closing it afterwards. */
async function withContext(viewport, steps) {
  const context = await browser.newContext({ ...viewport.context, locale: LOCALE, timezoneId: viewport.timezoneId });
  context.setDefaultTimeout(STEP_TIMEOUT_MS);
  try {
    const page = await context.newPage();
    // A finger taps on a phone, a mouse clicks on a desktop.
    const press = (selector) => (viewport.context.hasTouch ? page.tap(selector) : page.click(selector));
    await steps({ context, page, press, watcher: watch(page), shot: (step) => `${viewport.name}-${step}` });
  } finally {
    await context.close();
  }
}

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

describe.each(VIEWPORTS)('the example app in Chromium on a $name', (viewport) => {
  test(
    'home, sign in at the fake WPS, profile, force refresh, a 404, sign out',
    async () => {
      expect(example.fake).toBeDefined();
      const { timezoneId } = viewport;
      await withContext(viewport, async ({ context, page, press, watcher, shot }) => {
        await page.goto(example.url);
        expect(await page.locator('h1').textContent()).toBe('Welcome');
        expect(await page.locator('#status').textContent()).toBe('You are not signed in.');
        await checkPage(page, watcher, shot('01-home'));

        await press('#sign-in');
        await page.waitForURL(isConsentPage);
        const authorize = new URL(page.url()).searchParams;
        expect(authorize.get('redirect_uri')).toBe(`${example.url}auth/wps/callback`);
        expect(authorize.get('scope')).toBe('kso.user_base.read');
        expect(await page.locator('#wps-user-name').textContent()).toBe('Ada Demo');
        expect(await page.locator('#wps-client-id').textContent()).toBe('demo-client-id');
        // Allow and Deny side by side, whole, on every screen.
        const allow = await page.locator('#wps-allow').boundingBox();
        const deny = await page.locator('#wps-deny').boundingBox();
        expect(Math.abs(allow.y - deny.y)).toBeLessThan(1);
        expect(deny.x + deny.width).toBeLessThanOrEqual(allow.x);
        expect(allow.x + allow.width).toBeLessThanOrEqual(viewport.context.viewport.width);
        await checkPage(page, watcher, shot('02-consent'));

        await press('#wps-allow');
        await page.waitForURL(example.url);
        expect(await page.locator('h1').textContent()).toBe('Hello, Ada Demo');
        expect(await page.locator('#status').textContent()).toBe('You are signed in with WPS.');
        await checkPage(page, watcher, shot('03-home-signed-in'));

        await press('#profile');
        await page.waitForURL(`${example.url}me`);
        expect(await page.locator('#user-name').textContent()).toBe('Ada Demo');
        const firstExpiry = await page.locator('#expires-at').getAttribute('datetime');
        expect(Date.parse(firstExpiry)).toBeGreaterThan(Date.now());
        expect(await page.locator('#expires-at').textContent()).toBe(localClock(firstExpiry, timezoneId));
        // The fake's tokens live 2 hours.
        expect(await page.locator('#expires-in').textContent()).toMatch(/^expires in (1 h 59 min|2 h)$/);
        expect(await page.locator('nav a[aria-current="page"]').textContent()).toBe('Profile');
        await checkPage(page, watcher, shot('04-profile'));

        const cookies = await context.cookies(example.url);
        expect(cookies.map(({ name, httpOnly, sameSite }) => ({ name, httpOnly, sameSite }))).toEqual([
          { name: 'wps_example.sid', httpOnly: true, sameSite: 'Lax' },
        ]);
        const api = await page.request.get(`${example.url}api/me`);
        expect(api.status()).toBe(200);
        expect(await api.json()).toEqual({ name: 'Ada Demo', expiresAt: firstExpiry });

        const refreshesBefore = example.fake.tokenRequests('refresh_token').length;
        const refreshAnswer = page.waitForResponse((res) => res.url() === `${example.url}me/refresh`);
        await press('#force-refresh');
        expect((await refreshAnswer).status()).toBe(303);
        await page.waitForURL(`${example.url}me`);
        const flash = page.locator('#flash');
        await flash.waitFor();
        const secondExpiry = await page.locator('#expires-at').getAttribute('datetime');
        expect(Date.parse(secondExpiry)).toBeGreaterThan(Date.parse(firstExpiry));
        expect(example.fake.tokenRequests('refresh_token')).toHaveLength(refreshesBefore + 1);
        // What the page says changed: new tokens, and how far the expiry moved (a forced refresh right after signing
        // in moves it by less than a second, and both times then read the same to the second).
        const movedMs = Date.parse(secondExpiry) - Date.parse(firstExpiry);
        const moved = movedMs < 1000 ? 'less than a second' : `${Math.round(movedMs / 1000)} s`;
        expect((await flash.textContent()).replace(/\s+/g, ' ')).toBe(
          'Token refreshed: WPS issued a new access token and a new refresh token; the expiry moved ' +
            `${moved} later ` +
            `(${localClock(firstExpiry, timezoneId)} → ${localClock(secondExpiry, timezoneId)})`,
        );
        expect(await flash.locator('time').evaluateAll((times) => times.map((t) => t.dateTime))).toEqual([
          firstExpiry,
          secondExpiry,
        ]);
        expect(await page.locator('#user-name').textContent()).toBe('Ada Demo');
        await checkPage(page, watcher, shot('05-refreshed'));

        const missing = `${example.url}no-such-page`;
        const notFound = await page.goto(missing);
        expect(notFound.status()).toBe(404);
        expect(await page.locator('h1').textContent()).toBe('Page not found');
        expect(await page.locator('#not-found').textContent()).toBe('There is no page at /no-such-page.');
        await checkPage(page, watcher, shot('06-not-found'), deliberateDocumentError(missing, 404, 'Not Found'));

        await press('#home');
        await page.waitForURL(example.url);
        await press('#sign-out');
        await page.locator('#sign-in').waitFor();
        expect(page.url()).toBe(example.url);
        expect(await page.locator('#status').textContent()).toBe('You are not signed in.');
        await checkPage(page, watcher, shot('07-signed-out'));

        // Signed out, the profile sends the browser to sign in again.
        await page.goto(`${example.url}me`);
        await page.waitForURL(isConsentPage);
        expect(await page.locator('#wps-allow').isVisible()).toBe(true);
        expect(watcher.take()).toEqual([]);
      });
    },
    WALK_TIMEOUT_MS,
  );

  test(
    'events: the empty list, Send a test event (the fake WPS posts to /wps/events), the notice, the new events',
    async () => {
      const { timezoneId } = viewport;
      // An app of its own, so that the list starts empty on every viewport.
      const fresh = await createApp({ port: 0, env: DEMO_ENV });
      try {
        await withContext(viewport, async ({ page, press, watcher, shot }) => {
          const eventsPage = `${fresh.url}events`;
          await page.goto(fresh.url);
          await press('nav a[href="/events"]');
          await page.waitForURL(eventsPage);
          expect(await page.locator('h1').textContent()).toBe('Events from WPS');
          expect(await page.locator('nav a[aria-current="page"]').textContent()).toBe('Events');
          expect(await page.locator('#no-events').innerText()).toMatch(
            /^No events yet\. Each event WPS sends, once verified, appears here with its topic, operation, time and a summary of its data, newest first\. Send a test event to see one\.$/,
          );
          expect(await page.locator('#events').count()).toBe(0);
          await checkPage(page, watcher, shot('10-events-empty'));

          const sent = page.waitForResponse((res) => res.url() === `${fresh.url}events/test`);
          await press('#send-test-event');
          expect((await sent).status()).toBe(303);
          // Only the page after the redirect has the notice.
          await page.locator('#flash').waitFor();
          expect(page.url()).toBe(eventsPage);
          expect(await page.locator('#flash').innerText()).toBe('Test event sent: the app answered 200 {"code":0}');
          expect(await page.locator('#event-answer').textContent()).toBe('200 {"code":0}');
          expect(await page.locator('#no-events').count()).toBe(0);
          const first = page.locator('#events li').first();
          expect(await page.locator('#events li').count()).toBe(1);
          expect(await first.locator('.topic').textContent()).toBe('kso.app_chat.message');
          expect(await first.locator('.op').textContent()).toBe('create');
          expect(await first.locator('.summary').textContent()).toBe(
            'Bot received a message: “Hello from the demo (test event 1)”',
          );
          const sentAt = await first.locator('time').getAttribute('datetime');
          expect(Math.abs(Date.parse(sentAt) - Date.now())).toBeLessThan(60_000);
          expect(await first.locator('time').textContent()).toBe(localClock(sentAt, timezoneId));

          // A second one goes on top.
          await press('#send-test-event');
          await page.locator('#events li:nth-child(2)').waitFor();
          expect(await page.locator('#events .summary').allTextContents()).toEqual([
            'Bot received a message: “Hello from the demo (test event 2)”',
            'Bot received a message: “Hello from the demo (test event 1)”',
          ]);
          expect(await page.locator('#event-answer').textContent()).toBe('200 {"code":0}');
          await checkPage(page, watcher, shot('11-events'));

          // The notice is shown once.
          await page.reload();
          expect(await page.locator('#events li').count()).toBe(2);
          expect(await page.locator('#flash').count()).toBe(0);
          expect(watcher.take()).toEqual([]);
        });
      } finally {
        await fresh.close();
      }
    },
    WALK_TIMEOUT_MS,
  );
});

describe('the example app in Chromium, edge cases (desktop)', () => {
  const [desktop] = VIEWPORTS;

  test('the flash message is shown once: reloading the profile does not show it again', async () => {
    await withContext(desktop, async ({ page, press, watcher }) => {
      await page.goto(`${example.url}me`);
      await page.waitForURL(isConsentPage);
      await press('#wps-allow');
      await page.waitForURL(`${example.url}me`);
      await press('#force-refresh');
      await page.locator('#flash').waitFor();
      await page.reload();
      expect(await page.locator('#user-name').textContent()).toBe('Ada Demo');
      expect(await page.locator('#flash').count()).toBe(0);
      expect(watcher.take()).toEqual([]);
    });
  });

  test('a refresh that WPS fails keeps the token and says so on the profile', async () => {
    await withContext(desktop, async ({ page, press, watcher, shot }) => {
      await page.goto(`${example.url}me`);
      await page.waitForURL(isConsentPage);
      await press('#wps-allow');
      await page.waitForURL(`${example.url}me`);
      const expiry = await page.locator('#expires-at').getAttribute('datetime');
      example.fake.queueTokenFault({ status: 503, body: 'Service Unavailable', contentType: 'text/plain' });
      await press('#force-refresh');
      const flash = page.locator('#flash');
      await flash.waitFor();
      expect((await flash.innerText()).split('\n')[0]).toBe(
        'Refresh failed (wps_unavailable); the current token is kept.',
      );
      expect(await page.locator('#expires-at').getAttribute('datetime')).toBe(expiry);
      expect(await page.locator('#user-name').textContent()).toBe('Ada Demo');
      await checkPage(page, watcher, shot('09-refresh-failed'));
    });
  });

  test('GET /api/me answers 401 JSON when signed out, even to a browser', async () => {
    await withContext(desktop, async ({ page }) => {
      const res = await page.goto(`${example.url}api/me`);
      expect(res.status()).toBe(401);
      expect(res.headers()['content-type']).toMatch(/^application\/json/);
      expect(await res.json()).toEqual({
        code: 'login_required',
        message: expect.stringContaining('Sign in with WPS'),
      });
    });
  });

  test('GET /favicon.ico answers the SVG icon, for clients that ask for it anyway', async () => {
    await withContext(desktop, async ({ page }) => {
      const res = await page.request.get(`${example.url}favicon.ico`);
      expect(res.status()).toBe(200);
      expect(res.headers()['content-type']).toMatch(/^image\/svg\+xml/);
      expect(example.fake.requests.filter((req) => req.path === '/favicon.ico')).toEqual([]);
    });
  });

  test('Deny at the consent page lands on a readable access_denied page without a stack trace', async () => {
    await withContext(desktop, async ({ page, press, watcher, shot }) => {
      await page.goto(example.url);
      await press('#sign-in');
      await page.waitForURL(isConsentPage);
      const callbackAnswer = page.waitForResponse((res) => res.url().startsWith(`${example.url}auth/wps/callback?`));
      await press('#wps-deny');
      const callback = await callbackAnswer;
      expect(callback.status()).toBe(401);
      expect(await page.locator('#error-code').textContent()).toBe('access_denied');
      expect(await page.locator('#error-message').textContent()).toBe(
        'WPS sign-in was not granted: access_denied (The user denied access)',
      );
      expect(await page.locator('#sign-in').isVisible()).toBe(true);
      expect(await page.content()).not.toMatch(/\bat .+:\d+:\d+/);
      await checkPage(
        page,
        watcher,
        shot('08-access-denied'),
        deliberateDocumentError(callback.url(), 401, 'Unauthorized'),
      );
    });
  });
});
