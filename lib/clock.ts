/**
 * Where the library reads the time: token expiry and refresh, the age of a sign-in `state`, refresh-lock TTLs,
 * the app-token cache and the replay window of events. The default is the system clock; tests pass one they
 * control, such as `createTestClock()` from `express-wps-oauth/testing`, to move time forward without sleeping.
 */
export interface WpsClock {
  /** The current time in epoch milliseconds, like `Date.now()`. */
  now(): number;
}

/** The system clock: `Date.now()`. */
export const systemClock: WpsClock = Object.freeze({ now: () => Date.now() });
