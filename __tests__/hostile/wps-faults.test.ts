import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import request from 'supertest';
import { WpsAuthError } from '../../lib';
import { authorize, CLIENT_ID, CLIENT_SECRET, createTestApp, REDIRECT_URI, signIn, type TestApp } from '../helpers/app';
import { FAULTS, SHORT_TIMEOUT_MS, type Expected, type FaultCase } from './helpers/faults';
import { eventually, watchForCrashes, type CrashWatch } from './helpers/guards';
import { startCountingProxy } from './helpers/proxy';
import { note } from '../helpers/notes';
import { useFakeWps } from '../helpers/fake-wps';

type Agent = ReturnType<typeof request.agent>;

const fake = useFakeWps({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUris: [REDIRECT_URI] });
let t: TestApp;
let crashes: CrashWatch;

beforeAll(() => {
  crashes = watchForCrashes();
});
afterAll(() => {
  crashes.stop();
});
afterEach(() => {
  expect(crashes.rejections).toEqual([]);
  expect(crashes.exceptions).toEqual([]);
});

async function sessionOf(agent: Agent) {
  return (await agent.get('/test/session').expect(200)).body as {
    id: string;
    wps: { tokens?: { accessToken: string; refreshToken: string; rev: number }; pending?: { state: string }[] } | null;
  };
}

/** The error the app's handler received last: a WpsAuthError with the expected code, status and message. */
function expectLastError(expected: Expected): void {
  const err = t.errors.at(-1);
  expect(err).toBeInstanceOf(WpsAuthError);
  const e = err as WpsAuthError;
  expect({ name: e.name, code: e.code, status: e.status, statusCode: e.statusCode, message: e.message }).toEqual({
    name: 'WpsAuthError',
    ...expected,
    statusCode: expected.status,
  });
  expect(e.expose).toBe(expected.status < 500);
}

/** The process still serves: the app answers and WPS (the fake) is reachable. */
async function expectAlive(): Promise<void> {
  await request(t.app).get('/').expect(200);
  const pair = fake.mintTokens();
  expect(pair.access_token).toMatch(/^fake_at_/);
}

describe.each(FAULTS.map((f) => [f.name, f] as const))('WPS fails the code exchange with %s', (_name, c: FaultCase) => {
  it(`answers ${c.exchange.code} ${c.exchange.status}, keeps the session as it was, and the next sign-in succeeds`, async () => {
    t = createTestApp(fake, c.options);
    const agent = request.agent(t.app);
    await signIn(agent);
    const before = await sessionOf(agent);
    const { callback, state } = await authorize(agent);
    fake.reset();
    fake.queueTokenFault(c.fault);

    const res = await agent.get(callback).expect(c.exchange.status);
    expect(res.body).toEqual({ code: c.exchange.code, status: c.exchange.status, message: c.exchange.message });
    expectLastError(c.exchange);
    expect(fake.tokenRequests('authorization_code')).toHaveLength(1);
    // Same session, same tokens; only the used state is gone.
    const after = await sessionOf(agent);
    expect(after.id).toBe(before.id);
    expect(after.wps?.tokens).toEqual(before.wps?.tokens);
    expect(after.wps?.pending?.some((p) => p.state === state) ?? false).toBe(false);
    await expectAlive();

    // WPS recovers: the next sign-in works and replaces the tokens.
    expect(await signIn(agent)).toBe('/');
    const recovered = await sessionOf(agent);
    expect(recovered.wps?.tokens?.accessToken).not.toBe(before.wps?.tokens?.accessToken);
    expect(recovered.wps?.tokens?.rev).toBe(1);
  });
});

