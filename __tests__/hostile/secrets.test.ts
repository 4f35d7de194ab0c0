import createDebug from 'debug';
import express, { type ErrorRequestHandler } from 'express';
import session, { MemoryStore } from 'express-session';
import { inspect } from 'node:util';
import request from 'supertest';
import { requireWpsToken, wpsAuth, type WpsLogger } from '../../lib';
import { expireAccessToken, type FakeFault } from '../../lib/testing';
import { FAULTS, type FaultCase } from './helpers/faults';
import { realProcess, watchForCrashes, type CrashWatch } from './helpers/guards';
import { Haystack, LEAK_WINDOW } from './helpers/secrets';
import { storedRecord } from '../helpers/stored';
import { note } from '../helpers/notes';
import { useFakeWps } from '../helpers/fake-wps';

type Agent = ReturnType<typeof request.agent>;
type Res = request.Response;

/** A secret with every character that form- and URL-encoding change, so encoded echoes are looked for too. */
const CLIENT_ID = 'secrets-test-client';
const CLIENT_SECRET = 'sk+/=&% ü-DO-NOT-LEAK-9b2e7c41';
const REDIRECT_URI = 'http://app.test/auth/wps/callback';

const fake = useFakeWps({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUris: [REDIRECT_URI] });
let crashes: CrashWatch;
let previousDebug = '';
/** Every code and token seen during the file: all must stay out of every haystack. */
const secrets = new Set<string>([CLIENT_SECRET]);
let hay: Haystack;
let scanned = { cases: 0, bytes: 0, parts: 0 };

beforeAll(() => {
  crashes = watchForCrashes();
  // The worst case: the library's own tracing on, writing to stderr.
  previousDebug = createDebug.disable();
  createDebug.enable([previousDebug, 'express-wps-oauth'].filter(Boolean).join(','));
});

afterAll(() => {
  createDebug.disable();
  if (previousDebug) createDebug.enable(previousDebug);
  crashes.stop();
  note(
    `[hostile] secrets: ${scanned.cases} failure cases, ${scanned.parts} outputs (${scanned.bytes} bytes) scanned for ` +
      `${secrets.size} secrets and every ${LEAK_WINDOW}-character piece of them: 0 leaks`,
  );
});

beforeEach(() => {
  hay = new Haystack();
  // Everything written to the console or the process's streams goes into the haystack. The library's debug lines
  // are kept out of the test output; anything else (Jest's own) is passed on.
  for (const method of ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const) {
    jest
      .spyOn(console, method)
      .mockImplementation((...args: unknown[]) => hay.add(`console.${method}`, inspect(args, { depth: Infinity })));
  }
  for (const [name, stream] of [
    ['stdout', realProcess.stdout],
    ['stderr', realProcess.stderr],
  ] as const) {
    const write = stream.write.bind(stream) as (...a: unknown[]) => boolean;
    jest.spyOn(stream, 'write').mockImplementation((chunk: unknown, ...rest: unknown[]) => {
      const text = typeof chunk === 'string' ? chunk : Buffer.isBuffer(chunk) ? chunk.toString('utf8') : String(chunk);
      hay.add(`process.${name}`, text);
      return text.includes('express-wps-oauth') ? true : write(chunk, ...rest);
    });
  }
});

afterEach(() => {
  jest.restoreAllMocks();
  expect(crashes.rejections).toEqual([]);
  expect(crashes.exceptions).toEqual([]);
});

