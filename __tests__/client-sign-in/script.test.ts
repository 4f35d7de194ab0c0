import { Script } from 'node:vm';
import request from 'supertest';

import { startFakeWps } from '../../lib/testing';
import { CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, type TestApp } from '../helpers/app';
import { clientApp, ROUTE, setCookie } from './helpers';
import { useFakeWps } from '../helpers/fake-wps';

// The browser half as the app serves it: public values only, cacheable with revalidation, parseable JavaScript with
// no eval. What it does in a browser is checked in Chromium (e2e/client-sign-in.e2e.test.js).

const SCRIPT = `${ROUTE}.js`;

const fake = useFakeWps({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUris: [REDIRECT_URI] });
let t: TestApp;

beforeEach(() => {
  t = clientApp(fake, { scope: ['kso.user_base.read', 'kso.calendar.read'] });
});

/** The config literal the script starts from, read back out of its source. */
function configOf(source: string): unknown {
  const literal = /var CONFIG = (\{.*\});\n/.exec(source)?.[1];
  if (literal === undefined) throw new Error('no CONFIG in the script');
  return JSON.parse(literal);
}

describe('GET clientSignInPath + ".js"', () => {
  it('serves a few KB of JavaScript naming the route, loginPath, the APPID and the scopes, and no secret', async () => {
    const res = await request(t.app).get(SCRIPT).expect(200);
    expect(res.headers).toMatchObject({
      'content-type': 'text/javascript; charset=utf-8',
      'cache-control': 'no-cache',
      'x-content-type-options': 'nosniff',
    });
    expect(res.headers.etag).toMatch(/^"[\w-]{43}"$/);
    expect(setCookie(res)).toBeUndefined();
    const source = res.text;
    expect(Buffer.byteLength(source)).toBeLessThan(8 * 1024);
    expect(configOf(source)).toEqual({
      path: ROUTE,
      loginPath: '/auth/wps/login',
      clientId: CLIENT_ID,
      scope: ['kso.user_base.read', 'kso.calendar.read'],
    });
    expect(source).not.toContain(CLIENT_SECRET);
    expect(source).not.toContain(fake.url);
    expect(() => new Script(source)).not.toThrow();
    expect(source).not.toMatch(/\beval\s*\(|new Function|setTimeout\(\s*['"]/);
    expect(source).toContain('window.wpsClientSignIn = wpsClientSignIn;');
  });

  it('answers 304 to a revalidation naming its ETag (strong, weak, in a list, or *), 200 to another', async () => {
    const { etag } = (await request(t.app).get(SCRIPT).expect(200)).headers as { etag: string };
    for (const header of [etag, `W/${etag}`, `"other", ${etag}`, '*']) {
      const res = await request(t.app).get(SCRIPT).set('If-None-Match', header).expect(304);
      expect([res.headers.etag, res.headers['cache-control'], res.text]).toEqual([etag, 'no-cache', '']);
    }
    await request(t.app).get(SCRIPT).set('If-None-Match', '"other"').expect(200);
  });

  it('has an ETag per configuration, and the same one for the same configuration', async () => {
    const etag = async (app: TestApp) => (await request(app.app).get(SCRIPT).expect(200)).headers.etag as string;
    const first = await etag(t);
    expect(await etag(clientApp(fake, { scope: ['kso.user_base.read', 'kso.calendar.read'] }))).toBe(first);
    expect(await etag(clientApp(fake, { scope: ['kso.user_base.read'] }))).not.toBe(first);
  });

  it('answers HEAD with the headers, and other methods with 405', async () => {
    const head = await request(t.app).head(SCRIPT).expect(200);
    expect(head.headers['content-type']).toBe('text/javascript; charset=utf-8');
    const post = await request(t.app).post(SCRIPT).send('x');
    expect([post.status, post.headers.allow, post.body]).toEqual([
      405,
      'GET, HEAD',
      { error: 'method_not_allowed', message: 'The client sign-in script is read with GET' },
    ]);
  });

  it('names loginPath false when the redirect sign-in is off (no fallback then)', async () => {
    const res = await request(clientApp(fake, { loginPath: false }).app)
      .get(SCRIPT)
      .expect(200);
    expect(configOf(res.text)).toMatchObject({ loginPath: false });
  });

  it('keeps an APPID with markup or line separators inert', async () => {
    const odd = await startFakeWps({ clientId: 'app</script>\u2028"x', clientSecret: CLIENT_SECRET });
    try {
      const app = clientApp(odd, { clientId: 'app</script>\u2028"x' }).app;
      const source = (await request(app).get(SCRIPT).expect(200)).text;
      expect(source).toContain('"clientId":"app\\u003c/script>\\u2028\\"x"');
      expect(configOf(source)).toMatchObject({ clientId: 'app</script>\u2028"x' });
      expect(() => new Script(source)).not.toThrow();
    } finally {
      await odd.close();
    }
  });
});