describe.each(FAULTS.map((f) => [f.name, f] as const))('WPS fails the refresh with %s', (_name, c: FaultCase) => {
  const outcome = c.tokensAfterRefresh === 'kept' ? 'keeps the tokens' : 'removes the tokens';
  it(`answers ${c.refresh.code} ${c.refresh.status}, ${outcome}, and the next request after recovery succeeds`, async () => {
    t = createTestApp(fake, c.options);
    const agent = request.agent(t.app);
    await signIn(agent);
    await agent.post('/test/expire').expect(200);
    const before = await sessionOf(agent);
    fake.reset();
    fake.queueTokenFault(c.fault);

    const res = await agent.get('/api/error-mode').set('Accept', 'application/json').expect(c.refresh.status);
    expect(res.body).toEqual({ code: c.refresh.code, status: c.refresh.status, message: c.refresh.message });
    expectLastError(c.refresh);
    const calls = fake.tokenRequests();
    expect(calls.map((r) => [r.form.grant_type, r.form.refresh_token])).toEqual([
      ['refresh_token', before.wps?.tokens?.refreshToken],
    ]);
    const after = await sessionOf(agent);
    expect(after.id).toBe(before.id);
    await expectAlive();

    if (c.tokensAfterRefresh === 'kept') {
      expect(after.wps?.tokens).toEqual(before.wps?.tokens);
      // WPS recovers: the very next request refreshes with the same refresh token and succeeds.
      const ok = await agent.get('/protected').expect(200);
      const recovered = await sessionOf(agent);
      expect(recovered.wps?.tokens?.rev).toBe((before.wps?.tokens?.rev ?? 0) + 1);
      expect(ok.body.token).toBe(recovered.wps?.tokens?.accessToken);
    } else {
      expect(after.wps?.tokens).toBeUndefined();
      expect((await agent.get('/').expect(200)).body.authenticated).toBe(false);
      // The user signs in again and is served.
      await signIn(agent);
      await agent.get('/protected').expect(200);
    }
  });
});

describe.each(FAULTS.filter((f) => f.tokensAfterRefresh === 'kept').map((f) => [f.name, f] as const))(
  'WPS fails a refresh inside the skew window with %s',
  (_name, c: FaultCase) => {
    it('serves the still-valid access token and keeps the tokens', async () => {
      t = createTestApp(fake, c.options);
      const agent = request.agent(t.app);
      await signIn(agent);
      await agent.post('/test/expire?in=30000').expect(200);
      const before = await sessionOf(agent);
      fake.reset();
      fake.queueTokenFault(c.fault);
      const res = await agent.get('/protected').expect(200);
      expect(res.body.token).toBe(before.wps?.tokens?.accessToken);
      expect(fake.tokenRequests('refresh_token')).toHaveLength(1);
      expect((await sessionOf(agent)).wps?.tokens).toEqual(before.wps?.tokens);
      expect(t.logger.lines.some((l) => l.includes('serving the still-valid access token'))).toBe(true);
    });
  },
);

describe('bounded reads: proof on the wire (a counting TCP proxy between the library and WPS)', () => {
  it('refuses a body over maxResponseBytes as it arrives: it hangs up after ~maxResponseBytes, not at the end', async () => {
    const proxy = await startCountingProxy(fake.url);
    try {
      t = createTestApp({ ...fake, url: proxy.url }, { maxResponseBytes: 1024, timeoutMs: 10_000 });
      const agent = request.agent(t.app);
      const { callback } = await authorize(agent);
      // 100 000 bytes at one byte per millisecond: reading all of it would take 100 s.
      fake.queueTokenFault({ drip: { bytes: 100_000, intervalMs: 0 } });
      const started = Date.now();
      const res = await agent.get(callback).expect(502);
      const elapsed = Date.now() - started;
      expect(res.body.message).toBe(
        'WPS answered the code exchange with a body over 1024 bytes (maxResponseBytes); it was refused',
      );
      const sent = proxy.last('POST /oauth2/token');
      await eventually(() => sent?.connection.closedBy !== undefined);
      expect(sent?.connection.closedBy).toBe('client');
      // Headers (~150 bytes) plus just over 1024 body bytes: the other ~99 000 were never read.
      const answered = (sent?.connection.toClient ?? 0) - (sent?.toClientBefore ?? 0);
      expect(answered).toBeGreaterThan(1024);
      expect(answered).toBeLessThan(1024 + 1024);
      expect(elapsed).toBeLessThan(10_000);
    } finally {
      await proxy.close();
    }
  });

  it('stops reading a 5 MB answer near the 1 MB default limit (paced delivery: 64 KB per ms)', async () => {
    const proxy = await startCountingProxy(fake.url, { chunkBytes: 64 * 1024, delayMs: 1 });
    try {
      t = createTestApp({ ...fake, url: proxy.url });
      const agent = request.agent(t.app);
      const { callback } = await authorize(agent);
      fake.queueTokenFault({ bodyBytes: 5 * 1024 * 1024 });
      const res = await agent.get(callback).expect(502);
      expect(res.body.code).toBe('wps_unavailable');
      const sent = proxy.last('POST /oauth2/token');
      await eventually(() => sent?.connection.closedBy !== undefined);
      expect(sent?.connection.closedBy).toBe('client');
      // The library took about 1 MB and hung up while the fake still had more on offer: the proxy had received
      // more than it passed on (how far the fake got with its 5 MB by then depends on the Node version's buffers).
      const answered = (sent?.connection.toClient ?? 0) - (sent?.toClientBefore ?? 0);
      expect(sent?.connection.fromUpstream).toBeGreaterThan(answered + 64 * 1024);
      expect(answered).toBeGreaterThan(1024 * 1024);
      expect(answered).toBeLessThanOrEqual(1024 * 1024 + 3 * 64 * 1024);
    } finally {
      await proxy.close();
    }
  });

  it(`hangs up on a slow drip at timeoutMs (${SHORT_TIMEOUT_MS} ms) although bytes keep coming`, async () => {
    const proxy = await startCountingProxy(fake.url);
    try {
      t = createTestApp({ ...fake, url: proxy.url }, { timeoutMs: SHORT_TIMEOUT_MS });
      const agent = request.agent(t.app);
      await signIn(agent);
      await agent.post('/test/expire').expect(200);
      fake.queueTokenFault({ drip: { bytes: 100_000, intervalMs: 5 } });
      expect((await agent.get('/api/error-mode').expect(504)).body.code).toBe('wps_timeout');
      const sent = proxy.last('POST /oauth2/token');
      await eventually(() => sent?.connection.closedBy !== undefined);
      expect(sent?.connection.closedBy).toBe('client');
      const held = (sent?.connection.closedAt ?? Infinity) - (sent?.at ?? 0);
      expect(held).toBeGreaterThanOrEqual(SHORT_TIMEOUT_MS - 50);
      expect(held).toBeLessThan(SHORT_TIMEOUT_MS + 1000);
      // Bytes were still arriving (one per 5 ms) when it hung up: an idle timeout alone would never fire.
      const answered = (sent?.connection.toClient ?? 0) - (sent?.toClientBefore ?? 0);
      expect(answered).toBeGreaterThan(150);
      expect(answered).toBeLessThan(1000);
    } finally {
      await proxy.close();
    }
  });
});

