import { readFileSync } from 'node:fs';
import path from 'node:path';
import { redisEventDedupe, redisRefreshLock, redisTenantStore, RefreshLockUnavailableError } from '../../lib';
import { startFakeWps, signWpsEvent, type FakeWps } from '../../lib/testing';
import { APP_ID, APP_KEY, CREDENTIALS, postJson } from '../events/helpers';
import {
  removeDir,
  send,
  signInAt,
  startEventInstance,
  startInstance,
  transpileLib,
  uniquePrefix,
  type EventInstance,
  type Instance,
} from '../redis/helpers';
import { createMatrixClient, type ClientPackage, type MatrixClient, type Target } from './clients';

export type Topology = 'single' | 'cluster';

/** A client whose Redis a test can make stop answering (connections open, nothing answered). */
export interface Stallable {
  client: MatrixClient;
  stall(): void;
  unstall(): void;
  close(): Promise<void>;
}

/** What a topology gives the matrix. */
export interface TopologySetup {
  target(): Target;
  /** A connected client of `pkg` whose Redis the test can stall. */
  stallable(pkg: ClientPackage): Promise<Stallable>;
  /** Remove what a combination wrote under `prefix` (nothing to do on a Cluster that is thrown away). */
  cleanUp(prefix: string): Promise<void>;
}

export const CLIENTS: { name: string; pkg: ClientPackage }[] = [
  { name: 'node-redis 5', pkg: 'redis5' },
  { name: 'node-redis 6', pkg: 'redis6' },
  { name: 'ioredis 5', pkg: 'ioredis5' },
  { name: 'ioredis 6', pkg: 'ioredis6' },
];

// The session store of each combination. connect-redis 9, 10 and 11 call node-redis's option shapes (an ioredis
// client fails the first session save with "ERR syntax error"); 8 is the newest that accepts ioredis.
const STORES: Record<ClientPackage, Record<Topology, string>> = {
  redis5: { single: 'connect-redis', cluster: 'connect-redis10' },
  redis6: { single: 'connect-redis11', cluster: 'connect-redis11' },
  ioredis5: { single: 'connect-redis8', cluster: 'connect-redis8' },
  ioredis6: { single: 'connect-redis8', cluster: 'connect-redis8' },
};

const ROOT = path.resolve(__dirname, '../..');
const NODE_MAJOR = Number(process.versions.node.split('.')[0]);

/** The connect-redis package of a combination: 10 and 11 need Node 22, so on Node 20 they give way to 9. */
function storeOf(pkg: ClientPackage, topology: Topology): { store: string; version: string } {
  let store = STORES[pkg][topology];
  if (NODE_MAJOR < 22 && (store === 'connect-redis10' || store === 'connect-redis11')) store = 'connect-redis';
  const manifest = readFileSync(path.join(ROOT, 'node_modules', store, 'package.json'), 'utf8');
  return { store, version: (JSON.parse(manifest) as { version: string }).version };
}

/** The log lines of `instances` that report a Redis helper falling back to this process. */
function fallbacks(instances: { logs: string[] }[]): string[] {
  return instances.flatMap((i) => i.logs).filter((line) => line.includes('unavailable'));
}

/** One combination (client package × topology × session store), as each of its tests sees it. */
interface Combination {
  pkg: ClientPackage;
  setup: TopologySetup;
  fake: FakeWps;
  /** The key prefix of this test. */
  prefix: string;
  /** The environment of a forked instance. */
  env(): Record<string, string>;
  /** Stop `stoppable` when the test ends. */
  track(...stoppable: { stop(): Promise<void> }[]): void;
}

