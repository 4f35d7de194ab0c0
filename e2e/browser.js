'use strict';

// What the browser suites share: Debian's Chromium (never a downloaded browser), how it is started, the desktop and
// phone viewports, and the watcher that collects what DevTools would show in red.

const fs = require('node:fs');
const { chromium } = require('playwright-core');

const CHROMIUM = '/usr/bin/chromium';
/** How long one step (a navigation, a click, an element to appear) may take: generous, CI machines are shared. */
const STEP_TIMEOUT_MS = 10_000;
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

// Time zones away from UTC (and from each other), so a test sees that times are shown in the reader's zone.
const VIEWPORTS = [
  { name: 'desktop', timezoneId: 'Asia/Shanghai', context: { viewport: { width: 1280, height: 800 } } },
  {
    name: 'phone',
    timezoneId: 'America/New_York',
    context: { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 },
  },
];

/** Start Chromium, or say how to install it. */
function launchChromium() {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} is missing: install Debian's Chromium (apt-get install chromium) to run the e2e tests`,
    );
  }
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}

/**
 * Collects what would show up in red in DevTools: console errors, uncaught page errors, failed requests and
 * responses with a status >= 400. `take()` returns (and clears) what was seen since the last call.
 */
function watch(page) {
  const seen = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') seen.push({ kind: 'console', text: msg.text(), url: msg.location().url });
  });
  page.on('pageerror', (err) => seen.push({ kind: 'pageerror', text: err.message }));
  page.on('requestfailed', (req) =>
    seen.push({ kind: 'requestfailed', url: req.url(), text: req.failure()?.errorText }),
  );
  page.on('response', (res) => {
    if (res.status() >= 400) {
      seen.push({ kind: 'status', url: res.url(), status: res.status(), type: res.request().resourceType() });
    }
  });
  return { take: () => seen.splice(0) };
}

module.exports = { CHROMIUM, CHROMIUM_ARGS, STEP_TIMEOUT_MS, VIEWPORTS, launchChromium, watch };
