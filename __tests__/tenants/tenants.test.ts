import { WpsAuthError, WpsTenantError, wpsTenants, type WpsTenantStore } from '../../lib';
import { createTestClock, sendWpsEvent, type TestClock } from '../../lib/testing';
import { Haystack } from '../hostile/helpers/secrets';
import { ISV, ISV_SECRET, responses, startIsvApp, type IsvApp } from './helpers';

// wpsTenants in one process (the in-process store), with wpsEvents({ tenants }) at the app's event URL, against the
// fake WPS in its marketplace mode. Each describe starts its own fake and app.

const TICKET = 'kso.app.ticket';
const STATUS = 'kso.developer.application.authorization.status';

/** The company a call answered for, or the error code. */
async function callAs(t: IsvApp, company: string): Promise<string | undefined> {
  const { body } = await t.get(`/call/${company}`);
  return (body.data as { company_id?: string } | undefined)?.company_id ?? (body.code as string);
}

describe('app tickets', () => {
  let t: IsvApp;
  beforeEach(async () => {
    t = await startIsvApp({ fake: { marketplace: { companies: ['acme'] } }, tenants: { ticketWaitMs: 400 } });
  });
  afterEach(() => t.close());

  it('a pushed ticket is stored and used; the app’s own handler still runs; the ticket is never logged', async () => {
    await t.fake.marketplace.pushTicket();
    expect(t.appTickets.map((e) => e.operation)).toEqual(['update']);
    expect(await callAs(t, 'acme')).toBe('acme');
    expect(t.fake.marketplace.ticketRequests()).toEqual([]);
    expect(t.fake.marketplace.tenantTokenRequests()[0]?.form['app_ticket']).toBe(t.fake.marketplace.currentTicket());
    expect(t.logger.lines).toContain('info express-wps-oauth: app ticket stored {}');
    expect(t.logger.lines.join('\n')).not.toContain(t.fake.marketplace.currentTicket());
  });

  it('create and update both store; an older ticket never replaces a newer one', async () => {
    const now = Math.floor(Date.now() / 1000);
    const send = (operation: string, app_ticket: string, time: number) =>
      sendWpsEvent(t.eventUrl, { topic: TICKET, operation, time, data: { app_id: ISV.clientId, app_ticket } }, ISV);
    expect(await send('create', 'ticket-new', now)).toEqual({ status: 200, body: { code: 0 } });
    expect(await send('update', 'ticket-old', now - 60)).toEqual({ status: 200, body: { code: 0 } });
    expect(t.logger.lines).toContain('info express-wps-oauth: app ticket ignored: a later one is stored {}');
    await t.get('/call/acme');
    // The fake takes only its own newest ticket: the stored one was refused, so a push was asked for.
    expect(t.fake.marketplace.tenantTokenRequests()[0]?.form['app_ticket']).toBe('ticket-new');
  });

  it('ignores, with a warning, ticket events it cannot use: another app, no ticket, another operation', async () => {
    const send = (operation: string, data: object) => sendWpsEvent(t.eventUrl, { topic: TICKET, operation, data }, ISV);
    await send('update', { app_id: 'another-app', app_ticket: 'not-ours' });
    await send('update', { app_id: ISV.clientId });
    await send('delete', { app_id: ISV.clientId, app_ticket: 'deleted' });
    expect(t.logger.lines.filter((l) => l.startsWith('warn'))).toEqual([
      'warn express-wps-oauth: app ticket event ignored: its app_id is not this app’s clientId {"operation":"update"}',
      'warn express-wps-oauth: app ticket event ignored: its data has no app_ticket string {"operation":"update"}',
      'warn express-wps-oauth: app ticket event ignored: its operation is not create or update {"operation":"delete"}',
    ]);
    expect(t.appTickets).toHaveLength(3);
    await t.get('/call/acme');
    expect(t.fake.marketplace.ticketRequests()).toHaveLength(1);
  });

  it('no ticket and no push: 503 ticket_unavailable after ticketWaitMs, and one ticket/active a minute', async () => {
    t.fake.marketplace.losePushes(true);
    const started = Date.now();
    const first = await t.get('/call/acme');
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
    expect(first).toEqual({
      status: 503,
      body: {
        code: 'ticket_unavailable',
        message:
          "no app ticket arrived within ticketWaitMs (400 ms). WPS pushes it to the app's event URL as " +
          'kso.app.ticket: mount wpsEvents({ tenants }) there, make sure WPS can reach it, and subscribe the URL to ' +
          'kso.app.ticket (developer console → 事件与回调)',
      },
    });
    expect((await t.get('/call/acme')).status).toBe(503);
    expect(t.fake.marketplace.ticketRequests()).toHaveLength(1);
  });

  it('a push asked for after a refusal that never arrives: 503 ticket_unavailable naming the stale ticket', async () => {
    await t.fake.marketplace.pushTicket();
    t.fake.marketplace.rotateTicket();
    t.fake.marketplace.losePushes(true);
    const { status, body } = await t.get('/call/acme');
    expect(status).toBe(503);
    expect(body.message).toMatch(/^WPS refused the stored app ticket, and no newer one arrived within ticketWaitMs/);
    expect(t.fake.marketplace.ticketRequests()).toHaveLength(1);
  });

  it('an app token WPS refuses is replaced once; refused again, the call fails with wps_rejected', async () => {
    t.fake.queueTokenFault({ status: 200, body: { access_token: 'unknown-app-token', expires_in: 7200 } }, 2);
    const { status, body } = await t.get('/call/acme');
    // The app tokens of the faults are unknown to the fake: ticket/active answers 401 to both.
    expect(status).toBe(400);
    expect(body).toEqual({
      code: 'wps_rejected',
      message: 'WPS refused the app access token for the app ticket push request (HTTP 401), a new one too',
    });
    expect(t.fake.marketplace.ticketRequests().map((r) => r.headers.authorization)).toEqual([
      'Bearer unknown-app-token',
      'Bearer unknown-app-token',
    ]);
    // A minute has not passed: no second ask, and the call waits for a push in vain.
    expect((await t.get('/call/acme')).body.code).toBe('ticket_unavailable');
  });
});

