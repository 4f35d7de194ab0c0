import http from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';

import { CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, type TestApp } from '../helpers/app';
import { clientApp, OWN_ORIGIN, postCode, ROUTE, sessionCount, setCookie, type Res } from './helpers';
import { useFakeWps } from '../helpers/fake-wps';

// Every refusal of the route's table: the answer, no cookie, no session, WPS not called — so the code is not spent
// and the same code still signs in from the app's own page afterwards.

const fake = useFakeWps({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUris: [REDIRECT_URI] });
let t: TestApp;

beforeEach(() => {
  t = clientApp(fake);
});

/** The refusal left nothing behind: no cookie, no session in the store, no request to WPS. */
async function expectNothingTouched(res: Res): Promise<void> {
  expect(setCookie(res)).toBeUndefined();
  expect(await sessionCount(t.store)).toBe(0);
  expect(fake.tokenRequests()).toEqual([]);
  expect(t.errors).toEqual([]);
}

/** The code is not spent: it signs in from the app's own origin. */
async function expectStillUsable(code: string): Promise<void> {
  const res = await postCode(request(t.app), { code });
  expect([res.status, res.body.signedIn]).toEqual([200, true]);
}

const FORBIDDEN = {
  error: 'forbidden_origin',
  message:
    "This route takes codes only from the pages of this app's origins (redirectUri's and trustedOrigins): the " +
    'Origin header names another origin, or none',
};

describe('403 forbidden_origin', () => {
  it.each([
    ['missing', null],
    ['null (a sandboxed frame, a file: page)', 'null'],
    ['another host name for the same machine', 'http://localhost'],
    ['the same host on another port', 'http://127.0.0.1:8080'],
    ['the same host over https', 'https://127.0.0.1'],
    ['another site', 'https://evil.example'],
    ['a subdomain-looking lookalike', 'http://127.0.0.1.evil.example'],
    ['two origins in one header', `${OWN_ORIGIN}, https://evil.example`],
    ['upper case (browsers never send it)', 'HTTP://127.0.0.1'],
  ])('Origin %s', async (_label, origin) => {
    const code = fake.clientCode();
    const res = await postCode(request(t.app), { code }, { origin });
    expect([res.status, res.body]).toEqual([403, FORBIDDEN]);
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
    await expectNothingTouched(res);
    await expectStillUsable(code);
  });

  it('is logged at warn with the origin as sent, never the code', async () => {
    const code = fake.clientCode();
    await postCode(request(t.app), { code }, { origin: 'https://evil.example' });
    expect(t.logger.lines).toEqual([
      'warn express-wps-oauth: client sign-in: refused (forbidden_origin): not an origin of this app (see ' +
        'trustedOrigins) {"origin":"https://evil.example"}',
    ]);
  });
});

const NOT_JSON = {
  error: 'invalid_request',
  message: 'The body must be JSON sent with Content-Type: application/json: {"code": "…", "returnTo": "/path"}',
};
const NOT_OBJECT = {
  error: 'invalid_request',
  message: 'The body must be a JSON object: {"code": "…", "returnTo": "/path"}',
};
const BAD_CODE = {
  error: 'invalid_request',
  message: "code must be the bridge's code: a non-empty string of printable ASCII, at most 512 characters",
};

