import http from 'node:http';
import fc from 'fast-check';
import { startFakeWps, type FakeWps } from '../../lib/testing';
import { CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, type TestApp } from '../helpers/app';
import { check, runs } from '../hostile/helpers/fuzz';
import { watchForCrashes, type CrashWatch } from '../hostile/helpers/guards';
import { listen, type LocalServer } from '../hostile/helpers/raw-http';
import { note } from '../helpers/notes';
import { clientApp, OWN_ORIGIN, ROUTE, sessionCount } from './helpers';

// 300 hostile bodies (random JSON, __proto__ and constructor keys, deep nesting, 2 MB, control characters, bytes
// that are not UTF-8), with mostly the right Origin and Content-Type so that they reach the body checks: every one
// gets a 4xx JSON answer of the route's table, none sets a cookie or leaves a session, nothing crashes.

const TWO_MB = 2 * 1024 * 1024;
const ANSWERS = new Set(['forbidden_origin', 'invalid_request', 'too_large', 'wps_rejected']);

let fake: FakeWps;
let t: TestApp;
let server: LocalServer;
let crashes: CrashWatch;
const tally = new Map<string, number>();

beforeAll(async () => {
  crashes = watchForCrashes();
  fake = await startFakeWps({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUris: [REDIRECT_URI] });
  t = clientApp(fake);
  server = await listen(t.app);
});
afterAll(async () => {
  crashes.stop();
  await server.close();
  await fake.close();
  note(`[client sign-in] fuzz: ${[...tally].map(([k, n]) => `${k} ${n}`).join(', ')}`);
});

interface Case {
  body: Buffer;
  contentType: string | undefined;
  origin: string | undefined;
}

interface Reply {
  status: number;
  setCookie: unknown;
  body: string;
}

/** POST one case on a fresh connection; an answer that came before the server closed the connection counts. */
function send({ body, contentType, origin }: Case): Promise<Reply> {
  const headers: Record<string, string> = { 'Content-Length': String(body.length) };
  if (contentType !== undefined) headers['Content-Type'] = contentType;
  if (origin !== undefined) headers.Origin = origin;
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1',
      port: server.port,
      path: ROUTE,
      method: 'POST',
      headers,
      agent: false,
    });
    let reply: Reply | undefined;
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        reply = { status: res.statusCode ?? 0, setCookie: res.headers['set-cookie'], body: text };
        resolve(reply);
      });
    });
    // A refused 2 MB body: the server may close the connection while the rest is still being written.
    req.on('error', (err) => (reply ? resolve(reply) : reject(err)));
    req.end(body);
  });
}

const text = (s: string) => Buffer.from(s, 'utf8');
const controlChars = fc
  .array(fc.integer({ min: 0, max: 0x1f }), { minLength: 1, maxLength: 6 })
  .map((codes) => String.fromCharCode(...codes));
const codeValue = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary', maxLength: 600 }),
  fc.tuple(fc.string({ maxLength: 20 }), controlChars).map(([a, c]) => `kso_ac_${a}${c}`),
  fc.integer(),
  fc.constant(null),
  fc.array(fc.string(), { maxLength: 3 }),
  fc.constant('x'.repeat(513)),
);
const signInLike = fc
  .record({ code: codeValue, returnTo: fc.jsonValue() }, { requiredKeys: [] })
  .map((value) => text(JSON.stringify(value)));
const protoKeys = fc
  .tuple(fc.constantFrom('__proto__', 'constructor', 'prototype', 'hasOwnProperty', 'toString'), codeValue)
  .map(([key, code]) =>
    text(
      `{"${key}": {"code": ${JSON.stringify(code)}, "prototype": {"code": "kso_ac_x"}}, "x": ${JSON.stringify(code)}}`,
    ),
  );
const deepNesting = fc
  .tuple(fc.integer({ min: 1, max: 4000 }), fc.constantFrom('[', '{"code":'))
  .map(([depth, open]) => text(open.repeat(depth) + (open === '[' ? ']' : '"x"}').repeat(depth)));
const garbage = fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes));
const huge = fc.constantFrom('{', '{"code":"').map((start) => Buffer.concat([text(start), Buffer.alloc(TWO_MB, 0x61)]));

const bodies = fc.oneof(
  { weight: 4, arbitrary: fc.jsonValue().map((value) => text(JSON.stringify(value))) },
  { weight: 4, arbitrary: signInLike },
  { weight: 2, arbitrary: protoKeys },
  { weight: 2, arbitrary: deepNesting },
  { weight: 2, arbitrary: garbage },
  { weight: 1, arbitrary: huge },
);
const contentTypes = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom('application/json', 'application/json; charset=utf-8') },
  {
    weight: 1,
    arbitrary: fc.constantFrom(undefined, 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data'),
  },
);
const origins = fc.oneof(
  { weight: 8, arbitrary: fc.constant(OWN_ORIGIN) },
  { weight: 1, arbitrary: fc.constantFrom(undefined, 'null', 'http://localhost', 'https://evil.example') },
);

it('answers 300 hostile bodies with a 4xx of its table, never a cookie, never a session', async () => {
  const cases = fc.record({ body: bodies, contentType: contentTypes, origin: origins });
  const ran = await check(
    'client sign-in bodies',
    runs(300),
    fc.asyncProperty(cases, async (c) => {
      const reply = await send(c);
      const answer = JSON.parse(reply.body) as { error?: unknown; message?: unknown };
      const error = String(answer.error);
      tally.set(error, (tally.get(error) ?? 0) + 1);
      expect(reply.status >= 400 && reply.status < 500).toBe(true);
      expect(ANSWERS.has(error)).toBe(true);
      expect(typeof answer.message).toBe('string');
      expect(reply.setCookie).toBeUndefined();
    }),
  );
  expect(ran).toBe(runs(300));
  expect(await sessionCount(t.store)).toBe(0);
  expect(t.errors).toEqual([]);
  expect([crashes.rejections, crashes.exceptions]).toEqual([[], []]);
  // Nothing reached Object.prototype.
  expect(({} as Record<string, unknown>).code).toBeUndefined();
  // Every kind of refusal came up, and the route still signs in afterwards.
  expect([...tally.keys()].sort()).toEqual(['forbidden_origin', 'invalid_request', 'too_large', 'wps_rejected']);
  const after = await send({
    body: text(JSON.stringify({ code: fake.clientCode() })),
    contentType: 'application/json',
    origin: OWN_ORIGIN,
  });
  expect(after.status).toBe(200);
});
