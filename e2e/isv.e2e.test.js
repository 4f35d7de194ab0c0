/* global describe, test, expect, beforeAll, afterAll, document, window */
'use strict';

// The marketplace (ISV) example (demo mode: the fake WPS in-process, two companies) driven by Debian's Chromium, on a
// desktop and a phone: call WPS as a company, remove the app, see the call refused without reaching WPS, install it
// again. Every page must load without a console error, a page error or a failed request; each step leaves a
// screenshot in e2e-artifacts/ named `isv-<viewport>-<nn>-<step>.png`. Real-WPS mode is checked without a browser
// (nothing is sent to WPS there).

const fs = require('node:fs');
const path = require('node:path');
const request = require('supertest');
const { STEP_TIMEOUT_MS, VIEWPORTS, launchChromium, watch } = require('./browser');
const { sendWpsChallenge } = require('express-wps-oauth/testing');
const { createApp } = require('../examples/isv/app');

const ARTIFACTS = path.join(__dirname, '..', 'e2e-artifacts');

let browser;

beforeAll(async () => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  for (const file of fs.readdirSync(ARTIFACTS)) if (/^isv-/.test(file)) fs.rmSync(path.join(ARTIFACTS, file));
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
});

describe.each(VIEWPORTS)('the marketplace example in Chromium on a $name', (viewport) => {
  test('call as a company, uninstall (the call is refused without WPS), install again', async () => {
    const example = await createApp({ port: 0, env: {} });
    const context = await browser.newContext({ ...viewport.context, locale: 'en-US' });
    context.setDefaultTimeout(STEP_TIMEOUT_MS);
    try {
      const page = await context.newPage();
      const watcher = watch(page);
      const company = (id) => page.locator(`li[data-company="${id}"]`);
      const press = async (id, action) => {
        const button = company(id).locator(`button[data-action="${action}"]`);
        // The form POSTs, then the app redirects (303) to the list: wait for the new document's load event.
        const loaded = page.waitForEvent('load');
        await (viewport.context.hasTouch ? button.tap() : button.click());
        await loaded;
        expect(page.url()).toBe(example.url);
      };
      const check = async (step) => {
        await page.waitForLoadState('load');
        expect(watcher.take()).toEqual([]);
        expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
        await page.screenshot({ path: path.join(ARTIFACTS, `isv-${viewport.name}-${step}.png`), fullPage: true });
      };

      await page.goto(example.url);
      expect(await page.locator('h1').textContent()).toBe('Customer companies');
      expect(await page.locator('#events-url').textContent()).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/wps\/events$/);
      expect(await page.locator('[data-status]').allTextContents()).toEqual(['unknown', 'unknown']);
      await check('01-companies');

      await press('acme-corp', 'call');
      expect(await company('acme-corp').locator('[data-result]').textContent()).toBe(
        'WPS says this token is for company acme-corp',
      );
      expect(example.fake.marketplace.ticketRequests()).toHaveLength(1);
      await check('02-called');

      await press('acme-corp', 'uninstall');
      expect(await company('acme-corp').locator('[data-status]').textContent()).toBe('uninstalled');
      expect(await page.locator('#activity li').allTextContents()).toEqual([
        expect.stringMatching(/^\d\d:\d\d:\d\d acme-corp removed the app \(v1\.0\.0\)$/),
      ]);
      const tokenRequests = example.fake.marketplace.tenantTokenRequests().length;
      await press('acme-corp', 'call');
      expect(await company('acme-corp').locator('[data-result]').textContent()).toBe(
        'tenant_not_installed: company acme-corp has removed the app (the last install-state event said so); ' +
          'WPS was not called',
      );
      expect(example.fake.marketplace.tenantTokenRequests()).toHaveLength(tokenRequests);
      await check('03-uninstalled');

      await press('acme-corp', 'install');
      expect(await company('acme-corp').locator('[data-status]').textContent()).toBe('installed');
      await press('acme-corp', 'call');
      await press('globex-inc', 'call');
      expect(await page.locator('[data-result]').allTextContents()).toEqual([
        'WPS says this token is for company acme-corp',
        'WPS says this token is for company globex-inc',
      ]);
      expect(example.fake.marketplace.ticketRequests()).toHaveLength(1);
      await check('04-installed-again');
    } finally {
      await context.close();
      await example.close();
    }
  }, 60_000);
});

describe('the marketplace example with the real WPS (nothing sent to WPS)', () => {
  let example;
  beforeAll(async () => {
    example = await createApp({
      port: 0,
      env: {
        WPS_CLIENT_ID: 'isv-e2e-app-id',
        WPS_CLIENT_SECRET: 'isv-e2e-app-key-never-shown',
        COMPANY_IDS: 'company-a,company-b',
        PUBLIC_URL: 'https://isv.example.com',
      },
    });
  });
  afterAll(() => example?.close());

  test('names the event URL to register, lists the companies it knows, offers no install buttons', async () => {
    expect(example.fake).toBeUndefined();
    const res = await request(example.app).get('/').expect(200);
    expect(res.text).toContain('<code id="events-url">https://isv.example.com/wps/events</code>');
    expect([...res.text.matchAll(/data-company="([^"]+)"/g)].map((m) => m[1])).toEqual(['company-a', 'company-b']);
    expect(res.text).not.toContain('data-action="uninstall"');
    expect(res.text).not.toContain('Demo mode');
    expect(res.text).not.toContain('isv-e2e-app-key-never-shown');
    await request(example.app).post('/companies/company-a/uninstall').expect(404);
  });

  test('answers WPS’s URL check at its event URL', async () => {
    const url = `http://127.0.0.1:${new URL(example.url).port}/wps/events`;
    expect(await sendWpsChallenge(url, 'isv-check')).toEqual({ status: 200, body: { challenge: 'isv-check' } });
  });
});
