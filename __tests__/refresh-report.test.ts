import diagnosticsChannel from 'node:diagnostics_channel';
import request from 'supertest';
import { createMemoryRefreshLock, WPS_REFRESH_CHANNEL, type WpsRefreshReport } from '../lib';
import { CLIENT_ID, CLIENT_SECRET, createTestApp, signIn, type TestApp } from './helpers/app';
import { useFakeWps } from './helpers/fake-wps';

type Agent = ReturnType<typeof request.agent>;

const fake = useFakeWps({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET });
let reports: WpsRefreshReport[];
const listener = (message: unknown) => reports.push(message as WpsRefreshReport);

beforeAll(() => {
  diagnosticsChannel.subscribe(WPS_REFRESH_CHANNEL, listener);
});
afterAll(() => {
  diagnosticsChannel.unsubscribe(WPS_REFRESH_CHANNEL, listener);
});
beforeEach(() => {
  reports = [];
});

async function signedIn(t: TestApp): Promise<{ agent: Agent; tokens: { accessToken: string; refreshToken: string } }> {
  const agent = request.agent(t.app);
  await signIn(agent);
  const tokens = (await agent.get('/test/session').expect(200)).body.wps.tokens;
  return { agent, tokens };
}

/** The lines the refresh outcomes wrote, without the step-by-step debug lines. */
function outcomeLines(t: TestApp): string[] {
  return t.logger.lines.filter((l) => l.includes('"outcome"'));
}

function expectNoToken(tokens: { accessToken: string; refreshToken: string }): void {
  const text = JSON.stringify(reports);
  expect(text).not.toContain(tokens.accessToken);
  expect(text).not.toContain(tokens.refreshToken);
}

describe(`refresh outcomes on the "${WPS_REFRESH_CHANNEL}" diagnostics channel and in the log`, () => {
  it('refreshed: one message and one info line for a refresh however many requests waited for it', async () => {
    const t = createTestApp(fake);
    const { agent, tokens } = await signedIn(t);
    await agent.post('/test/expire').expect(200);
    fake.setOptions({ tokenLatencyMs: 100 });
    await Promise.all(Array.from({ length: 5 }, () => agent.get('/protected').expect(200)));
    expect(fake.tokenRequests('refresh_token')).toHaveLength(1);
    expect(reports).toEqual([
      { outcome: 'refreshed', session: expect.stringMatching(/^[0-9a-f]{12}$/), rev: 2, ms: expect.any(Number) },
    ]);
    expect(outcomeLines(t)).toEqual([
      expect.stringMatching(/^info express-wps-oauth: refresh: refreshed the access token /),
    ]);
    expectNoToken(tokens);
  });

  it('adopted: an instance that lost the race takes the winner’s tokens without calling WPS', async () => {
    const lock = createMemoryRefreshLock();
    const a = createTestApp(fake, { refreshLock: lock });
    const b = createTestApp(fake, { refreshLock: lock }, { store: a.store });
    const { agent, tokens } = await signedIn(a);
    await agent.post('/test/expire').expect(200);
    const cookie = (await agent.get('/test/session')).request.cookies;
    fake.setOptions({ tokenLatencyMs: 400 });
    const first = agent
      .get('/protected')
      .expect(200)
      .then((r) => r);
    // Instance A holds the lock and waits for WPS's answer: only then does instance B load the (stale) session.
    while (fake.tokenRequests('refresh_token').length === 0) await new Promise((resolve) => setImmediate(resolve));
    const second = request(b.app).get('/protected').set('Cookie', cookie).expect(200);
    const [ra, rb] = await Promise.all([first, second]);
    expect(rb.body.token).toBe(ra.body.token);
    expect(fake.tokenRequests('refresh_token')).toHaveLength(1);
    expect(reports.map((r) => r.outcome).sort()).toEqual(['adopted', 'refreshed']);
    expect(reports.map((r) => r.rev)).toEqual([2, 2]);
    expect(outcomeLines(b)).toEqual([
      expect.stringMatching(
        /^info express-wps-oauth: refresh: another request or instance refreshed first; took over its tokens /,
      ),
    ]);
    expectNoToken(tokens);
  });

  it('signed_out: WPS rejected the refresh token — one warn line with the code', async () => {
    const t = createTestApp(fake);
    const { agent, tokens } = await signedIn(t);
    await agent.post('/test/expire').expect(200);
    fake.queueTokenFault({ status: 400, body: { code: 40000003, msg: 'invalid_grant' } });
    await agent.get('/protected').set('Accept', 'application/json').expect(401);
    expect(reports).toEqual([
      expect.objectContaining({ outcome: 'signed_out', rev: 1, code: 'wps_rejected', wpsMsg: 'invalid_grant' }),
    ]);
    expect(outcomeLines(t)).toEqual([
      expect.stringMatching(/^warn express-wps-oauth: refresh: the refresh token was refused/),
    ]);
    expectNoToken(tokens);
  });

  it('kept_old_token, then failed: WPS down while the access token is still valid, and after it expired', async () => {
    const t = createTestApp(fake);
    const { agent, tokens } = await signedIn(t);
    await agent.post('/test/expire?in=30000').expect(200);
    fake.queueTokenFault({ status: 503, body: { code: 50300001, msg: 'busy' } });
    expect((await agent.get('/protected').expect(200)).body.token).toBe(tokens.accessToken);
    await agent.post('/test/expire').expect(200);
    fake.queueTokenFault({ status: 503, body: { code: 50300001, msg: 'busy' } });
    await agent.get('/protected').set('Accept', 'application/json').expect(502);
    expect(reports.map(({ outcome, code }) => ({ outcome, code }))).toEqual([
      { outcome: 'kept_old_token', code: 'wps_unavailable' },
      { outcome: 'failed', code: 'wps_unavailable' },
    ]);
    expect(outcomeLines(t).map((l) => l.split(' ')[0])).toEqual(['warn', 'error']);
    expectNoToken(tokens);
  });

  it('publishes nothing while no refresh happens', async () => {
    const t = createTestApp(fake);
    const { agent } = await signedIn(t);
    for (let i = 0; i < 3; i++) await agent.get('/protected').expect(200);
    expect(reports).toEqual([]);
  });
});
