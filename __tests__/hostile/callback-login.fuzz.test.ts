import express from 'express';
import fc from 'fast-check';
import { safeReturnTo } from '../../lib/express/return-to';
import { CLIENT_ID, CLIENT_SECRET, createTestApp, REDIRECT_URI, type TestApp } from '../helpers/app';
import { ENCODINGS, encodePart, pct, type Encoding } from './helpers/encode';
import { check, OPEN_REDIRECT_PAYLOADS, runs, SAFE_PATH, staysOnOrigin, trickyString } from './helpers/fuzz';
import { watchForCrashes, type CrashWatch } from './helpers/guards';
import { header, listen, rawGet, sessionCookieOf, type LocalServer, type RawResponse } from './helpers/raw-http';
import { note } from '../helpers/notes';
import { useFakeWps } from '../helpers/fake-wps';

const CALLBACK = '/auth/wps/callback';
const LOGIN = '/auth/wps/login';
const LOGOUT = '/auth/wps/logout';
const PRINTABLE = /^[\x21-\x7e]+$/;

const fake = useFakeWps({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUris: [REDIRECT_URI] });
let fakePort: number;
let t: TestApp;
let app: LocalServer;
let crashes: CrashWatch;
/** `req.query` exactly as Express parsed it for the last login/callback/logout request (undefined: never parsed). */
const seen: { query?: Record<string, unknown> } = {};
const lastQuery = (): Record<string, unknown> | undefined => seen.query;

beforeAll(async () => {
  crashes = watchForCrashes();
  fakePort = Number(new URL(fake.url).port);
  t = createTestApp(fake);
  // The fixture app behind one recording middleware: the oracle reads the query the way the library read it.
  const outer = express();
  outer.use((req, _res, next) => {
    if (req.path === CALLBACK || req.path === LOGIN || req.path === LOGOUT) seen.query = req.query;
    next();
  });
  outer.use(t.app);
  app = await listen(outer);
});

afterAll(async () => {
  crashes.stop();
  await app.close();
});

afterEach(() => {
  expect(crashes.rejections).toEqual([]);
  expect(crashes.exceptions).toEqual([]);
  // No generated key may have reached Object.prototype (qs's `__proto__[x]`, `constructor[prototype][x]`).
  const probe = {} as Record<string, unknown>;
  expect([probe.code, probe.state, probe.error, probe.returnTo]).toEqual([undefined, undefined, undefined, undefined]);
});

function bodyJson(res: RawResponse): { code?: string } {
  try {
    return JSON.parse(res.body) as { code?: string };
  } catch {
    return {};
  }
}

async function sessionOf(
  cookie: string,
): Promise<{ tokens?: unknown; pending?: { state: string; returnTo: string }[] } | null> {
  const res = await rawGet(app.port, '/test/session', { Cookie: cookie });
  return (JSON.parse(res.body) as { wps: { tokens?: unknown; pending?: { state: string; returnTo: string }[] } | null })
    .wps;
}

interface Login {
  cookie: string;
  state: string;
  /** The WPS authorize URL the login redirected to. */
  location: string;
}

async function startLogin(query: Buffer | string = ''): Promise<{ res: RawResponse; login?: Login }> {
  const target = Buffer.concat([Buffer.from(LOGIN), typeof query === 'string' ? Buffer.from(query) : query]);
  const res = await rawGet(app.port, target);
  const cookie = sessionCookieOf(res);
  const location = header(res, 'location');
  if (res.status !== 302 || cookie === undefined || location === undefined) return { res };
  return { res, login: { cookie, location, state: new URL(location).searchParams.get('state') ?? '' } };
}

/** The browser's visit to WPS: the fake answers with a redirect back carrying a real code. */
async function codeFromFake(location: string): Promise<string> {
  const url = new URL(location);
  const res = await rawGet(fakePort, `${url.pathname}${url.search}`);
  return new URL(header(res, 'location') ?? 'missing:').searchParams.get('code') ?? '';
}

// ---------------------------------------------------------------------------------------------------------------
// Generators

type Value =
  | { kind: 'live-state' }
  | { kind: 'real-code' }
  | { kind: 'near-state'; how: 'suffix' | 'prefix' | 'case' | 'truncate' | 'encoded'; extra: string }
  | { kind: 'text'; text: string };

