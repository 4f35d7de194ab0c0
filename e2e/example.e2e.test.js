/* global describe, test, expect, beforeAll, afterAll */
'use strict';

// The example app (demo mode, fake WPS in-process) driven by Debian's Chromium: never a downloaded browser.
// Each step leaves a numbered screenshot in e2e-artifacts/.

const fs = require('node:fs');
const path = require('node:path');
const { chromium } = require('playwright-core');
const { createApp } = require('../examples/basic/app');

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
const ARTIFACTS = path.join(__dirname, '..', 'e2e-artifacts');
const SCREENSHOT = /^\d{2}-[a-z0-9-]+\.png$/;
const STEP_TIMEOUT_MS = 5000;

let example;
let browser;

/** Save a full-page screenshot named `<nn>-<step>.png`. */
function shot(page, name) {
  return page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** The fake WPS's authorization (consent) page, whatever its query. */
function isConsentPage(url) {
  return url.href.startsWith(`${example.fake.url}/oauth2/auth?`);
}

/** Run `steps` with a fresh browser context (own cookies), closing it afterwards. */
async function withContext(steps) {
  const context = await browser.newContext();
  context.setDefaultTimeout(STEP_TIMEOUT_MS);
  try {
    await steps(context, await context.newPage());
  } finally {
    await context.close();
  }
}

beforeAll(async () => {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} is missing: install Debian's Chromium (apt-get install chromium) to run the e2e tests`,
    );
  }
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  for (const file of fs.readdirSync(ARTIFACTS)) if (SCREENSHOT.test(file)) fs.rmSync(path.join(ARTIFACTS, file));
  // No WPS_* variables: demo mode. Production mode, so error pages must not show a stack trace.
  example = await createApp({ port: 0, env: { NODE_ENV: 'production', SESSION_SECRET: 'e2e-session-secret' } });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
});

afterAll(async () => {
  await browser?.close();
  await example?.close();
});

describe('the example app in Chromium', () => {
  test('sign in at the fake WPS, see the demo user, force a refresh, sign out, be sent to sign in again', async () => {
    expect(example.fake).toBeDefined();
    await withContext(async (context, page) => {
      await page.goto(example.url);
      expect(await page.locator('#status').textContent()).toBe('You are not signed in.');
      await shot(page, '01-home-signed-out');

      await page.click('#sign-in');
      await page.waitForURL(isConsentPage);
      const authorize = new URL(page.url()).searchParams;
      expect(authorize.get('redirect_uri')).toBe(`${example.url}auth/wps/callback`);
      expect(authorize.get('scope')).toBe('kso.user_base.read');
      expect(await page.locator('#wps-user-name').textContent()).toBe('Ada Demo');
      await shot(page, '02-wps-consent');

      await page.click('#wps-allow');
      await page.waitForURL(example.url);
      expect(await page.locator('#status').textContent()).toBe('You are signed in with WPS.');
      await shot(page, '03-home-signed-in');

      await page.click('#profile');
      await page.waitForURL(`${example.url}me`);
      expect(await page.locator('#user-name').textContent()).toBe('Ada Demo');
      const firstExpiry = await page.locator('#expires-at').getAttribute('datetime');
      expect(Date.parse(firstExpiry)).toBeGreaterThan(Date.now());
      await shot(page, '04-me-signed-in');

      const cookies = await context.cookies(example.url);
      expect(cookies.map(({ name, httpOnly, sameSite }) => ({ name, httpOnly, sameSite }))).toEqual([
        { name: 'wps_example.sid', httpOnly: true, sameSite: 'Lax' },
      ]);
      const api = await page.request.get(`${example.url}api/me`);
      expect(api.status()).toBe(200);
      expect(await api.json()).toEqual({ name: 'Ada Demo', expiresAt: firstExpiry });

      const refreshAnswer = page.waitForResponse((res) => res.url() === `${example.url}me/refresh`);
      await page.click('#force-refresh');
      expect((await refreshAnswer).status()).toBe(303);
      const secondExpiry = await page.locator(`#expires-at:not([datetime="${firstExpiry}"])`).getAttribute('datetime');
      expect(Date.parse(secondExpiry)).toBeGreaterThan(Date.parse(firstExpiry));
      expect(example.fake.tokenRequests('refresh_token')).toHaveLength(1);
      expect(await page.locator('#user-name').textContent()).toBe('Ada Demo');
      await shot(page, '05-me-after-force-refresh');

      await page.click('#sign-out');
      await page.locator('#sign-in').waitFor();
      expect(page.url()).toBe(example.url);
      expect(await page.locator('#status').textContent()).toBe('You are not signed in.');
      await shot(page, '06-home-after-sign-out');

      await page.goto(`${example.url}me`);
      await page.waitForURL(isConsentPage);
      expect(await page.locator('#wps-allow').isVisible()).toBe(true);
      await shot(page, '07-me-redirects-to-wps-consent');
    });
  });

  test('GET /api/me answers 401 JSON when signed out, even to a browser', async () => {
    await withContext(async (_context, page) => {
      const res = await page.goto(`${example.url}api/me`);
      expect(res.status()).toBe(401);
      expect(res.headers()['content-type']).toMatch(/^application\/json/);
      expect(await res.json()).toEqual({
        code: 'login_required',
        message: expect.stringContaining('Sign in with WPS'),
      });
      await shot(page, '08-api-me-signed-out-401');
    });
  });

  test('Deny at the consent page lands on a readable access_denied page without a stack trace', async () => {
    await withContext(async (_context, page) => {
      await page.goto(example.url);
      await page.click('#sign-in');
      await page.waitForURL(isConsentPage);
      const callbackAnswer = page.waitForResponse((res) => res.url().startsWith(`${example.url}auth/wps/callback?`));
      await page.click('#wps-deny');
      expect((await callbackAnswer).status()).toBe(401);
      expect(await page.locator('#error-code').textContent()).toBe('access_denied');
      expect(await page.locator('#error-message').textContent()).toBe(
        'WPS sign-in was not granted: access_denied (The user denied access)',
      );
      expect(await page.locator('#sign-in').isVisible()).toBe(true);
      expect(await page.content()).not.toMatch(/\bat .+:\d+:\d+/);
      await shot(page, '09-access-denied');
    });
  });
});