describe('400 invalid_request', () => {
  it.each([
    ['a form', 'application/x-www-form-urlencoded', (code: string) => `code=${code}`],
    [
      'text/plain (what a cross-site page can send without a preflight)',
      'text/plain',
      (c: string) => `{"code":"${c}"}`,
    ],
    [
      'text/plain with a JSON-looking charset',
      'text/plain; charset=application/json',
      (c: string) => `{"code":"${c}"}`,
    ],
    [
      'multipart',
      'multipart/form-data; boundary=x',
      (c: string) => `--x\r\nContent-Disposition: form-data; name="code"\r\n\r\n${c}\r\n--x--`,
    ],
    ['no content type', null, (c: string) => `{"code":"${c}"}`],
    ['a JSON lookalike type', 'application/json-patch+json', (c: string) => `{"code":"${c}"}`],
  ])('for %s', async (_label, contentType, body) => {
    const code = fake.clientCode();
    const res = await postCode(request(t.app), body(code), { contentType });
    expect([res.status, res.body]).toEqual([400, NOT_JSON]);
    await expectNothingTouched(res);
    await expectStillUsable(code);
  });

  it.each([
    ['an array', '[{"code":"kso_ac_x"}]'],
    ['a string', '"kso_ac_x"'],
    ['null', 'null'],
    ['a number', '42'],
    ['malformed JSON', '{"code": "kso_ac_x"'],
    ['an empty body', ''],
    ['a byte-order mark before the JSON', '\ufeff{"code":"kso_ac_x"}'],
  ])('for JSON that is %s', async (_label, body) => {
    const res = await postCode(request(t.app), body);
    expect([res.status, res.body]).toEqual([400, NOT_OBJECT]);
    await expectNothingTouched(res);
  });

  it.each([
    ['missing', {}],
    ['empty', { code: '' }],
    ['a number', { code: 42 }],
    ['null', { code: null }],
    ['an array', { code: ['kso_ac_x'] }],
    ['an object', { code: { value: 'kso_ac_x' } }],
    ['over 512 characters', { code: 'k'.repeat(513) }],
    ['with a space', { code: 'kso_ac_x y' }],
    ['with a control character', { code: 'kso_ac_x\u0000' }],
    ['not ASCII', { code: 'kso_ac_xé' }],
    ['only inherited (a __proto__ key)', JSON.parse('{"__proto__": {"code": "kso_ac_x"}}') as object],
  ])('for a code %s', async (_label, body) => {
    const res = await postCode(request(t.app), body);
    expect([res.status, res.body]).toEqual([400, BAD_CODE]);
    await expectNothingTouched(res);
  });

  it('takes a code of exactly 512 printable characters to WPS (which refuses this one)', async () => {
    const res = await postCode(request(t.app), { code: `kso_ac_${'x'.repeat(505)}` });
    expect([res.status, res.body.error]).toEqual([400, 'wps_rejected']);
    expect(fake.tokenRequests('authorization_code')).toHaveLength(1);
    expect(setCookie(res)).toBeUndefined();
  });
});

/** POST `size` bytes of JSON-looking body over a real socket, chunked or with its length, and read the answer. */
function postRaw(app: TestApp['app'], size: number, chunked: boolean): Promise<{ status: number; body: string }> {
  const server = http.createServer(app).listen(0, '127.0.0.1');
  return new Promise((resolve, reject) => {
    server.once('listening', () => {
      const { port } = server.address() as AddressInfo;
      const headers = {
        Origin: OWN_ORIGIN,
        'Content-Type': 'application/json',
        ...(chunked ? { 'Transfer-Encoding': 'chunked' } : { 'Content-Length': String(size) }),
      };
      const req = http.request({ host: '127.0.0.1', port, path: ROUTE, method: 'POST', headers, agent: false });
      req.on('response', (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => server.close(() => resolve({ status: res.statusCode ?? 0, body })));
      });
      req.on('error', reject);
      const text = `{"code":"${'x'.repeat(size - 11)}"}`;
      // Two writes, so that a chunked body arrives in pieces and is counted as it comes.
      req.write(text.slice(0, 2048));
      req.end(text.slice(2048));
    });
  });
}

describe('413 too_large', () => {
  const TOO_LARGE = { error: 'too_large', message: 'The body is over 4096 bytes' };

  it.each([
    ['with Content-Length: refused before reading', false],
    ['chunked: refused once past the limit', true],
  ])('%s', async (_label, chunked) => {
    const res = await postRaw(t.app, 4097, chunked);
    expect([res.status, JSON.parse(res.body)]).toEqual([413, TOO_LARGE]);
    expect(await sessionCount(t.store)).toBe(0);
    expect(fake.tokenRequests()).toEqual([]);
  });

  it('takes a body of exactly 4096 bytes (and refuses its code by shape)', async () => {
    const res = await postRaw(t.app, 4096, false);
    expect([res.status, JSON.parse(res.body)]).toEqual([400, BAD_CODE]);
  });
});

describe('405 method_not_allowed', () => {
  it.each(['put', 'delete', 'patch'] as const)('%s', async (method) => {
    const res = await request(t.app)[method](ROUTE).set('Origin', OWN_ORIGIN).send({ code: fake.clientCode() });
    expect([res.status, res.headers.allow, res.body]).toEqual([
      405,
      'GET, HEAD, POST, OPTIONS',
      {
        error: 'method_not_allowed',
        message: 'POST a code from the WPS client to sign in; GET says whether this session is signed in',
      },
    ]);
    await expectNothingTouched(res);
    expect(t.logger.lines).toEqual([
      `debug express-wps-oauth: client sign-in: refused (method_not_allowed) {"method":"${method.toUpperCase()}"}`,
    ]);
  });
});

it('answers its refusals itself, whatever error handler the app has, and never calls next()', async () => {
  const res = await postCode(request(t.app), { code: 1 }, { origin: 'https://evil.example' });
  expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
  expect([res.headers['cache-control'], res.headers.vary, res.headers['x-content-type-options']]).toEqual([
    'no-store',
    'Origin',
    'nosniff',
  ]);
  expect(t.errors).toEqual([]);
});