/**
 * Two answers the fake cannot give, from a one-route server of our own: what WPS (or a proxy in front of it) might
 * send when it misbehaves badly.
 */
describe('bodies the fake cannot send', () => {
  const INFLATED = 10 * 1024 * 1024;
  const bomb = gzipSync(Buffer.from(`{"padding":"${' '.repeat(INFLATED)}"}`));
  let written = 0;

  async function withTokenServer(answer: (res: ServerResponse) => void, run: (url: string) => Promise<void>) {
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => answer(res));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      await run(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  }

  /** A pending login in the app's session, then a callback: the exchange goes to `url`. */
  async function exchangeAgainst(url: string): Promise<request.Response> {
    t = createTestApp({ ...fake, url });
    const agent = request.agent(t.app);
    const login = await agent.get('/auth/wps/login').expect(302);
    const state = new URL(login.headers.location as string).searchParams.get('state') ?? '';
    return agent.get(`/auth/wps/callback?code=kso_ac_any.code&state=${state}`);
  }

  it(`refuses a gzip bomb (${bomb.length} bytes on the wire, 10 MB inflated) at maxResponseBytes`, async () => {
    await withTokenServer(
      (res) => {
        res.writeHead(200, {
          'Content-Type': 'application/json',
          'Content-Encoding': 'gzip',
          'Content-Length': bomb.length,
        });
        res.end(bomb);
      },
      async (url) => {
        const res = await exchangeAgainst(url);
        expect(res.status).toBe(502);
        expect(res.body.message).toBe(
          'WPS answered the code exchange with a body over 1048576 bytes (maxResponseBytes); it was refused',
        );
      },
    );
  });

  it('refuses an endless chunked body (no Content-Length) and hangs up: the server stops writing', async () => {
    written = 0;
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    let hungUp: Promise<void> | undefined;
    await withTokenServer(
      (res) => {
        hungUp = new Promise((resolve) => res.once('close', () => resolve()));
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.write('{"padding":"');
        // Bounded: 1 GB at most, but only while the client keeps reading.
        const pump = () => {
          while (!res.destroyed && written < 1024 * 1024 * 1024) {
            written += chunk.length;
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
        };
        pump();
      },
      async (url) => {
        const res = await exchangeAgainst(url);
        expect(res.status).toBe(502);
        expect(res.body.code).toBe('wps_unavailable');
        // The server has seen the hang-up: it writes no more.
        await hungUp;
        note(`[hostile] endless body: the server got to write ${written} bytes before the library hung up`);
        // Socket buffers hold a few MB at most; the other ~1000 MB were never produced.
        expect(written).toBeLessThan(64 * 1024 * 1024);
      },
    );
  });
});
