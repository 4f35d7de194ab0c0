import { systemClock, wpsAuth } from '../lib';
import { resolveConfig } from '../lib/config';

const valid = {
  clientId: 'AK2024',
  clientSecret: 'sekret-value-9',
  redirectUri: 'https://app.example.com/auth/wps/cb',
};

describe('wpsAuth options', () => {
  it('fills every default and derives the callback path from redirectUri', () => {
    const c = resolveConfig(valid, {});
    expect(c).toMatchObject({
      callbackPath: '/auth/wps/cb',
      scope: 'kso.user_base.read',
      baseUrl: 'https://openapi.wps.cn',
      authorizeUrl: 'https://openapi.wps.cn/oauth2/auth',
      loginPath: '/auth/wps/login',
      logoutPath: '/auth/wps/logout',
      defaultReturnTo: '/',
      refreshSkewMs: 60_000,
      timeoutMs: 10_000,
      unauthenticated: 'auto',
      maxPendingLogins: 10,
      stateTtlMs: 600_000,
      clock: systemClock,
    });
  });

  it('keeps a given clock as it is (a class instance with now() on its prototype), and refuses one without now()', () => {
    class StoppedClock {
      now(): number {
        return 1_700_000_000_000;
      }
    }
    const clock = new StoppedClock();
    expect(resolveConfig({ ...valid, clock }, {}).clock).toBe(clock);
    expect(() => resolveConfig({ ...valid, clock: {} as StoppedClock }, {})).toThrow(
      new TypeError(
        'express-wps-oauth: invalid wpsAuth options:\n  - clock must be an object with a now() method returning epoch milliseconds',
      ),
    );
  });

  it('reads clientId, clientSecret and redirectUri from the environment', () => {
    const c = resolveConfig(
      {},
      { WPS_CLIENT_ID: 'env-id', WPS_CLIENT_SECRET: 'env-secret', WPS_REDIRECT_URI: 'http://localhost:3000/cb' },
    );
    expect([c.clientId, c.clientSecret, c.redirectUri, c.callbackPath]).toEqual([
      'env-id',
      'env-secret',
      'http://localhost:3000/cb',
      '/cb',
    ]);
  });

  it('joins scopes with commas, from an array or a comma-separated string, without duplicates', () => {
    expect(resolveConfig({ ...valid, scope: ['kso.user_base.read', 'kso.calendar.read'] }, {}).scope).toBe(
      'kso.user_base.read,kso.calendar.read',
    );
    expect(resolveConfig({ ...valid, scope: 'a.b , c.d,a.b' }, {}).scope).toBe('a.b,c.d');
  });

  it('strips a trailing slash from baseUrl and accepts false to turn routes off', () => {
    const c = resolveConfig({ ...valid, baseUrl: 'http://127.0.0.1:9999/', loginPath: false, logoutPath: false }, {});
    expect([c.authorizeUrl, c.loginPath, c.logoutPath]).toEqual(['http://127.0.0.1:9999/oauth2/auth', false, false]);
  });

  it('lists every missing credential, naming the environment variable', () => {
    expect(() => wpsAuth({})).toThrow(
      new TypeError(
        'express-wps-oauth: invalid wpsAuth options:\n' +
          '  - clientId is required (or set WPS_CLIENT_ID)\n' +
          '  - clientSecret is required (or set WPS_CLIENT_SECRET)\n' +
          '  - redirectUri is required (or set WPS_REDIRECT_URI)',
      ),
    );
  });

  it('lists every problem by option name in one TypeError', () => {
    const bad = {
      ...valid,
      redirectUri: 'ftp://x/cb',
      scope: 'a b',
      baseUrl: 'javascript:alert(1)',
      loginPath: 'x',
      defaultReturnTo: '//evil.example',
      timeoutMs: -1,
      unauthenticated: 'nope',
      foo: 1,
    };
    expect(() => resolveConfig(bad as never, {})).toThrow(
      new TypeError(
        'express-wps-oauth: invalid wpsAuth options:\n' +
          '  - redirectUri must be an absolute http(s) URL registered at WPS\n' +
          '  - scope must be scope names such as kso.user_base.read (an array, or comma-separated)\n' +
          '  - baseUrl must be an http(s) origin\n' +
          '  - loginPath must be a path starting with "/", or false\n' +
          '  - defaultReturnTo must be a same-origin path such as "/"\n' +
          '  - timeoutMs must be greater than or equal to 1\n' +
          '  - unauthenticated must be one of [auto, redirect, error]\n' +
          '  - foo is not allowed',
      ),
    );
  });

  it('checks the shape of logger and refreshLock', () => {
    expect(() => resolveConfig({ ...valid, logger: {} as never, refreshLock: { acquire: 1 } as never }, {})).toThrow(
      'refreshLock.acquire must be of type function\n  - refreshLock.release is required\n  - logger.debug is required',
    );
  });

  it('never puts the client secret in the message, whatever is wrong with it', () => {
    for (const clientSecret of ['', 42, ['sekret-value-9'], { v: 'sekret-value-9' }]) {
      let message = '';
      try {
        resolveConfig({ ...valid, clientSecret, scope: 'sekret-value-9 x' } as never, {});
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).toContain('clientSecret must be a non-empty string');
      expect(message).not.toContain('sekret-value-9');
    }
  });

  it('rejects a non-object', () => {
    expect(() => resolveConfig('id' as never, {})).toThrow(
      'express-wps-oauth: wpsAuth(options) expects an options object, e.g. wpsAuth({ clientId, clientSecret, redirectUri })',
    );
  });
});