interface Param {
  key: string;
  keyEncoding: Encoding;
  value: Value;
  encoding: Encoding;
}

const SPECIAL_TEXT = [
  '',
  ' ',
  '+',
  '%',
  '%%',
  '%zz',
  '%0',
  '%00',
  '%0d%0a',
  '%E2%80%AE',
  '%C0%AF',
  '&',
  '=',
  '#',
  '?',
  '[]',
  '[0]',
  ';',
  '\u0000',
  '\r\n',
  '\t',
  '\uFEFF',
  '\uD800',
  '\uDFFF',
  'ｃｏｄｅ',
  '../',
  '..%2f',
  'null',
  'undefined',
  'true',
  '0',
  '[object Object]',
  '{}',
  '__proto__',
  'constructor',
  'toString',
  'kso_ac_',
  'kso_ac_x.y',
  'access_denied',
];

const TEXT = fc.oneof(
  { weight: 3, arbitrary: fc.string({ maxLength: 30 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 30 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 8 }) },
  { weight: 2, arbitrary: fc.constantFrom(...SPECIAL_TEXT) },
  { weight: 2, arbitrary: trickyString(30) },
  { weight: 1, arbitrary: fc.constantFrom(...OPEN_REDIRECT_PAYLOADS) },
  { weight: 1, arbitrary: fc.integer({ min: 2000, max: 9000 }).map((n) => 'c'.repeat(n)) },
  {
    weight: 1,
    arbitrary: fc.string({
      unit: fc.integer({ min: 0, max: 31 }).map((c) => String.fromCharCode(c)),
      minLength: 1,
      maxLength: 5,
    }),
  },
);

const KEY = fc.oneof(
  { weight: 10, arbitrary: fc.constantFrom('code', 'state', 'error', 'error_description', 'returnTo') },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      'code[]',
      'state[]',
      'code[0]',
      'state[a]',
      'error[]',
      'code[toString]',
      '__proto__',
      '__proto__[code]',
      '__proto__[state]',
      'constructor[prototype][error]',
      'hasOwnProperty',
      'toString',
      'Code',
      'STATE',
      'code ',
      '%63ode',
      'st%61te',
      '',
      'code.x',
      'state]',
      '[state]',
    ),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 8 }) },
);

/** The live state, spoiled: one character more or less, another case, or fully percent-encoded (still live). */
const NEAR_STATE: fc.Arbitrary<Value> = fc.record({
  kind: fc.constant('near-state' as const),
  how: fc.constantFrom('suffix' as const, 'prefix' as const, 'case' as const, 'truncate' as const, 'encoded' as const),
  extra: fc.oneof(
    fc.constantFrom('x', ' ', '\u0000', '%00', '=', '\n', '..'),
    fc.string({ minLength: 1, maxLength: 4 }),
  ),
});

const VALUE: fc.Arbitrary<Value> = fc.oneof(
  { weight: 3, arbitrary: fc.constant({ kind: 'live-state' as const }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'real-code' as const }) },
  { weight: 2, arbitrary: NEAR_STATE },
  { weight: 5, arbitrary: TEXT.map((text) => ({ kind: 'text' as const, text })) },
);

const PARAM: fc.Arbitrary<Param> = fc.record({
  key: KEY,
  keyEncoding: fc.constantFrom<Encoding>('raw', 'raw', 'pct'),
  value: VALUE,
  encoding: fc.constantFrom(...ENCODINGS),
});

type Skeleton = 'code+state' | 'state+code' | 'code' | 'state' | 'error+state' | 'none';

interface CallbackCase {
  /** The well-formed callback the case starts from, before `extras` and `tail` spoil it. */
  skeleton: Skeleton;
  code: Value;
  codeEncoding: Encoding;
  state: Value;
  stateEncoding: Encoding;
  /** Extra parameters, each with a number: 0 (one time in 20) sends the key alone, without `=`. */
  extras: [Param, number][];
  extrasFirst: boolean;
  tail: string;
  /** Whether to fetch a real code from the fake first (so `real-code` values are live). */
  withRealCode: boolean;
}

const SKELETON_ENCODINGS: Encoding[] = ['pct', 'pct', 'pct', 'pct', 'plus', 'double', 'raw'];

