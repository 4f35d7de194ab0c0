import type { WpsClock } from '../clock';

/** A {@link WpsClock} that tests move forward: it runs with real time, plus every jump made with `advance()`. */
export interface TestClock extends WpsClock {
  /** Move this clock `ms` milliseconds ahead (a negative value moves it back). Returns the new time. */
  advance(ms: number): number;
  /** How far ahead of the system clock this clock is, in milliseconds. */
  readonly offsetMs: number;
}

/**
 * A clock for tests: pass it as `clock` to `wpsAuth()`, `createWpsAppClient()`, `wpsEvents()` and
 * `startFakeWps()`, then `clock.advance(ms)` makes tokens, states and locks age at once — no sleeping. It keeps
 * running with real time between jumps, so timers and polling loops inside the library behave as they do live.
 *
 * @example
 * import express from 'express';
 * import { wpsAuth } from 'express-wps-oauth';
 * import { createTestClock, startFakeWps } from 'express-wps-oauth/testing';
 *
 * const clock = createTestClock();
 * const fake = await startFakeWps({ clock });
 * const app = express();
 * app.use(wpsAuth({ baseUrl: fake.url, redirectUri: 'http://127.0.0.1:3000/auth/wps/callback', clock }));
 * // … sign in, then:
 * clock.advance(2 * 60 * 60 * 1000); // two hours later: the access token has expired
 */
export function createTestClock(): TestClock {
  let offset = 0;
  return {
    now: () => Date.now() + offset,
    advance(ms: number): number {
      if (!Number.isFinite(ms)) throw new TypeError('express-wps-oauth: clock.advance(ms) expects a finite number');
      offset += ms;
      return Date.now() + offset;
    },
    get offsetMs() {
      return offset;
    },
  };
}