async function oneRefreshPerStorm(c: Combination): Promise<void> {
  const instances: Instance[] = await Promise.all([startInstance(c.env()), startInstance(c.env())]);
  c.track(...instances);
  const [a, b] = instances.map((i) => `http://127.0.0.1:${i.port}`) as [string, string];
  const cookie = await signInAt(a);
  c.fake.expireAccessTokens();
  expect((await send(`${b}/test/expire`, { method: 'POST', cookie })).body).toEqual({ expired: true });
  c.fake.reset();

  const replies = await Promise.all(
    Array.from({ length: 20 }, (_, i) => send(`${i % 2 === 0 ? a : b}/protected`, { cookie })),
  );

  expect(replies.map((r) => r.status)).toEqual(Array(20).fill(200));
  expect(c.fake.tokenRequests('refresh_token')).toHaveLength(1);
  expect(new Set(replies.map((r) => r.body.token)).size).toBe(1);
  expect(new Set(replies.map((r) => r.body.pid))).toEqual(new Set(instances.map((i) => i.child.pid)));
  expect(fallbacks(instances)).toEqual([]);
}

async function eachEventHandledOnce(c: Combination): Promise<void> {
  const env = { ...c.env(), APP_ID, APP_KEY };
  const instances: EventInstance[] = await Promise.all([startEventInstance(env), startEventInstance(env)]);
  c.track(...instances);
  const bodies = [0, 1, 2, 3, 4].map((n) =>
    signWpsEvent({ topic: 'topic.ok', operation: 'create', data: { n } }, CREDENTIALS),
  );

  const replies = await Promise.all(bodies.flatMap((body) => instances.map((i) => postJson(i.url, body))));

  expect(replies.map((r) => [r.status, r.body])).toEqual(replies.map(() => [200, { code: 0 }]));
  const handled = instances.flatMap((i) => i.handled.map((h) => (h.data as { n: number }).n));
  expect(handled.sort()).toEqual([0, 1, 2, 3, 4]);
  expect(fallbacks(instances)).toEqual([]);
}

async function notConnectedFailsAtOnce(c: Combination): Promise<void> {
  const idle = createMatrixClient(c.pkg, c.setup.target());
  c.track({ stop: () => Promise.resolve(idle.close()) });
  // A long bound: failing well before it shows that nothing waited on a command.
  const lock = redisRefreshLock(idle.client, { prefix: c.prefix, commandTimeoutMs: 5000 });
  const dedupe = redisEventDedupe(idle.client, { prefix: c.prefix, commandTimeoutMs: 5000 });
  const before = idle.state();
  const started = Date.now();
  await expect(lock.acquire('s', 5000)).rejects.toThrow(
    'the Redis client of the refresh lock is not ready (not connected or reconnecting)',
  );
  await expect(dedupe.claim('e', 5000)).rejects.toThrow(
    'the Redis client of the event dedupe is not ready (not connected or reconnecting)',
  );
  expect(Date.now() - started).toBeLessThan(1000);
  // Nothing was sent: a command would have started connecting a lazy ioredis client.
  expect(idle.state()).toBe(before);
  await idle.connect();
  expect(await lock.acquire('s', 5000)).not.toBeNull();
}

async function stalledRedisCostsTheTimeout(c: Combination): Promise<void> {
  const stallable = await c.setup.stallable(c.pkg);
  c.track({ stop: () => stallable.close() });
  const lock = redisRefreshLock(stallable.client.client, { prefix: c.prefix, commandTimeoutMs: 200 });
  const dedupe = redisEventDedupe(stallable.client.client, { prefix: c.prefix, commandTimeoutMs: 200 });
  stallable.stall();
  const started = Date.now();
  await expect(lock.acquire('s', 5000)).rejects.toThrow(
    new RefreshLockUnavailableError("Redis did not answer the refresh lock's SET NX within 200 ms"),
  );
  await expect(dedupe.claim('e', 5000)).rejects.toThrow("Redis did not answer the event dedupe's SET NX within 200 ms");
  expect(Date.now() - started).toBeLessThan(1500);
  stallable.unstall();
  expect(await lock.acquire('after', 5000)).not.toBeNull();
}

/**
 * The marketplace tenant store through this client: two clients (two instances) share a ticket, a company's state,
 * token and refusal, the per-company claim; an older ticket or state never overwrites a newer one. On a Cluster the
 * scripts that touch several keys of one company work because those keys share a hash tag.
 */