const CALLBACK_CASE: fc.Arbitrary<CallbackCase> = fc.record({
  skeleton: fc.constantFrom<Skeleton>(
    'code+state',
    'code+state',
    'code+state',
    'state+code',
    'code',
    'state',
    'error+state',
    'none',
  ),
  code: fc.oneof(
    { weight: 3, arbitrary: fc.constant<Value>({ kind: 'real-code' }) },
    { weight: 2, arbitrary: TEXT.map((text): Value => ({ kind: 'text', text })) },
  ),
  codeEncoding: fc.constantFrom(...SKELETON_ENCODINGS),
  state: fc.oneof(
    { weight: 4, arbitrary: fc.constant<Value>({ kind: 'live-state' }) },
    { weight: 2, arbitrary: NEAR_STATE },
    { weight: 1, arbitrary: TEXT.map((text): Value => ({ kind: 'text', text })) },
  ),
  stateEncoding: fc.constantFrom(...SKELETON_ENCODINGS),
  extras: fc.oneof(
    { weight: 2, arbitrary: fc.constant<[Param, number][]>([]) },
    {
      weight: 3,
      arbitrary: fc.array(fc.tuple(PARAM, fc.integer({ min: 0, max: 19 })), { minLength: 1, maxLength: 4 }),
    },
  ),
  extrasFirst: fc.boolean(),
  tail: fc.constantFrom('', '', '', '', '&', '&&', '=', '&=', '#', '#frag', '?', '%', ';', '&state', '&code', '&error'),
  withRealCode: fc.constantFrom(true, true, false),
});

function skeletonParams(c: CallbackCase): [Param, number][] {
  const code: [Param, number] = [{ key: 'code', keyEncoding: 'raw', value: c.code, encoding: c.codeEncoding }, 1];
  const state: [Param, number] = [{ key: 'state', keyEncoding: 'raw', value: c.state, encoding: c.stateEncoding }, 1];
  const error: [Param, number] = [
    { key: 'error', keyEncoding: 'raw', value: { kind: 'text', text: 'access_denied' }, encoding: 'pct' },
    1,
  ];
  switch (c.skeleton) {
    case 'code+state':
      return [code, state];
    case 'state+code':
      return [state, code];
    case 'code':
      return [code];
    case 'state':
      return [state];
    case 'error+state':
      return [error, state];
    case 'none':
      return [];
  }
}

function flipCase(s: string): string {
  const i = s.search(/[A-Za-z]/);
  if (i === -1) return `${s}x`;
  const c = s.charAt(i);
  return s.slice(0, i) + (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase()) + s.slice(i + 1);
}

function valueText(v: Value, state: string, code: string | undefined): string {
  switch (v.kind) {
    case 'live-state':
      return state;
    case 'real-code':
      return code ?? 'kso_ac_not.issued';
    case 'text':
      return v.text;
    case 'near-state':
      switch (v.how) {
        case 'suffix':
          return state + v.extra;
        case 'prefix':
          return v.extra + state;
        case 'case':
          return flipCase(state);
        case 'truncate':
          return state.slice(0, -Math.max(1, v.extra.length));
        case 'encoded':
          // Every byte percent-encoded: decodes back to the live state.
          return [...Buffer.from(state)].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
      }
  }
}

function buildQuery(params: [Param, number][], tail: string, state: string, code: string | undefined): Buffer {
  const parts = params.map(([p, bareness]) => {
    const key = encodePart(p.key, p.keyEncoding);
    if (bareness === 0) return key;
    const text = valueText(p.value, state, code);
    // Already percent-encoded near-states go on the wire as they are.
    const value =
      p.value.kind === 'near-state' && p.value.how === 'encoded' ? Buffer.from(text) : encodePart(text, p.encoding);
    return Buffer.concat([key, Buffer.from('='), value]);
  });
  const joined: Buffer[] = [];
  parts.forEach((part, i) => joined.push(...(i === 0 ? [part] : [Buffer.from('&'), part])));
  return Buffer.concat([Buffer.from('?'), ...joined, Buffer.from(tail)]);
}

