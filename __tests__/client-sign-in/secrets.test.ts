import createDebug from 'debug';
import { format, inspect } from 'node:util';
import request from 'supertest';
import type { WpsLogger } from '../../lib';
import { startFakeWps, type FakeWps } from '../../lib/testing';
import { createTestApp, type TestApp } from '../helpers/app';
import { FAULTS } from '../hostile/helpers/faults';
import { Haystack, LEAK_WINDOW } from '../hostile/helpers/secrets';
import { note } from '../helpers/notes';
import { postCode, ROUTE, type Agent, type Res } from './helpers';

// The leak scan of the client sign-in route: every answer (status, headers, body) and every line it logs — to the
// logger option and to DEBUG=express-wps-oauth — across its successes, refusals and failures, searched for the
// client secret, every code posted and every token issued, and every 12-character piece of them.

const CLIENT_ID = 'client-secrets-app';
const CLIENT_SECRET = 'sk+/=&% ü-DO-NOT-LEAK-client-3f9a';
const REDIRECT_URI = 'http://127.0.0.1/auth/wps/callback';
const ORIGIN = 'http://127.0.0.1';

let fake: FakeWps;
const hay = new Haystack();
const secrets = new Set<string>([CLIENT_SECRET]);
let previousDebug = '';
let previousLog: typeof createDebug.log;

/** A logger whose every line, meta in full, goes into the haystack. */
function scannedLogger(): WpsLogger {
  const at = (level: string) => (message: string, meta?: Record<string, unknown>) =>
    hay.add(`logger.${level}`, inspect([message, meta], { depth: Infinity, showHidden: true }));
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

function app(options: Parameters<typeof createTestApp>[1] = {}): TestApp {
  return createTestApp(fake, { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, logger: scannedLogger(), ...options });
}

function scan(where: string, res: Res): Res {
  hay.add(`${where}: answer`, `${res.status}\n${JSON.stringify(res.headers)}\n${res.text}`);
  return res;
}

/** A code to post, remembered as a secret. */
function code(): string {
  const value = fake.clientCode();
  secrets.add(value);
  return value;
}

/** The session's tokens (through the test app's inspection route, whose answers are not scanned) become secrets. */
async function rememberTokens(agent: Agent): Promise<void> {
  const tokens = (await agent.get('/test/session').expect(200)).body.wps?.tokens as Record<string, string> | undefined;
  if (tokens === undefined) throw new Error('not signed in');
  secrets.add(tokens.accessToken ?? '');
  secrets.add(tokens.refreshToken ?? '');
}

beforeAll(async () => {
  fake = await startFakeWps({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUris: [REDIRECT_URI] });
  previousDebug = createDebug.disable();
  previousLog = createDebug.log;
  // The documented way to send every debug line elsewhere: here, into the haystack.
  createDebug.log = (...args: unknown[]) => hay.add('DEBUG=express-wps-oauth', format(...args));
  createDebug.enable('express-wps-oauth');
});

afterAll(async () => {
  createDebug.disable();
  createDebug.log = previousLog;
  if (previousDebug) createDebug.enable(previousDebug);
  await fake.close();
});

it('signs in, answers GET, HEAD, OPTIONS and the script, then refuses a replay, without a secret anywhere', async () => {
  const t = app({ trustedOrigins: ['https://portal.example.com'] });
  const agent = request.agent(t.app);
  const used = code();
  scan('sign-in', await postCode(agent, { code: used, returnTo: '/after' }, { origin: ORIGIN }).expect(200));
  await rememberTokens(agent);
  scan('GET', await agent.get(ROUTE).expect(200));
  scan('HEAD', await agent.head(ROUTE).expect(200));
  scan('preflight', await request(t.app).options(ROUTE).set('Origin', 'https://portal.example.com').expect(204));
  scan('script', await request(t.app).get(`${ROUTE}.js`).expect(200));
  scan('replay', await postCode(request(t.app), { code: used }, { origin: ORIGIN }).expect(400));
  scan('replay, signed in', await postCode(agent, { code: used }, { origin: ORIGIN }).expect(400));
  scan('switch accounts', await postCode(agent, { code: code() }, { origin: ORIGIN }).expect(200));
  await rememberTokens(agent);
});

it('refuses bodies holding a real code without repeating it', async () => {
  const t = app();
  const c = code();
  const cases: [string, Parameters<typeof postCode>[1], Parameters<typeof postCode>[2]][] = [
    ['another origin', { code: c }, { origin: 'https://evil.example' }],
    ['no origin', { code: c }, { origin: null }],
    ['a form', `code=${encodeURIComponent(c)}`, { contentType: 'application/x-www-form-urlencoded', origin: ORIGIN }],
    ['text/plain', JSON.stringify({ code: c }), { contentType: 'text/plain', origin: ORIGIN }],
    ['malformed JSON', `{"code": "${c}"`, { origin: ORIGIN }],
    ['an array', JSON.stringify([c]), { origin: ORIGIN }],
    ['a code with a control character', { code: `${c}\n` }, { origin: ORIGIN }],
    ['a code too long', { code: c.repeat(20) }, { origin: ORIGIN }],
    ['too large', { code: c, padding: 'x'.repeat(5000) }, { origin: ORIGIN }],
  ];
  for (const [label, body, options] of cases) {
    const res = scan(label, await postCode(request(t.app), body, options));
    expect(res.status).toBeGreaterThanOrEqual(400);
  }
  scan('PUT', await request(t.app).put(ROUTE).set('Origin', ORIGIN).send({ code: c }).expect(405));
  // Still unspent: the refusals never showed it to WPS.
  scan('then from the page', await postCode(request(t.app), { code: c }, { origin: ORIGIN }).expect(200));
});

describe.each(FAULTS.map((f) => [f.name, f] as const))('WPS answering the exchange with %s', (_name, c) => {
  it('fails without a secret in the answer or the logs', async () => {
    const t = app(c.options.timeoutMs === undefined ? {} : { timeoutMs: 100 });
    fake.queueTokenFault(c.fault);
    const res = scan(c.name, await postCode(request(t.app), { code: code() }, { origin: ORIGIN }));
    expect([res.status, res.body.error]).toEqual([c.exchange.status, c.exchange.code]);
  });
});

it('refuses through afterLogin without a secret', async () => {
  const t = app({
    afterLogin: () => {
      throw new Error('no account');
    },
  });
  scan('afterLogin', await postCode(request(t.app), { code: code() }, { origin: ORIGIN }).expect(403));
});

afterAll(() => {
  note(
    `[client sign-in] secrets: ${hay.size} outputs (${hay.bytes} bytes) scanned for ${secrets.size} secrets and ` +
      `every ${LEAK_WINDOW}-character piece of them`,
  );
});

it('found no secret in any of it (and scanned the debug lines too)', () => {
  expect(hay.count('DEBUG=express-wps-oauth')).toBeGreaterThan(10);
  expect(hay.count('logger.warn')).toBeGreaterThan(10);
  expect(hay.leaks(secrets)).toEqual([]);
});
