import path from 'node:path';
import { startFakeWps, type FakeWps } from '../../lib/testing';
import { Haystack } from '../hostile/helpers/secrets';
import {
  connectRedis,
  deleteKeys,
  describeRedis,
  keysUnder,
  removeDir,
  send,
  sessionCookie,
  startInstance,
  transpileLib,
  uniquePrefix,
  waitFor,
  type Instance,
  type Redis,
  type Reply,
} from '../redis/helpers';
import { ISV, ISV_ID, ISV_SECRET } from './helpers';

// A marketplace app as two processes sharing one Redis (fixtures/isv-instance.js), behind the fake WPS in its
// marketplace mode, which pushes events to the two event URLs in turn, like a load balancer. Each scenario builds on
// the state the previous ones left, in order; the last ones start instances of their own.

const TOKEN_KEY = 'isv-two-instances-token-key-0123456789abcdef';
const FIXTURE = path.join(__dirname, 'fixtures/isv-instance.js');

interface IsvInstance extends Instance {
  base: string;
  eventUrl: string;
}

let lib: string;
let fake: FakeWps;
let redis: Redis;
let a: IsvInstance;
let b: IsvInstance;
const prefixes: string[] = [];
const instances: IsvInstance[] = [];
const hooks: { name: string; companyId: string; pid: number }[] = [];
const replies: Reply[] = [];

async function startIsv(prefix: string, env: Record<string, string> = {}): Promise<IsvInstance> {
  const instance = await startInstance(
    { WPS_LIB_DIR: lib, FAKE_URL: fake.url, KEY_PREFIX: prefix, APP_ID: ISV_ID, APP_KEY: ISV_SECRET, ...env },
    {
      fixture: FIXTURE,
      onMessage: (msg) => {
        if (msg.hook !== undefined) hooks.push(msg.hook as (typeof hooks)[number]);
      },
    },
  );
  const base = `http://127.0.0.1:${instance.port}`;
  const started = { ...instance, base, eventUrl: `${base}/wps/events` };
  instances.push(started);
  return started;
}

/** GET on an instance, remembered for the leak scan. */
async function get(on: IsvInstance, route: string, cookie?: string): Promise<Reply> {
  const reply = await send(`${on.base}${route}`, cookie === undefined ? {} : { cookie });
  replies.push(reply);
  return reply;
}

/** `n` calls for each company, split over both instances, all at once. */
function callsOnBoth(companies: string[], n: number): Promise<Reply[]> {
  const calls: Promise<Reply>[] = [];
  for (let i = 0; i < n; i++) {
    for (const company of companies) calls.push(get(i % 2 === 0 ? a : b, `/call/${company}`));
  }
  return Promise.all(calls);
}

const companyOf = (reply: Reply) => (reply.body.whoami as { company_id?: string } | undefined)?.company_id;
const hooksFor = (name: string, companyId: string) => hooks.filter((h) => h.name === name && h.companyId === companyId);

/**
 * The hook calls `name` made for `companyId`, once at least one has been reported: an instance reports a hook over
 * IPC, which may arrive after the HTTP answer that followed it. The instance of the once-only rule then answered
 * every delivery already, so a second call would have been reported by now as well.
 */
async function reportedHooks(name: string, companyId: string): Promise<typeof hooks> {
  await waitFor(() => hooksFor(name, companyId).length > 0);
  await Promise.all([a, b].map((on) => get(on, `/status/${companyId}`)));
  return hooksFor(name, companyId);
}