/** What the callback must do with query `q`, given the session's live `state` and the real `code` WPS issued. */
function expectedCallback(
  q: Record<string, unknown>,
  state: string,
  code: string | undefined,
): { status: number; errorCode?: string; exchanges: string | undefined } {
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const stateIsLive = str(q.state) === state;
  if (q.error !== undefined) {
    return stateIsLive
      ? { status: 401, errorCode: 'access_denied', exchanges: undefined }
      : { status: 400, errorCode: 'state_mismatch', exchanges: undefined };
  }
  const given = str(q.code);
  if (given === undefined || given.length > 2048 || !PRINTABLE.test(given)) {
    return { status: 400, errorCode: 'invalid_callback', exchanges: undefined };
  }
  if (!stateIsLive) return { status: 400, errorCode: 'state_mismatch', exchanges: undefined };
  if (given === code) return { status: 302, exchanges: given };
  return { status: 400, errorCode: 'wps_rejected', exchanges: given };
}

// ---------------------------------------------------------------------------------------------------------------

describe('callback fuzzing (real HTTP, raw bytes)', () => {
  it('never 5xx, never a token call without the live state, never off-origin, never tokens for a bad callback', async () => {
    const n = runs(500);
    const tally = {
      success: 0,
      rejectedByWps: 0,
      stateMismatch: 0,
      invalidCallback: 0,
      accessDenied: 0,
      refusedByNode: 0,
    };
    const ran = await check(
      'callback: generated query strings',
      n,
      fc.asyncProperty(CALLBACK_CASE, async (c) => {
        const { login } = await startLogin();
        if (login === undefined) throw new Error('login did not start');
        const code = c.withRealCode ? await codeFromFake(login.location) : undefined;
        const params = c.extrasFirst ? [...c.extras, ...skeletonParams(c)] : [...skeletonParams(c), ...c.extras];
        const query = buildQuery(params, c.tail, login.state, code);
        const callsBefore = fake.tokenRequests().length;
        delete seen.query;

        const res = await rawGet(app.port, Buffer.concat([Buffer.from(CALLBACK), query]), { Cookie: login.cookie });
        const calls = fake.tokenRequests().slice(callsBefore);

        expect(res.status).toBeGreaterThanOrEqual(200);
        expect(res.status).toBeLessThan(500);
        const location = header(res, 'location');
        if (location !== undefined) expect(staysOnOrigin(location)).toBe(true);
        // The pre-callback session never holds tokens: success moves them to a regenerated session.
        expect((await sessionOf(login.cookie))?.tokens).toBeUndefined();

        const parsed = lastQuery();
        if (parsed === undefined) {
          // Node's HTTP parser refused the request line before Express saw it.
          expect([400, 414, 431]).toContain(res.status);
          expect(calls).toHaveLength(0);
          tally.refusedByNode++;
          return;
        }
        const want = expectedCallback(parsed, login.state, code);
        expect({ status: res.status, code: bodyJson(res).code }).toEqual({ status: want.status, code: want.errorCode });
        expect(calls.map((c) => c.form.code)).toEqual(want.exchanges === undefined ? [] : [want.exchanges]);
        const newCookie = sessionCookieOf(res);
        if (want.status === 302) {
          tally.success++;
          expect(location).toBe('/');
          expect(newCookie).toBeDefined();
          expect((await sessionOf(newCookie as string))?.tokens).toMatchObject({
            accessToken: expect.stringMatching(/^fake_at_/),
          });
        } else {
          expect(newCookie).toBeUndefined();
          const key = {
            wps_rejected: 'rejectedByWps',
            state_mismatch: 'stateMismatch',
            invalid_callback: 'invalidCallback',
            access_denied: 'accessDenied',
          } as const;
          tally[key[want.errorCode as keyof typeof key]]++;
        }
      }),
    );
    note(`[hostile] callback outcomes: ${JSON.stringify(tally)}`);
    expect(ran).toBe(n);
    // Every branch of the callback was reached, or the property proves less than it claims.
    for (const count of Object.values(tally)) expect(count).toBeGreaterThan(0);
  }, 60_000);
});

const RETURN_TO_TEXT = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...OPEN_REDIRECT_PAYLOADS) },
  { weight: 3, arbitrary: trickyString(40) },
  { weight: 1, arbitrary: fc.webPath() },
  { weight: 4, arbitrary: SAFE_PATH },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 30 }) },
  { weight: 1, arbitrary: fc.webUrl() },
);

