import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startFakeWps, type FakeWps } from '../../lib/testing';
import {
  connectRedis,
  describeRedis,
  removeDir,
  send,
  signInAt,
  startInstance,
  transpileLib,
  uniquePrefix,
  waitFor,
  type Instance,
  type Redis,
  type Reply,
} from './helpers';

// A Redis blip right after WPS rotated a refresh token (issue: "a refresh must survive a Redis blip"). Two app
// processes share sessions (connect-redis) and the refresh lock on a Redis this file starts itself, so that it can
// refuse writes — `CONFIG SET min-replicas-to-write 1` makes every write fail with NOREPLICAS while reads work, as
// during a failover — or drop every connection, without disturbing the other suites' Redis.

/** A free loopback port. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** One throwaway redis-server on loopback (no persistence); resolves once it accepts connections. */
async function startRedisServer(): Promise<{ url: string; stop(): Promise<void> }> {
  const [port, dir] = await Promise.all([freePort(), mkdtemp(path.join(os.tmpdir(), 'wps-redis-blip-'))]);
  const child: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolve, reject) => {
    let seen = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      seen += chunk.toString('utf8');
      if (seen.includes('Ready to accept connections')) resolve();
    });
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`redis-server exited (code ${String(code)})`)));
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    url: `redis://127.0.0.1:${port}`,
    async stop() {
      child.kill('SIGTERM');
      await exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

describeRedis('a Redis blip right after WPS rotated the refresh token', () => {
  let libDir: string | undefined;
  let fake: FakeWps;
  let server: { url: string; stop(): Promise<void> } | undefined;
  let admin: Redis;
  let instances: Instance[] = [];

  beforeAll(async () => {
    [libDir, fake, server] = await Promise.all([transpileLib(), startFakeWps(), startRedisServer()]);
    admin = await connectRedis(server.url);
  });
  afterAll(async () => {
    await Promise.all(instances.map((i) => i.stop()));
    await admin?.close();
    await server?.stop();
    await fake?.close();
    await removeDir(libDir);
  });
  beforeEach(() => fake.reset());
  afterEach(async () => {
    await admin.configSet('min-replicas-to-write', '0');
    await Promise.all(instances.map((i) => i.stop()));
    instances = [];
  });

  async function startTwo(): Promise<[string, string]> {
    const env = { WPS_LIB_DIR: libDir as string, REDIS_URL: (server as { url: string }).url, FAKE_URL: fake.url };
    const prefix = uniquePrefix();
    instances = await Promise.all([0, 1].map(() => startInstance({ ...env, KEY_PREFIX: prefix })));
    return instances.map((i) => `http://127.0.0.1:${i.port}`) as [string, string];
  }

  /**
   * Sign in on A, expire the access token in the store, and send a protected request to A, which refreshes; WPS's
   * answer is held for 300 ms. Resolves once the refresh request has reached the fake WPS, with the cookie and the
   * request's reply to come.
   */
  async function refreshingOnA(a: string): Promise<{ cookie: string; refreshing: Promise<Reply> }> {
    const cookie = await signInAt(a);
    expect((await send(`${a}/test/expire`, { method: 'POST', cookie })).body).toEqual({ expired: true });
    fake.queueTokenFault({ delayMs: 300 });
    const refreshing = send(`${a}/protected`, { cookie });
    await waitFor(() => fake.tokenRequests('refresh_token').length === 1);
    return { cookie, refreshing };
  }

  /** Refuse every write from now on, and resolve once A's first write after WPS's answer has failed. */
  async function refuseWritesUntilAFails(): Promise<void> {
    await admin.configSet('min-replicas-to-write', '1');
    await waitFor(() => instances[0]?.logs.some((l) => l.includes('retrying while holding the lock')) ?? false, 10_000);
  }

  /** Every token the fake issued or received, for the leak check. */
  function tokensSeen(): string[] {
    const values = fake.requests.flatMap((r) => [r.form.refresh_token, r.headers.authorization?.toString()]);
    return values.filter((v): v is string => typeof v === 'string').map((v) => v.replace(/^Bearer /, ''));
  }

  function expectNoTokenInLogs(): void {
    const logs = instances.flatMap((i) => i.logs).join('\n');
    for (const token of tokensSeen()) expect(logs).not.toContain(token);
  }

  it('writes refused for 2 s after WPS answered: the refresh is kept, and the other instance serves it', async () => {
    const [a, b] = await startTwo();
    const { cookie, refreshing } = await refreshingOnA(a);
    // The refresher's first write after WPS's answer fails; it retries while holding the lock.
    await refuseWritesUntilAFails();
    // Real time: a two-second outage is the scenario itself.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    await admin.configSet('min-replicas-to-write', '0');

    const first = await refreshing;
    expect(first.status).toBe(200);
    const onB = await send(`${b}/protected`, { cookie });
    expect(onB.status).toBe(200);
    expect(onB.body.token).toBe(first.body.token);
    // One refresh at WPS, never a refused one: the rotated pair survived.
    expect(fake.tokenRequests('refresh_token')).toHaveLength(1);
    expect(instances[0]?.logs.some((l) => l.includes('saved the session after a refresh, after retrying'))).toBe(true);
    expectNoTokenInLogs();
  }, 30_000);

  it('the other instance asked during the outage answers 200 or a 5xx, never a 401, and the user stays signed in', async () => {
    const [a, b] = await startTwo();
    const { cookie, refreshing } = await refreshingOnA(a);
    await refuseWritesUntilAFails();
    const during = await Promise.all([0, 1, 2].map(() => send(`${b}/protected`, { cookie })));
    for (const reply of during) {
      expect(reply.status).not.toBe(401);
      expect([200, 502, 503, 504]).toContain(reply.status);
    }
    await admin.configSet('min-replicas-to-write', '0');

    const first = await refreshing;
    expect(first.status).toBe(200);
    const after = await send(`${b}/protected`, { cookie });
    expect([after.status, after.body.token]).toEqual([200, first.body.token]);
    expect(fake.tokenRequests('refresh_token')).toHaveLength(1);
    expectNoTokenInLogs();
  }, 30_000);

  it('a connection dropped at the write after the refresh: the write goes through once reconnected', async () => {
    const [a, b] = await startTwo();
    const { cookie, refreshing } = await refreshingOnA(a);
    // Every client connection of both instances, while WPS's answer is on its way.
    await admin.sendCommand(['CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes']);

    const first = await refreshing;
    expect(first.status).toBe(200);
    const onB = await send(`${b}/protected`, { cookie });
    expect([onB.status, onB.body.token]).toEqual([200, first.body.token]);
    expect(fake.tokenRequests('refresh_token')).toHaveLength(1);
    expectNoTokenInLogs();
  }, 30_000);
});