describe('tenant tokens', () => {
  let t: IsvApp;
  let clock: TestClock;
  beforeEach(async () => {
    clock = createTestClock();
    t = await startIsvApp({
      fake: { clock, marketplace: { companies: ['acme', 'globex'] } },
      tenants: { clock, refreshSkewSeconds: 60 },
      events: { clock },
    });
    await t.fake.marketplace.pushTicket();
  });
  afterEach(() => t.close());

  it('are cached until expires_in minus the skew, then fetched again', async () => {
    expect(await t.tenants.client('acme').getTenantAccessToken()).toMatch(/^fake_at_/);
    await t.tenants.client('acme').getTenantAccessToken();
    expect(t.fake.marketplace.tenantTokenRequests('acme')).toHaveLength(1);
    clock.advance((7200 - 61) * 1000);
    await t.tenants.client('acme').getTenantAccessToken();
    expect(t.fake.marketplace.tenantTokenRequests('acme')).toHaveLength(1);
    clock.advance(2000);
    await t.tenants.client('acme').getTenantAccessToken();
    expect(t.fake.marketplace.tenantTokenRequests('acme')).toHaveLength(2);
  });

  it('one fetch for concurrent callers of one company, one per company', async () => {
    t.fake.setOptions({ tokenLatencyMs: 100 });
    const tokens = await Promise.all(
      ['acme', 'globex', 'acme', 'globex', 'acme'].map((id) => t.tenants.client(id).getTenantAccessToken()),
    );
    expect(new Set(tokens).size).toBe(2);
    expect(t.fake.marketplace.tenantTokenRequests('acme')).toHaveLength(1);
    expect(t.fake.marketplace.tenantTokenRequests('globex')).toHaveLength(1);
  });

  it('a 401 drops the token, fetches another and retries once; a second 401 is a WpsApiError', async () => {
    expect(await callAs(t, 'acme')).toBe('acme');
    t.fake.marketplace.expireTenantTokens('acme');
    expect(await callAs(t, 'acme')).toBe('acme');
    expect(t.fake.marketplace.tenantTokenRequests('acme')).toHaveLength(2);
    t.fake.queueApiFault({ status: 401, body: { code: 40100001, msg: 'invalid_token' } }, 2);
    const { status, body } = await t.get('/call/acme');
    expect(status).toBe(502);
    expect(body).toEqual({
      code: 'wps_api_error',
      message:
        'WPS refused the access token for GET /v7/fake/whoami even after a refresh: invalid_token (HTTP 401, code 40100001)',
    });
    expect(t.fake.marketplace.tenantTokenRequests('acme')).toHaveLength(3);
  });

  it('a refusal with a new ticket too is wps_rejected, and not retried with that ticket', async () => {
    const client = t.tenants.client('initech');
    const err = await client.getTenantAccessToken().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WpsAuthError);
    expect(err).toMatchObject({ code: 'wps_rejected', status: 400, wpsCode: 40000003, wpsMsg: 'invalid_grant' });
    expect((err as Error).message).toBe(
      'WPS refused the tenant token for company initech with a newly pushed app ticket too: the ticket may be stale ' +
        '(are pushes reaching the event URL?) or the company may have removed the app (rejected the tenant token ' +
        'request: invalid_grant (HTTP 400, code 40000003))',
    );
    expect(t.fake.marketplace.tenantTokenRequests('initech')).toHaveLength(2);
    expect(t.fake.marketplace.ticketRequests()).toHaveLength(1);
    // Again with the same ticket: refused at once, without calling WPS or asking for a push.
    const again = await client.getTenantAccessToken().catch((e: unknown) => e);
    expect(again).toMatchObject({ code: 'wps_rejected' });
    expect((again as Error).message).toContain('(refused earlier with the same ticket)');
    expect(t.fake.marketplace.tenantTokenRequests('initech')).toHaveLength(2);
    // A new ticket, and the company installed: it is tried again.
    await t.fake.marketplace.install('initech');
    expect(await client.getTenantAccessToken()).toMatch(/^fake_at_/);
  });

  it('the token endpoint failing is the caller’s WpsAuthError (wps_unavailable)', async () => {
    t.fake.queueTokenFault({ status: 503 });
    expect(await t.get('/call/acme')).toEqual({
      status: 502,
      body: { code: 'wps_unavailable', message: 'WPS answered the tenant token request with HTTP 503' },
    });
    expect(await callAs(t, 'acme')).toBe('acme');
  });

  it('client() gives one client per company; a bad company id is a TypeError', async () => {
    const acme = t.tenants.client('acme');
    expect(t.tenants.client('acme')).toBe(acme);
    expect(acme.companyId).toBe('acme');
    expect(Object.isFrozen(acme)).toBe(true);
    const message =
      "express-wps-oauth: tenants.client(companyId) expects the company's id (data.company_id), a non-empty string " +
      'of at most 256 characters';
    for (const bad of ['', 'x'.repeat(257), 42, undefined]) {
      expect(() => t.tenants.client(bad as string)).toThrow(new TypeError(message));
    }
    await expect(t.tenants.status('')).rejects.toThrow(message.replace('client(', 'status('));
  });
});