interface LoginCase {
  returnTo: string;
  encoding: Encoding;
  shape: 'single' | 'repeated' | 'array' | 'object' | 'absent';
  junk: [string, string][];
}

const LOGIN_CASE: fc.Arbitrary<LoginCase> = fc.record({
  returnTo: RETURN_TO_TEXT,
  encoding: fc.constantFrom(...ENCODINGS),
  shape: fc.constantFrom<LoginCase['shape']>(
    'single',
    'single',
    'single',
    'single',
    'single',
    'repeated',
    'array',
    'object',
    'absent',
  ),
  junk: fc.array(fc.tuple(KEY, TEXT), { maxLength: 3 }),
});

function loginQuery(c: LoginCase): Buffer {
  const value = encodePart(c.returnTo, c.encoding);
  const rt = (key: string) => Buffer.concat([Buffer.from(`${key}=`), value]);
  const parts: Buffer[] = [];
  if (c.shape === 'single') parts.push(rt('returnTo'));
  if (c.shape === 'repeated') parts.push(rt('returnTo'), Buffer.from('returnTo=/safe'));
  if (c.shape === 'array') parts.push(rt('returnTo[]'));
  if (c.shape === 'object') parts.push(rt('returnTo[href]'));
  for (const [k, v] of c.junk) parts.push(Buffer.from(`${pct(k)}=${pct(v.slice(0, 200))}`));
  const joined: Buffer[] = [];
  parts.forEach((part, i) => joined.push(...(i === 0 ? [part] : [Buffer.from('&'), part])));
  return Buffer.concat([Buffer.from('?'), ...joined]);
}

describe('login, callback and logout with a generated returnTo', () => {
  it('always redirects to WPS with a fresh state, and lands (after login and after logout) only on this origin', async () => {
    const n = runs(150);
    let keptAsGiven = 0;
    const ran = await check(
      'login/logout: generated returnTo',
      n,
      fc.asyncProperty(LOGIN_CASE, async (c) => {
        const callsBefore = fake.tokenRequests().length;
        delete seen.query;
        const { res, login } = await startLogin(loginQuery(c));
        expect(res.status).toBeLessThan(500);
        expect(fake.tokenRequests().length).toBe(callsBefore);
        const parsed = lastQuery();
        if (parsed === undefined) {
          expect([400, 414, 431]).toContain(res.status);
          return;
        }
        const given = parsed.returnTo;
        expect(login).toBeDefined();
        const { cookie, location, state } = login as Login;
        const auth = new URL(location);
        expect(`${auth.origin}${auth.pathname}`).toBe(`${fake.url}/oauth2/auth`);
        expect(state).toMatch(/^[A-Za-z0-9_-]{43}$/);

        const pending = (await sessionOf(cookie))?.pending ?? [];
        expect(pending.map((p) => p.state)).toEqual([state]);
        const stored = pending[0]?.returnTo as string;
        expect(stored === '/' || stored === given).toBe(true);
        expect(staysOnOrigin(stored)).toBe(true);
        if (typeof given !== 'string' || !staysOnOrigin(given)) expect(stored).toBe('/');
        if (stored === given && given !== '/') keptAsGiven++;

        // Finish the sign-in: the callback lands where the login said, on this origin.
        const code = await codeFromFake(location);
        const done = await rawGet(app.port, `${CALLBACK}?code=${pct(code)}&state=${state}`, { Cookie: cookie });
        expect(done.status).toBe(302);
        expect(header(done, 'location')).toBe(stored);
        const signedIn = sessionCookieOf(done) as string;

        // Logout takes the same hostile returnTo and must land on this origin too.
        const bye = await rawGet(app.port, Buffer.concat([Buffer.from(LOGOUT), loginQuery(c)]), { Cookie: signedIn });
        expect(bye.status).toBe(302);
        const landed = header(bye, 'location') as string;
        expect(staysOnOrigin(landed)).toBe(true);
        expect(landed).toBe(safeReturnTo(parsed.returnTo) ?? '/');
      }),
    );
    note(`[hostile] login returnTo kept as given in ${keptAsGiven}/${n} runs`);
    expect(ran).toBe(n);
    expect(keptAsGiven).toBeGreaterThan(n / 20);
  }, 60_000);
});