/** What the logger option received, word for word (meta objects in full). */
function captureLogger(): WpsLogger {
  const at = (level: string) => (message: string, meta?: Record<string, unknown>) =>
    hay.add(`logger.${level}`, inspect([message, meta], { depth: Infinity, showHidden: true }));
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/**
 * An app as a user might write it without an error handler of its own: errors reach Express's default handler,
 * which (outside production) answers with `err.stack` in the page. A recorder on the way keeps each error.
 */
function bareApp(options: { timeoutMs?: number } = {}) {
  const app = express();
  const errors: unknown[] = [];
  app.use(
    session({ secret: 'secrets-session-secret', resave: false, saveUninitialized: false, store: new MemoryStore() }),
  );
  app.use(
    wpsAuth({
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      redirectUri: REDIRECT_URI,
      baseUrl: fake.url,
      logger: captureLogger(),
      ...options,
    }),
  );
  app.get('/test/session', (req, res) => {
    res.json({ wps: storedRecord(req.session) ?? null });
  });
  app.post('/test/expire', (req, res) => {
    res.json({ ok: expireAccessToken(req) });
  });
  app.get('/api/me', requireWpsToken({ unauthenticated: 'error' }), (_req, res) => {
    res.json({ ok: true });
  });
  const record: ErrorRequestHandler = (err, _req, _res, next) => {
    errors.push(err);
    next(err);
  };
  app.use(record);
  return { app, errors };
}

/** Every HTTP answer the library produced (or caused): status, headers and body. */
function addResponse(where: string, res: Res): void {
  hay.add(`${where} response`, `${res.status}\n${JSON.stringify(res.headers)}\n${res.text}`);
}

async function rememberTokens(agent: Agent): Promise<{ accessToken: string; refreshToken: string } | undefined> {
  const tokens = (await agent.get('/test/session').expect(200)).body.wps?.tokens as
    { accessToken: string; refreshToken: string } | undefined;
  if (tokens) {
    secrets.add(tokens.accessToken);
    secrets.add(tokens.refreshToken);
  }
  return tokens;
}

/** Start a login through the library and fetch the code from the fake: returns the callback path and the code. */
async function authorize(agent: Agent): Promise<{ callback: string; code: string }> {
  const login = await agent.get('/auth/wps/login').expect(302);
  addResponse('login', login);
  const auth = await request(login.headers.location as string)
    .get('')
    .redirects(0)
    .expect(302);
  const back = new URL(auth.headers.location as string);
  const code = back.searchParams.get('code') ?? '';
  secrets.add(code);
  return { callback: `${back.pathname}${back.search}`, code };
}

async function signIn(agent: Agent): Promise<void> {
  const { callback } = await authorize(agent);
  addResponse('callback (success)', await agent.get(callback).expect(302));
  await rememberTokens(agent);
}

function expectNoLeak(errors: unknown[]): void {
  errors.forEach((err, i) => hay.addError(`error #${i}`, err));
  // Scan while the spies are still on, then count.
  const leaks = hay.leaks(secrets);
  scanned = { cases: scanned.cases + 1, bytes: scanned.bytes + hay.bytes, parts: scanned.parts + hay.size };
  expect(leaks).toEqual([]);
  expect(errors.length).toBeGreaterThan(0);
}

const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();

describe('the scanner', () => {
  it('finds a secret, a percent-encoded one, and a 12-character piece of one', () => {
    const h = new Haystack();
    h.add('a', `x ${CLIENT_SECRET} y`);
    h.add('b', `x ${encodeURIComponent(CLIENT_SECRET)} y`);
    h.add('c', `cut at the limit: ${'kso_rt_abcdefghijklmnop'.slice(0, LEAK_WINDOW)}…`);
    h.add('d', 'nothing to see');
    expect(h.leaks([CLIENT_SECRET, 'kso_rt_abcdefghijklmnop']).map((l) => l.split(':')[0])).toEqual(['a', 'b', 'c']);
  });
});

describe.each(FAULTS.map((f) => [f.name, f] as const))(
  'no secret escapes when WPS answers with %s',
  (_name, c: FaultCase) => {
    const timeoutMs = c.options.timeoutMs === undefined ? {} : { timeoutMs: 100 };

    it('in the code exchange', async () => {
      const { app, errors } = bareApp(timeoutMs);
      const agent = request.agent(app);
      const { callback } = await authorize(agent);
      fake.queueTokenFault(c.fault);
      const res = await agent.get(callback);
      expect(res.status).toBe(c.exchange.status);
      addResponse('callback', res);
      expectNoLeak(errors);
    });

    it('in the refresh', async () => {
      const { app, errors } = bareApp(timeoutMs);
      const agent = request.agent(app);
      await signIn(agent);
      await agent.post('/test/expire').expect(200);
      fake.queueTokenFault(c.fault);
      const res = await agent.get('/api/me');
      expect(res.status).toBe(c.refresh.status);
      addResponse('/api/me', res);
      // The capture works: the library did talk, through the logger and through DEBUG tracing on stderr.
      expect(hay.count('logger.')).toBeGreaterThan(0);
      expect(hay.count('process.stderr')).toBeGreaterThan(0);
      expectNoLeak(errors);
    });
  },
);

describe('no secret escapes when WPS echoes what it was sent', () => {
  const exchangeEchoes: [string, (code: string) => FakeFault][] = [
    [
      'the whole form body in msg',
      (code) => ({
        status: 400,
        body: {
          code: 40000001,
          msg: `bad request: ${form({ grant_type: 'authorization_code', client_id: CLIENT_ID, client_secret: CLIENT_SECRET, code, redirect_uri: REDIRECT_URI })}`,
        },
      }),
    ],
    [
      'the secret in msg of a 200',
      () => ({ status: 200, body: { code: 40000002, msg: `invalid_client ${CLIENT_SECRET}` } }),
    ],
    [
      'the code straddling the 200-character cut of msg',
      (code) => ({ status: 400, body: { code: 40000003, msg: `${'x'.repeat(180)}${code}` } }),
    ],
    [
      'the secret straddling the cut, behind control characters',
      () => ({ status: 400, body: { code: 40000003, msg: `${'\n'.repeat(50)}${'y'.repeat(185)}${CLIENT_SECRET}` } }),
    ],
    [
      'the secret in an HTML 500 page',
      () => ({ status: 500, body: `<pre>${CLIENT_SECRET}</pre>`, contentType: 'text/html' }),
    ],
    [
      'the secret in debug.desc',
      (code) => ({
        status: 400,
        body: { code: 40000003, msg: 'invalid_grant', debug: { desc: `${code} ${CLIENT_SECRET}` } },
      }),
    ],
  ];

  it.each(exchangeEchoes)('in the code exchange: %s', async (_name, fault) => {
    const { app, errors } = bareApp();
    const agent = request.agent(app);
    const { callback, code } = await authorize(agent);
    fake.queueTokenFault(fault(code));
    addResponse('callback', await agent.get(callback));
    expectNoLeak(errors);
  });

  const refreshEchoes: [string, (refreshToken: string) => FakeFault][] = [
    [
      'the whole form body in msg',
      (rt) => ({
        status: 400,
        body: {
          code: 40000003,
          msg: `invalid_grant: ${form({ grant_type: 'refresh_token', refresh_token: rt, client_id: CLIENT_ID, client_secret: CLIENT_SECRET })}`,
        },
      }),
    ],
    [
      'the refresh token straddling the cut of msg',
      (rt) => ({ status: 400, body: { code: 40000003, msg: `${'z'.repeat(182)}${rt}` } }),
    ],
    [
      'the refresh token in msg of a 503',
      (rt) => ({ status: 503, body: { code: 50300000, msg: `busy, retry ${rt}` } }),
    ],
  ];

  it.each(refreshEchoes)('in the refresh: %s', async (_name, fault) => {
    const { app, errors } = bareApp();
    const agent = request.agent(app);
    await signIn(agent);
    const tokens = await rememberTokens(agent);
    await agent.post('/test/expire').expect(200);
    fake.queueTokenFault(fault(tokens?.refreshToken ?? ''));
    addResponse('/api/me', await agent.get('/api/me'));
    expectNoLeak(errors);
  });
});

describe('no secret escapes from the other failures', () => {
  it('a refused authorization, a forged state, a replay, a signed-out call and a logout', async () => {
    const { app, errors } = bareApp();
    const agent = request.agent(app);
    await signIn(agent);
    const { callback } = await authorize(agent);
    addResponse('replay setup', await agent.get(callback).expect(302));
    await rememberTokens(agent);
    addResponse('replay, signed in', await agent.get(callback).expect(302));
    addResponse('replay, no session', await request(app).get(callback).expect(400));
    const stranger = request.agent(app);
    await stranger.get('/auth/wps/login').expect(302);
    addResponse(
      'forged state',
      await stranger.get(`/auth/wps/callback?code=kso_ac_forged.code&state=forged`).expect(400),
    );
    const login = await agent.get('/auth/wps/login').expect(302);
    const state = new URL(login.headers.location as string).searchParams.get('state') ?? '';
    addResponse(
      'refused',
      await agent.get(`/auth/wps/callback?error=access_denied&error_description=no&state=${state}`).expect(401),
    );
    addResponse('logout', await agent.get('/auth/wps/logout').expect(302));
    addResponse('signed out', await agent.get('/api/me').expect(401));
    expectNoLeak(errors);
  });
});