describe('install states', () => {
  let t: IsvApp;
  beforeEach(async () => {
    t = await startIsvApp({ fake: { marketplace: { companies: ['acme'] } } });
    await t.fake.marketplace.pushTicket();
  });
  afterEach(() => t.close());

  it('follow the events, run the hooks with the version, and stop calls without asking WPS', async () => {
    expect((await t.get('/status/acme')).body.status).toBe('unknown');
    expect(await callAs(t, 'acme')).toBe('acme');
    await t.fake.marketplace.uninstall('acme');
    expect((await t.get('/status/acme')).body.status).toBe('uninstalled');
    const before = t.fake.requests.length;
    expect(await t.get('/call/acme')).toEqual({
      status: 403,
      body: {
        code: 'tenant_not_installed',
        message: 'company acme has removed the app (the last install-state event said so); WPS was not called',
      },
    });
    expect(t.fake.requests).toHaveLength(before);
    await t.fake.marketplace.install('acme', { version: '3.1.0' });
    expect(await callAs(t, 'acme')).toBe('acme');
    await t.fake.marketplace.disable('acme');
    const err = await t.tenants
      .client('acme')
      .getTenantAccessToken()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WpsTenantError);
    expect(err).toMatchObject({ code: 'tenant_not_installed', status: 403, companyId: 'acme' });
    expect((err as Error).message).toBe(
      'company acme has disabled the app (the last install-state event said so); WPS was not called',
    );
    await t.fake.marketplace.enable('acme');
    expect(await t.tenants.status('acme')).toBe('enabled');
    expect(t.hooks).toEqual([
      { hook: 'uninstall', companyId: 'acme', version: '1.0.0' },
      { hook: 'install', companyId: 'acme', version: '3.1.0' },
      { hook: 'disable', companyId: 'acme', version: '3.1.0' },
      { hook: 'enable', companyId: 'acme', version: '3.1.0' },
    ]);
    expect(t.logger.lines).toContain(
      'info express-wps-oauth: company uninstalled {"companyId":"acme","version":"1.0.0"}',
    );
  });

  it('a re-delivery runs no hook again; an older event changes nothing', async () => {
    const push = await t.fake.marketplace.uninstall('acme');
    expect(await t.fake.marketplace.redeliver(push, t.eventUrl)).toEqual({ status: 200, body: { code: 0 } });
    const older = Math.floor(Date.now() / 1000) - 30;
    const data = { company_id: 'acme', app_id: ISV.clientId, version: '1.0.0' };
    await sendWpsEvent(t.eventUrl, { topic: STATUS, operation: 'create', time: older, data }, ISV);
    expect(t.hooks.map((h) => h.hook)).toEqual(['uninstall']);
    expect(await t.tenants.status('acme')).toBe('uninstalled');
    expect(t.logger.lines).toContain(
      'info express-wps-oauth: install-state event ignored: a later one is stored {"companyId":"acme","operation":"create"}',
    );
  });

  it('ignores events it cannot use, with a warning', async () => {
    const send = (operation: string, data: object) => sendWpsEvent(t.eventUrl, { topic: STATUS, operation, data }, ISV);
    await send('create', { app_id: ISV.clientId });
    await send('upgrade', { company_id: 'acme', app_id: ISV.clientId });
    await send('delete', { company_id: 'acme', app_id: 'another-app' });
    expect(t.logger.lines.filter((l) => l.startsWith('warn'))).toEqual([
      'warn express-wps-oauth: install-state event ignored: unknown operation, or no company_id in its data {"operation":"create"}',
      'warn express-wps-oauth: install-state event ignored: unknown operation, or no company_id in its data {"operation":"upgrade"}',
      'warn express-wps-oauth: install-state event ignored: its app_id is not this app’s clientId {"operation":"delete"}',
    ]);
    expect(await t.tenants.status('acme')).toBe('unknown');
    expect(t.hooks).toEqual([]);
  });
});