describeRedis('a marketplace app on two instances sharing Redis', () => {
  beforeAll(async () => {
    lib = await transpileLib();
    redis = await connectRedis();
    fake = await startFakeWps({
      ...ISV,
      user: { companyId: 'acme' },
      marketplace: { companies: ['acme', 'globex', 'initech'] },
    });
    const prefix = uniquePrefix();
    prefixes.push(prefix);
    [a, b] = await Promise.all([startIsv(prefix, { TOKEN_KEY }), startIsv(prefix, { TOKEN_KEY })]);
    fake.marketplace.setEventUrls([a.eventUrl, b.eventUrl]);
  }, 30_000);

  afterAll(async () => {
    await Promise.all(instances.map((i) => i.stop()));
    await fake?.close();
    for (const prefix of prefixes) await deleteKeys(redis, prefix);
    redis?.destroy();
    await removeDir(lib);
  });

  it('cold start: 12 concurrent calls for two companies on both → one ticket/active, one fetch per company', async () => {
    const results = await callsOnBoth(['acme', 'globex'], 6);
    expect(results.map((r) => r.status)).toEqual(Array(12).fill(200));
    expect(results.map(companyOf)).toEqual(Array(6).fill(['acme', 'globex']).flat());
    expect(new Set(results.map((r) => r.body.pid)).size).toBe(2);
    expect(fake.marketplace.ticketRequests()).toHaveLength(1);
    expect(fake.marketplace.tenantTokenRequests('acme')).toHaveLength(1);
    expect(fake.marketplace.tenantTokenRequests('globex')).toHaveLength(1);
    expect(fake.marketplace.tenantTokenRequests('acme')[0]?.form['app_ticket']).toBe(fake.marketplace.currentTicket());
  });

  it('cached calls ask WPS for nothing', async () => {
    const before = fake.requests.filter((r) => r.path.startsWith('/oauth2/')).length;
    const results = await callsOnBoth(['acme', 'globex'], 5);
    expect(results.map(companyOf)).toEqual(Array(5).fill(['acme', 'globex']).flat());
    expect(fake.requests.filter((r) => r.path.startsWith('/oauth2/'))).toHaveLength(before);
  });

  it('50 concurrent calls for one company on both, with a 300 ms token endpoint → one fetch', async () => {
    fake.setOptions({ tokenLatencyMs: 300 });
    try {
      const results = await callsOnBoth(['initech'], 50);
      expect(results.map(companyOf)).toEqual(Array(50).fill('initech'));
    } finally {
      fake.setOptions({ tokenLatencyMs: 0 });
    }
    expect(fake.marketplace.tenantTokenRequests('initech')).toHaveLength(1);
  });

  it('a company never seen in an event is allowed, status unknown', async () => {
    expect((await get(a, '/status/initech')).body.status).toBe('unknown');
    expect((await get(b, '/status/acme')).body.status).toBe('unknown');
  });

  it('a ticket pushed to one instance is used by the other', async () => {
    const push = await fake.marketplace.pushTicket();
    const other = push.url === a.eventUrl ? b : a;
    expect(push.url).not.toBe(other.eventUrl);
    fake.marketplace.expireTenantTokens();
    const reply = await get(other, '/call/acme');
    expect(companyOf(reply)).toBe('acme');
    const requests = fake.marketplace.tenantTokenRequests('acme');
    expect(requests).toHaveLength(2);
    expect(requests[1]?.form['app_ticket']).toBe(fake.marketplace.currentTicket());
    expect(fake.marketplace.ticketRequests()).toHaveLength(1);
  });

  it('a missed push is recovered with one ticket/active, whichever instances find the ticket stale', async () => {
    fake.marketplace.rotateTicket();
    fake.marketplace.expireTenantTokens();
    const before = { acme: 2, globex: 1 };
    const results = await callsOnBoth(['acme', 'globex'], 4);
    expect(results.map(companyOf)).toEqual(Array(4).fill(['acme', 'globex']).flat());
    expect(fake.marketplace.ticketRequests()).toHaveLength(2);
    // Per company: one request refused with the stale ticket, one with the new ticket.
    expect(fake.marketplace.tenantTokenRequests('acme')).toHaveLength(before.acme + 2);
    expect(fake.marketplace.tenantTokenRequests('globex')).toHaveLength(before.globex + 2);
    expect(a.logs.concat(b.logs).filter((l) => l.includes('taking the ticket as stale'))).toHaveLength(2);
  });

  it('an uninstall delivered three times, twice at once → the hook runs once; 403 on both, WPS not called', async () => {
    const push = await fake.marketplace.uninstall('globex');
    const replies = await Promise.all([a, b].map((i) => fake.marketplace.redeliver(push, i.eventUrl)));
    expect(replies).toEqual([
      { status: 200, body: { code: 0 } },
      { status: 200, body: { code: 0 } },
    ]);
    expect(await reportedHooks('uninstall', 'globex')).toHaveLength(1);
    const tokenRequests = fake.marketplace.tenantTokenRequests('globex').length;
    for (const on of [a, b]) {
      const reply = await get(on, '/call/globex');
      expect(reply.status).toBe(403);
      expect(reply.body).toMatchObject({ code: 'tenant_not_installed', status: 403 });
      expect((await get(on, '/status/globex')).body.status).toBe('uninstalled');
    }
    expect(fake.marketplace.tenantTokenRequests('globex')).toHaveLength(tokenRequests);
  });

  it('a reinstall lets the company in again, with a new token', async () => {
    await fake.marketplace.install('globex', { version: '2.0.0' });
    expect(await reportedHooks('install', 'globex')).toHaveLength(1);
    expect((await get(b, '/status/globex')).body.status).toBe('installed');
    expect(companyOf(await get(a, '/call/globex'))).toBe('globex');
    expect(companyOf(await get(b, '/call/globex'))).toBe('globex');
  });

  it('disable stops the company on both instances; enable lets it in again', async () => {
    await fake.marketplace.disable('acme');
    for (const on of [a, b]) expect((await get(on, '/call/acme')).body.code).toBe('tenant_not_installed');
    expect((await get(a, '/status/acme')).body.status).toBe('disabled');
    await fake.marketplace.enable('acme');
    expect(await reportedHooks('disable', 'acme')).toHaveLength(1);
    expect(await reportedHooks('enable', 'acme')).toHaveLength(1);
    expect((await get(b, '/status/acme')).body.status).toBe('enabled');
    for (const on of [a, b]) expect(companyOf(await get(on, '/call/acme'))).toBe('acme');
  });

  it('req.wps.tenant: signed in on one instance (the callback on the other), the user’s company', async () => {
    const login = await get(a, '/auth/wps/login');
    const auth = await fetch(login.headers.location as string, { redirect: 'manual' });
    const back = new URL(auth.headers.get('location') as string);
    const callback = await get(b, `${back.pathname}${back.search}`, sessionCookie(login));
    expect(callback.status).toBe(302);
    const me = await get(a, '/me/tenant', sessionCookie(callback));
    expect(me.body).toMatchObject({ whoami: { kind: 'tenant', company_id: 'acme' }, user: { companyId: 'acme' } });
    expect((await get(b, '/me/tenant')).body).toMatchObject({ whoami: null, user: null });
  });

  it('req.wps.tenant is undefined for a user whose profile has no company', async () => {
    const login = await get(b, '/auth/wps/login');
    const ticket = fake.prepareSignIn({ user: { companyId: '' } });
    const auth = await fetch(login.headers.location as string, {
      redirect: 'manual',
      headers: { 'X-Fake-Wps-Sign-In': ticket },
    });
    const back = new URL(auth.headers.get('location') as string);
    const callback = await get(a, `${back.pathname}${back.search}`, sessionCookie(login));
    const me = await get(b, '/me/tenant', sessionCookie(callback));
    expect(me.body).toMatchObject({ whoami: null, user: { id: 'fake-user-1' } });
    expect(me.body.user).not.toHaveProperty('companyId');
  });

  it('keeps tickets and tokens encrypted in Redis', async () => {
    const keys = await keysUnder(redis, `${prefixes[0]}tenants:`);
    expect(keys).toEqual(expect.arrayContaining([`${prefixes[0]}tenants:ticket`]));
    const values = await Promise.all(keys.filter((k) => !k.includes(':lock:')).map((k) => redis.get(k)));
    const haystack = new Haystack();
    values.forEach((value, i) => haystack.add(`redis ${keys[i]}`, value ?? undefined));
    expect(haystack.size).toBeGreaterThan(3);
    expect(haystack.leaks(fake.marketplace.secrets())).toEqual([]);
    expect(values.some((v) => v?.includes('wpsenc:v1:'))).toBe(true);
  });

  it('a ticket that never arrives: 503 ticket_unavailable within ticketWaitMs + 2 s, one ticket/active', async () => {
    const prefix = uniquePrefix();
    prefixes.push(prefix);
    const [c, d] = await Promise.all([
      startIsv(prefix, { TICKET_WAIT_MS: '1500' }),
      startIsv(prefix, { TICKET_WAIT_MS: '1500' }),
    ]);
    fake.marketplace.losePushes(true);
    const asked = fake.marketplace.ticketRequests().length;
    const started = Date.now();
    const results = await Promise.all([c, d, c, d].map((on, i) => get(on, `/call/${i % 2 ? 'acme' : 'globex'}`)));
    const elapsed = Date.now() - started;
    expect(results.map((r) => [r.status, r.body.code])).toEqual(Array(4).fill([503, 'ticket_unavailable']));
    expect(results[0]?.body.message).toContain('subscribe the URL to kso.app.ticket');
    expect(elapsed).toBeGreaterThanOrEqual(1500);
    expect(elapsed).toBeLessThan(1500 + 2000);
    expect(fake.marketplace.ticketRequests()).toHaveLength(asked + 1);
  });

  it('shows no ticket, tenant token, app token or APPKEY in any response or log line', () => {
    const haystack = new Haystack();
    replies.forEach((r, i) => haystack.add(`reply ${i}`, JSON.stringify({ headers: r.headers, body: r.body })));
    for (const instance of instances) instance.logs.forEach((line, i) => haystack.add(`log ${i}`, line));
    expect(haystack.count('reply')).toBeGreaterThan(100);
    expect(haystack.count('log')).toBeGreaterThan(20);
    const secrets = [...fake.marketplace.secrets(), ISV_SECRET];
    expect(secrets.length).toBeGreaterThan(8);
    expect(haystack.leaks(secrets)).toEqual([]);
  });
});