async function tenantStoreShared(c: Combination): Promise<void> {
  const [one, two] = [createMatrixClient(c.pkg, c.setup.target()), createMatrixClient(c.pkg, c.setup.target())];
  c.track({ stop: () => Promise.resolve(one.close()) }, { stop: () => Promise.resolve(two.close()) });
  await Promise.all([one.connect(), two.connect()]);
  const [a, b] = [one, two].map((m) => redisTenantStore(m.client, { prefix: `${c.prefix}tenants:` }));
  if (a === undefined || b === undefined) throw new Error('no store');

  expect(await a.putTicket('ticket-2', 200, 60_000)).toBe(true);
  expect(await b.putTicket('ticket-1', 100, 60_000)).toBe(false);
  expect(await b.getTicket()).toEqual(expect.objectContaining({ value: 'ticket-2', time: 200 }));

  await a.putToken('acme', 'token-a', 60_000);
  expect((await b.getCompany('acme')).token).toBe('token-a');
  await b.dropToken('acme', 'token-other');
  expect((await a.getCompany('acme')).token).toBe('token-a');
  await b.dropToken('acme', 'token-a');
  expect((await a.getCompany('acme')).token).toBeUndefined();

  await a.putToken('acme', 'token-b', 60_000);
  await a.putRefusal('acme', 'digest', 60_000);
  expect(await b.putState('acme', { state: 'disabled', time: 300 }, 60_000)).toBe(true);
  expect(await a.putState('acme', { state: 'enabled', time: 299 }, 60_000)).toBe(false);
  expect(await a.getCompany('acme')).toEqual({ state: { state: 'disabled', time: 300 } });

  expect(await a.claim('fetch:acme', 'owner-a', 60_000)).toBe(true);
  expect(await b.claim('fetch:acme', 'owner-b', 60_000)).toBe(false);
  await b.release('fetch:acme', 'owner-b');
  expect(await b.claim('fetch:acme', 'owner-b', 60_000)).toBe(false);
  await a.release('fetch:acme', 'owner-a');
  expect(await b.claim('fetch:acme', 'owner-b', 60_000)).toBe(true);
}

/**
 * Every client package on `topology`: two forked app instances per combination share sessions (connect-redis),
 * the refresh lock and the event dedupe through one client each; plus what each client does when Redis is unusable.
 */
export function describeCombinations(topology: Topology, setup: TopologySetup): void {
  let libDir: string | undefined;
  let fake: FakeWps;

  beforeAll(async () => {
    [libDir, fake] = await Promise.all([
      transpileLib(),
      startFakeWps({ rotateRefreshTokens: true, tokenLatencyMs: 200 }),
    ]);
  });
  afterAll(async () => {
    await fake?.close();
    await removeDir(libDir);
  });

  describe.each(CLIENTS)('$name', ({ pkg }) => {
    const { store, version } = storeOf(pkg, topology);
    let c: Combination;
    let running: { stop(): Promise<void> }[] = [];

    beforeEach(() => {
      fake.reset();
      const prefix = uniquePrefix();
      const target = setup.target();
      const redisEnv = 'nodes' in target ? { REDIS_CLUSTER_NODES: target.nodes.join(',') } : { REDIS_URL: target.url };
      c = {
        pkg,
        setup,
        fake,
        prefix,
        env: () => ({
          WPS_LIB_DIR: libDir as string,
          FAKE_URL: fake.url,
          KEY_PREFIX: prefix,
          REDIS_CLIENT: pkg,
          SESSION_STORE: store,
          ...redisEnv,
        }),
        track: (...stoppable) => running.push(...stoppable),
      };
    });
    afterEach(async () => {
      await Promise.all(running.map((i) => i.stop()));
      running = [];
      await setup.cleanUp(c.prefix);
    });

    it(`with connect-redis ${version}: 20 concurrent requests of one expired session make one refresh`, () =>
      oneRefreshPerStorm(c));
    it('five events, each delivered to both instances at once, are each handled once', () => eachEventHandledOnce(c));
    it('a client not connected yet: both helpers fail at once, without sending a command', () =>
      notConnectedFailsAtOnce(c));
    it('a Redis that stops answering: every command is abandoned after commandTimeoutMs', () =>
      stalledRedisCostsTheTimeout(c));
    it('the tenant store of marketplace apps is shared by two clients', () => tenantStoreShared(c));
  });
}