describe('a hook that fails', () => {
  it('answers 500, keeps the state, and runs again on the re-delivery', async () => {
    let fail = true;
    const calls: string[] = [];
    const t = await startIsvApp({
      tenants: {
        onUninstall: (companyId) => {
          calls.push(companyId);
          if (fail) throw new Error('the app’s database is down');
        },
      },
    });
    try {
      const push = await t.fake.marketplace.uninstall('acme');
      expect(await push.answered).toEqual({ status: 500, body: { error: 'handler_failed' } });
      expect(await t.tenants.status('acme')).toBe('uninstalled');
      fail = false;
      expect(await t.fake.marketplace.redeliver(push, t.eventUrl)).toEqual({ status: 200, body: { code: 0 } });
      expect(calls).toEqual(['acme', 'acme']);
    } finally {
      await t.close();
    }
  });
});

describe('a tenant store that fails', () => {
  it('makes calls 503 store_unavailable (logged once, without the reason’s details) and events 500', async () => {
    const broken = new Error('connect ECONNREFUSED 10.0.0.1:6379 password=hunter2');
    const fail = () => Promise.reject(broken);
    const store: WpsTenantStore = {
      getTicket: fail,
      putTicket: fail,
      getCompany: fail,
      putState: fail,
      putToken: fail,
      dropToken: fail,
      putRefusal: fail,
      claim: fail,
      release: fail,
    };
    const t = await startIsvApp({ tenants: { store } });
    try {
      for (let i = 0; i < 2; i++) {
        expect(await t.get('/call/acme')).toEqual({
          status: 503,
          body: {
            code: 'store_unavailable',
            message: 'the tenant store is unavailable (Error); nothing was asked of WPS: try again',
          },
        });
      }
      await expect((await t.fake.marketplace.pushTicket()).answered).resolves.toEqual({
        status: 500,
        body: { error: 'handler_failed' },
      });
      expect(t.logger.lines.filter((l) => l.includes('tenant store unavailable'))).toHaveLength(1);
      expect(t.logger.lines.join('\n')).not.toContain('hunter2');
      expect(t.fake.requests.filter((r) => r.path.startsWith('/oauth2/'))).toEqual([]);
    } finally {
      await t.close();
    }
  });
});

describe('what the tenants show', () => {
  it('no ticket, tenant token, app token or APPKEY in any response, error or log line of these suites', async () => {
    const t = await startIsvApp({ fake: { marketplace: { companies: ['acme'] } } });
    try {
      await t.get('/call/acme');
      t.fake.marketplace.rotateTicket();
      t.fake.marketplace.expireTenantTokens();
      await t.get('/call/acme');
      await t.get('/call/unknown-co');
      const err = await wpsTenants({ ...ISV, baseUrl: t.fake.url, ticketWaitMs: 1 })
        .client('acme')
        .getTenantAccessToken()
        .catch((e: unknown) => e);
      const haystack = new Haystack();
      responses.forEach((r, i) => haystack.add(`response ${i}`, r));
      t.logger.lines.forEach((l, i) => haystack.add(`log ${i}`, l));
      haystack.addError('error', err);
      expect(haystack.count('response')).toBeGreaterThan(20);
      const secrets = [...t.fake.marketplace.secrets(), ISV_SECRET];
      expect(secrets.length).toBeGreaterThan(4);
      expect(haystack.leaks(secrets)).toEqual([]);
    } finally {
      await t.close();
    }
  });
});
