import { resolveConfig } from '../../lib/config';

const valid = {
  clientId: 'AK2024',
  clientSecret: 'sekret-value-9',
  redirectUri: 'https://app.example.com/auth/wps/cb',
};

const HEAD = 'express-wps-oauth: invalid wpsAuth options:\n';
const ORIGIN = 'must be an origin such as "https://portal.example.com": http(s), a host and an optional port, no path';

describe('clientSignInPath and trustedOrigins', () => {
  it('default to the route under /auth/wps and no other origin', () => {
    const c = resolveConfig(valid, {});
    expect([c.clientSignInPath, c.trustedOrigins]).toEqual(['/auth/wps/client-sign-in', []]);
  });

  it('take a path or false, like loginPath', () => {
    expect(resolveConfig({ ...valid, clientSignInPath: '/in-wps' }, {}).clientSignInPath).toBe('/in-wps');
    expect(resolveConfig({ ...valid, clientSignInPath: false }, {}).clientSignInPath).toBe(false);
    for (const bad of ['in-wps', true, '/a?b', '/a b', 3]) {
      expect(() => resolveConfig({ ...valid, clientSignInPath: bad as never }, {})).toThrow(
        new TypeError(`${HEAD}  - clientSignInPath must be a path starting with "/", or false`),
      );
    }
  });

  it('keep origins as browsers send them: lower-case host, default port dropped, a trailing slash forgiven', () => {
    const c = resolveConfig(
      {
        ...valid,
        trustedOrigins: [
          'https://Portal.Example.com/',
          'https://portal.example.com:443',
          'http://localhost:8080',
          'http://[::1]:3000',
        ],
      },
      {},
    );
    expect(c.trustedOrigins).toEqual(['https://portal.example.com', 'http://localhost:8080', 'http://[::1]:3000']);
  });

  it('refuse what is not an origin, naming each entry', () => {
    const bad = [
      'https://portal.example.com/path',
      '*',
      'null',
      'portal.example.com',
      'ftp://portal.example.com',
      'https://user@portal.example.com',
      'https://portal.example.com?x',
      '',
      7,
    ];
    expect(() => resolveConfig({ ...valid, trustedOrigins: bad as never }, {})).toThrow(
      new TypeError(HEAD + bad.map((_, i) => `  - trustedOrigins[${i}] ${ORIGIN}`).join('\n')),
    );
    expect(() => resolveConfig({ ...valid, trustedOrigins: 'https://portal.example.com' as never }, {})).toThrow(
      new TypeError(`${HEAD}  - trustedOrigins must be an array of origins such as ["https://portal.example.com"]`),
    );
  });

  it.each([
    ['loginPath', { loginPath: '/auth/wps/client-sign-in' }, 'loginPath "/auth/wps/client-sign-in"'],
    [
      'logoutPath (the script path)',
      { logoutPath: '/auth/wps/client-sign-in.js' },
      'logoutPath "/auth/wps/client-sign-in.js"',
    ],
    [
      'the callback',
      { redirectUri: 'https://app.example.com/auth/wps/client-sign-in' },
      `redirectUri's path "/auth/wps/client-sign-in"`,
    ],
  ])('refuse a path that clashes with %s', (_name, options, what) => {
    expect(() => resolveConfig({ ...valid, ...options }, {})).toThrow(
      new TypeError(
        `${HEAD}  - clientSignInPath clashes with ${what}: give each route its own path (the script is served at ` +
          'clientSignInPath + ".js")',
      ),
    );
    expect(resolveConfig({ ...valid, ...options, clientSignInPath: false }, {}).clientSignInPath).toBe(false);
  });
});
