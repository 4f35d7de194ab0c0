import createDebug from 'debug';
import { format } from 'node:util';
import request from 'supertest';
import { authorize, CLIENT_ID, CLIENT_SECRET, createTestApp, REDIRECT_URI, signIn, type TestApp } from './helpers/app';
import { useFakeWps } from './helpers/fake-wps';

// Both channels are checked: the `logger` option and `DEBUG=express-wps-oauth` (the `debug` package).
// Set SHOW_LOG_LINES=1 to print what a full login + refresh + logout logs (the README quotes it).

const fake = useFakeWps({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUris: [REDIRECT_URI] });
const traced: string[] = [];
const originalLog = createDebug.log;
const originalDebugEnv = process.env.DEBUG;

/** One `debug` line as a reader sees it, without colours, timestamp or the `+12ms` suffix. */
function traceLine(args: unknown[]): string {
  return (
    format(...args)
      // eslint-disable-next-line no-control-regex
      .replace(/\u001b\[[0-9;]*m/g, '')
      .replace(/^\s*\d{4}-\d\d-\d\dT[\d:.]+Z /, '')
      .replace(/ \+\d+m?s$/, '')
      .trim()
  );
}

beforeAll(() => {
  createDebug.log = (...args: unknown[]) => traced.push(traceLine(args));
  createDebug.enable('express-wps-oauth');
});
afterAll(() => {
  createDebug.disable();
  createDebug.log = originalLog;
  // debug.enable() writes process.env.DEBUG, which would outlive this file in the Jest worker.
  if (originalDebugEnv === undefined) delete process.env.DEBUG;
  else process.env.DEBUG = originalDebugEnv;
});
beforeEach(() => {
  traced.length = 0;
});

type Agent = ReturnType<typeof request.agent>;

async function sessionInfo(
  agent: Agent,
): Promise<{ id: string; tokens?: { accessToken: string; refreshToken: string } }> {
  const res = await agent.get('/test/session').expect(200);
  return { id: res.body.id, tokens: res.body.wps?.tokens };
}

/**
 * Every value that must never reach a log: the client secret, each authorization code, state, access and refresh
 * token the fake saw or issued, and each session id. Throws if it found too few, so the check cannot pass vacuously.
 */
function secretsOf(extra: (string | undefined)[], minimum: number): string[] {
  const seen = [CLIENT_SECRET, ...extra];
  for (const r of fake.requests) {
    seen.push(r.form['code'], r.form['refresh_token'], r.query['state']);
  }
  const secrets = [...new Set(seen.filter((s): s is string => typeof s === 'string' && s.length >= 8))];
  if (secrets.length < minimum)
    throw new Error(`expected at least ${minimum} secrets to look for, found ${secrets.length}`);
  return secrets;
}

function expectNoSecret(lines: string[], secrets: string[]): void {
  for (const line of lines) {
    for (const secret of secrets) {
      if (line.includes(secret)) throw new Error(`a log line contains a secret (${secret.slice(0, 6)}…): ${line}`);
    }
  }
}

describe('a full login, refresh and logout', () => {
  let t: TestApp;
  let agent: Agent;
  const secrets: string[] = [];
  const trace: string[] = [];

  beforeAll(async () => {
    t = createTestApp(fake);
    agent = request.agent(t.app);
    const extra: (string | undefined)[] = [];
    await agent.get('/protected').set('Accept', 'text/html').expect(302);
    await signIn(agent, '?returnTo=%2Fprotected');
    const first = await sessionInfo(agent);
    await agent.get('/protected').expect(200);
    await agent.post('/test/expire').expect(200);
    await agent.get('/protected').expect(200);
    const second = await sessionInfo(agent);
    await agent.get('/auth/wps/logout').expect(302);
    const third = await sessionInfo(agent);
    extra.push(first.id, first.tokens?.accessToken, first.tokens?.refreshToken, second.id, second.tokens?.accessToken);
    extra.push(second.tokens?.refreshToken, third.id);
    // 1 secret + code + state + 2 refresh tokens + 2 access tokens + 2 session ids (login regenerates, logout too).
    secrets.push(...secretsOf(extra, 9));
    trace.push(...traced);
    if (process.env.SHOW_LOG_LINES) {
      process.stdout.write(
        `\nlogger:\n${t.logger.lines.join('\n')}\n\nDEBUG=express-wps-oauth:\n${trace.join('\n')}\n`,
      );
    }
  });

  it('logs each step once, at debug level, through the logger option', () => {
    expect(t.logger.lines).toEqual([
      expect.stringMatching(/^debug express-wps-oauth: login: redirecting to WPS \{"pending":1\}$/),
      expect.stringMatching(/^debug express-wps-oauth: callback: code exchanged \{"ms":\d+\}$/),
      expect.stringMatching(/^debug express-wps-oauth: callback: signed in \{"ms":\d+\}$/),
      expect.stringMatching(/^debug express-wps-oauth: refresh lock acquired \{"rev":1\}$/),
      expect.stringMatching(/^debug express-wps-oauth: refresh lock released \{\}$/),
      expect.stringMatching(
        /^info express-wps-oauth: refresh: refreshed the access token \{"outcome":"refreshed","session":"[0-9a-f]{12}","ms":\d+,"rev":2\}$/,
      ),
      expect.stringMatching(/^debug express-wps-oauth: logged out \{\}$/),
    ]);
  });

  it('traces the same steps under DEBUG=express-wps-oauth', () => {
    expect(trace).toEqual([
      expect.stringMatching(/^express-wps-oauth debug login: redirecting to WPS \{ pending: 1 \}$/),
      expect.stringMatching(/^express-wps-oauth debug callback: code exchanged \{ ms: \d+ \}$/),
      expect.stringMatching(/^express-wps-oauth debug callback: signed in \{ ms: \d+ \}$/),
      expect.stringMatching(/^express-wps-oauth debug refresh lock acquired \{ rev: 1 \}$/),
      expect.stringMatching(/^express-wps-oauth debug refresh lock released \{\}$/),
      expect.stringMatching(
        /^express-wps-oauth info refresh: refreshed the access token \{ outcome: 'refreshed', session: '[0-9a-f]{12}', ms: \d+, rev: 2 \}$/,
      ),
      expect.stringMatching(/^express-wps-oauth debug logged out \{\}$/),
    ]);
  });

  it('never logs the client secret, a code, a state, a token or a session id', () => {
    expect(secrets.length).toBeGreaterThanOrEqual(9);
    expectNoSecret([...t.logger.lines, ...trace], secrets);
  });
});

describe('failures', () => {
  it('refused sign-in: logs the error name only', async () => {
    const t = createTestApp(fake);
    const agent = request.agent(t.app);
    const { state, code } = await authorize(agent);
    await agent.get(`/auth/wps/callback?error=access_denied&error_description=no&state=${state}`).expect(401);
    expect(t.logger.lines).toEqual([
      expect.stringMatching(/^debug .*login/),
      'info express-wps-oauth: callback: WPS refused the sign-in {"error":"access_denied"}',
    ]);
    expect(traced[1]).toBe("express-wps-oauth info callback: WPS refused the sign-in { error: 'access_denied' }");
    expectNoSecret([...t.logger.lines, ...traced], secretsOf([code], 3));
  });

  it('a refresh WPS rejects while echoing the refresh token and secret: logged redacted', async () => {
    const t = createTestApp(fake);
    const agent = request.agent(t.app);
    await signIn(agent);
    const { id, tokens } = await sessionInfo(agent);
    const echo = `invalid_grant refresh_token=${tokens?.refreshToken} client_secret=${CLIENT_SECRET}`;
    fake.queueTokenFault({ status: 400, body: { code: 40000003, msg: echo } });
    await agent.post('/test/expire').expect(200);
    await agent.get('/protected').set('Accept', 'application/json').expect(401);

    const line = t.logger.lines.find((l) => l.includes('outcome'));
    expect(line).toMatch(
      new RegExp(
        '^warn express-wps-oauth: refresh: the refresh token was refused or has expired; the user must sign in again ' +
          '\\{"outcome":"signed_out","session":"[0-9a-f]{12}","ms":\\d+,"rev":1,"code":"wps_rejected",' +
          '"wpsMsg":"invalid_grant refresh_token=\\[redacted\\] client_secret=\\[redacted\\]"\\}$',
      ),
    );
    expect(traced).toContainEqual(
      expect.stringMatching(/^express-wps-oauth warn refresh: the refresh token .*\[redacted\]/),
    );
    expectNoSecret([...t.logger.lines, ...traced], secretsOf([id, tokens?.accessToken, tokens?.refreshToken], 6));
  });

  it('WPS down while the token is still valid: a warning with the error code, and service goes on', async () => {
    const t = createTestApp(fake);
    const agent = request.agent(t.app);
    await signIn(agent);
    const { id, tokens } = await sessionInfo(agent);
    fake.queueTokenFault({ status: 503, body: { msg: `down; got ${CLIENT_SECRET} ${tokens?.refreshToken}` } });
    await agent.post('/test/expire?in=30000').expect(200);
    const res = await agent.get('/protected').expect(200);
    expect(res.body.token).toBe(tokens?.accessToken);
    expect(t.logger.lines.filter((l) => !l.startsWith('debug '))).toEqual([
      expect.stringMatching(
        /^warn express-wps-oauth: refresh: WPS unavailable; serving the still-valid access token \{"outcome":"kept_old_token","session":"[0-9a-f]{12}","ms":\d+,"rev":1,"code":"wps_unavailable","wpsMsg":"down; got \[redacted\] \[redacted\]"\}$/,
      ),
    ]);
    expectNoSecret([...t.logger.lines, ...traced], secretsOf([id, tokens?.accessToken, tokens?.refreshToken], 6));
  });

  it('refresh lock unavailable: one error line, without the session id or a credential from the lock error', async () => {
    const lockPassword = 'lock-store-password-7c2e';
    // Lock errors may well echo the key they failed on (the session id) and the store's URL.
    const fail = (key: string) =>
      Promise.reject(
        new Error(`SET ${key} failed: connect ECONNREFUSED redis://default:${lockPassword}@127.0.0.1:6379`),
      );
    const t = createTestApp(fake, { refreshLock: { acquire: fail, release: () => Promise.resolve() } });
    const agent = request.agent(t.app);
    await signIn(agent);
    const { id, tokens } = await sessionInfo(agent);
    for (let i = 0; i < 2; i++) {
      await agent.post('/test/expire').expect(200);
      // No refresh without the lock: a 503 to retry, the tokens kept.
      expect((await agent.get('/protected').expect(503)).body.code).toBe('store_unavailable');
    }
    const outage = t.logger.lines.filter((l) => l.includes('refresh lock unavailable'));
    expect(outage).toEqual([expect.stringMatching(/^error express-wps-oauth: refresh lock unavailable; /)]);
    expect(t.logger.lines.filter((l) => l.includes('"outcome":"failed"'))).toEqual([
      expect.stringMatching(
        /^error express-wps-oauth: refresh: the refresh lock or the session store is unavailable, /,
      ),
      expect.stringMatching(/"code":"store_unavailable"/),
    ]);
    expectNoSecret([...t.logger.lines, ...traced], secretsOf([id, tokens?.accessToken, lockPassword], 6));
  });
});
