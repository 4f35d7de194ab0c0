import { startFakeWps, type FakeWps, type FakeWpsOptions, type FakeWpsRuntimeOptions } from '../../lib/testing';
import { resolveSettings } from '../../lib/testing/fake/options';

/** The runtime options as `options` starts the fake (defaults filled in), which every test starts from again. */
function startingRuntimeOptions(options: FakeWpsOptions): Required<FakeWpsRuntimeOptions> {
  const { tokenLatencyMs, accessTokenTtlSeconds, rotateRefreshTokens, consent, clientAccess, requireSignature } =
    resolveSettings(options);
  return { tokenLatencyMs, accessTokenTtlSeconds, rotateRefreshTokens, consent, clientAccess, requireSignature };
}

/**
 * One fake WPS for the tests of the file (or `describe` block) that calls it, over real HTTP: started in
 * `beforeAll`, `reset()` and put back to the runtime options it started with (`tokenLatencyMs`, consent mode, …)
 * in `beforeEach`, closed in `afterAll`. Call it before the hooks that use the fake, so that it starts first.
 *
 * Returns a `FakeWps` whose every member reads the running fake, so tests use it as they would use what
 * `startFakeWps()` resolved with; touching it outside a test or a later hook throws.
 *
 * @example
 * const fake = useFakeWps({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET });
 * it('starts each test afresh', () => {
 *   fake.setOptions({ tokenLatencyMs: 100 }); // this test only: the next one starts at 0 again
 *   expect(fake.tokenRequests()).toEqual([]);
 * });
 */
export function useFakeWps(options: FakeWpsOptions = {}): FakeWps {
  const starting = startingRuntimeOptions(options);
  let running: FakeWps | undefined;
  const fake = (): FakeWps => {
    if (running === undefined) {
      throw new Error('useFakeWps: the fake WPS runs from beforeAll to afterAll; use it in a test or a hook');
    }
    return running;
  };
  beforeAll(async () => {
    running = await startFakeWps(options);
  });
  beforeEach(() => {
    fake().reset();
    fake().setOptions(starting);
  });
  afterAll(async () => {
    await running?.close();
    running = undefined;
  });
  // Every member read on the running fake (methods bound to it): the same API as what startFakeWps() resolves with.
  return new Proxy({} as FakeWps, {
    get(_target, member) {
      const running = fake();
      const value: unknown = Reflect.get(running, member);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(running) : value;
    },
  });
}

/**
 * Resolves once `check` holds. The fake records each request as it arrives but tells nobody, so this looks every
 * 5 ms; it rejects naming `what` after `ms`, so a request that never comes fails the test with a reason.
 *
 * @example
 * await until(() => fake.tokenRequests('refresh_token').length === 1, 'the refresh at the fake');
 */
export async function until(check: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`until: ${what} did not happen within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
