import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifyWpsEvent, type WpsEvent } from '../../lib';
import { startFakeWps, type FakeWps } from '../../lib/testing';
import { ISV } from './helpers';

// The fake WPS's marketplace mode on its own, over raw HTTP: what it accepts, refuses, issues and pushes.

/** A receiver of pushed events: verifies each with the app's credentials and answers `{code: 0}`. */
async function receiver(): Promise<{ url: string; events: WpsEvent[]; close(): Promise<void> }> {
  const events: WpsEvent[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const verified = verifyWpsEvent({ body: Buffer.concat(chunks), ...ISV });
      if (verified.kind === 'event') events.push(verified.event);
      res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"code":0}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/wps/events`;
  return { url, events, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

let fake: FakeWps;
beforeEach(async () => {
  fake = await startFakeWps({ ...ISV, marketplace: { companies: ['acme'] } });
});
afterEach(() => fake.close());

async function post(path: string, form: Record<string, string>, token?: string) {
  const res = await fetch(`${fake.url}${path}`, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-www-form-urlencoded',
      ...(token !== undefined && { Authorization: `Bearer ${token}` }),
    },
    body: new URLSearchParams(form).toString(),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const appToken = async () =>
  (
    await post('/oauth2/token', {
      grant_type: 'client_credentials',
      client_id: ISV.clientId,
      client_secret: ISV.clientSecret,
    })
  ).body.access_token as string;

const tenantForm = (company: string, ticket: string) => ({
  grant_type: 'client_credentials',
  client_id: ISV.clientId,
  client_secret: ISV.clientSecret,
  app_ticket: ticket,
  company_id: company,
});

async function whoami(token: string) {
  const res = await fetch(`${fake.url}/v7/fake/whoami`, { headers: { Authorization: `Bearer ${token}` } });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('tenant tokens', () => {
  it('are bought with the newest ticket only, for installed companies; whoami names the company', async () => {
    const ticket = fake.marketplace.currentTicket();
    const bought = await post('/oauth2/token', tenantForm('acme', ticket));
    expect(bought).toEqual({
      status: 200,
      body: { access_token: expect.stringMatching(/^fake_at_/), expires_in: 7200, token_type: 'bearer' },
    });
    expect(await whoami(bought.body.access_token as string)).toEqual({
      status: 200,
      body: { code: 0, msg: 'success', data: { kind: 'tenant', company_id: 'acme' } },
    });
    expect(await whoami(await appToken())).toMatchObject({ body: { data: { kind: 'app' } } });
    fake.marketplace.rotateTicket();
    expect(await post('/oauth2/token', tenantForm('acme', ticket))).toEqual({
      status: 400,
      body: { code: 40000003, msg: 'invalid_grant', debug: { desc: 'app_ticket is not the newest ticket pushed' } },
    });
    expect(await post('/oauth2/token', tenantForm('globex', fake.marketplace.currentTicket()))).toMatchObject({
      status: 400,
      body: { debug: { desc: 'the company has not installed the app, or has disabled it' } },
    });
  });

  it('need every parameter and the right client, and go through the token faults', async () => {
    const form = tenantForm('acme', fake.marketplace.currentTicket());
    expect((await post('/oauth2/token', { ...form, company_id: '' })).body).toMatchObject({
      msg: 'invalid_request',
      debug: { desc: "'company_id' parameter is missing" },
    });
    expect((await post('/oauth2/token', { ...form, client_secret: 'wrong' })).body).toMatchObject({
      msg: 'invalid_client',
    });
    fake.queueTokenFault({ status: 503, body: { code: 50300000, msg: 'busy' } });
    expect(await post('/oauth2/token', form)).toEqual({ status: 503, body: { code: 50300000, msg: 'busy' } });
    expect(fake.marketplace.tenantTokenRequests()).toHaveLength(3);
    expect(fake.marketplace.tenantTokenRequests('acme')).toHaveLength(2);
    expect(fake.marketplace.tenantTokenRequests('globex')).toEqual([]);
  });
});

describe('ticket/active and pushed events', () => {
  it('answers {code: 0} to the app token only, then pushes a new ticket to the event URLs in turn', async () => {
    const [one, two] = await Promise.all([receiver(), receiver()]);
    try {
      fake.marketplace.setEventUrls([one.url, two.url]);
      expect((await post('/oauth2/ticket/active', {})).status).toBe(401);
      const tenant = await post('/oauth2/token', tenantForm('acme', fake.marketplace.currentTicket()));
      expect((await post('/oauth2/ticket/active', {}, tenant.body.access_token as string)).body).toMatchObject({
        msg: 'invalid_token',
        debug: { desc: 'an app access token (client_credentials without a company) is required' },
      });
      const token = await appToken();
      for (let i = 0; i < 3; i++) {
        expect(await post('/oauth2/ticket/active', {}, token)).toEqual({
          status: 200,
          body: { code: 0, msg: 'success' },
        });
      }
      await Promise.all(fake.marketplace.pushes().map((p) => p.answered));
      const tickets = fake.marketplace.pushes().map((p) => (p.body.topic === 'kso.app.ticket' ? p.url : 'other'));
      expect(tickets).toEqual([one.url, two.url, one.url]);
      expect(two.events.map((e) => e.data)).toEqual([
        { app_id: ISV.clientId, app_ticket: expect.stringMatching(/^fake_ticket_/) },
      ]);
      expect((one.events[1]?.data as { app_ticket: string }).app_ticket).toBe(fake.marketplace.currentTicket());
      expect(fake.marketplace.ticketRequests()).toHaveLength(5);
    } finally {
      await Promise.all([one.close(), two.close()]);
    }
  });

  it('loses pushes on demand (the ticket still rotates), and pushes nothing without an event URL', async () => {
    const token = await appToken();
    const before = fake.marketplace.currentTicket();
    fake.marketplace.losePushes(true);
    await post('/oauth2/ticket/active', {}, token);
    expect(fake.marketplace.currentTicket()).not.toBe(before);
    expect(fake.marketplace.pushes().map((p) => p.url)).toEqual([undefined]);
    expect(await fake.marketplace.pushes()[0]?.answered).toBeUndefined();
    fake.marketplace.losePushes(false);
    expect((await fake.marketplace.pushTicket()).url).toBeUndefined();
  });

  it('pushes install states with company, app and version; the company’s tokens end when it leaves', async () => {
    const app = await receiver();
    try {
      fake.marketplace.setEventUrls([app.url]);
      const tenant = await post('/oauth2/token', tenantForm('acme', fake.marketplace.currentTicket()));
      const push = await fake.marketplace.uninstall('acme');
      expect(await push.answered).toEqual({ status: 200, body: { code: 0 } });
      expect((await whoami(tenant.body.access_token as string)).status).toBe(401);
      await fake.marketplace.install('globex', { version: '2.0.0' });
      await fake.marketplace.disable('globex');
      await fake.marketplace.enable('globex');
      expect(await fake.marketplace.redeliver(push, app.url)).toEqual({ status: 200, body: { code: 0 } });
      expect(app.events.map((e) => [e.topic, e.operation, e.data])).toEqual([
        [
          'kso.developer.application.authorization.status',
          'delete',
          { company_id: 'acme', app_id: ISV.clientId, version: '1.0.0' },
        ],
        [
          'kso.developer.application.authorization.status',
          'create',
          { company_id: 'globex', app_id: ISV.clientId, version: '2.0.0' },
        ],
        [
          'kso.developer.application.authorization.status',
          'disable',
          { company_id: 'globex', app_id: ISV.clientId, version: '2.0.0' },
        ],
        [
          'kso.developer.application.authorization.status',
          'enable',
          { company_id: 'globex', app_id: ISV.clientId, version: '2.0.0' },
        ],
        [
          'kso.developer.application.authorization.status',
          'delete',
          { company_id: 'acme', app_id: ISV.clientId, version: '1.0.0' },
        ],
      ]);
      expect(fake.marketplace.companies()).toEqual([
        { id: 'acme', state: 'uninstalled', version: '1.0.0' },
        { id: 'globex', state: 'enabled', version: '2.0.0' },
      ]);
      fake.reset();
      expect(fake.marketplace.pushes()).toEqual([]);
    } finally {
      await app.close();
    }
  });

  it('lists every ticket and token it issued, for leak scans', async () => {
    const token = await appToken();
    const tenant = await post('/oauth2/token', tenantForm('acme', fake.marketplace.currentTicket()));
    fake.marketplace.rotateTicket();
    expect(fake.marketplace.secrets()).toEqual(
      expect.arrayContaining([token, tenant.body.access_token, fake.marketplace.currentTicket()]),
    );
    expect(fake.marketplace.secrets().filter((s) => s.startsWith('fake_ticket_'))).toHaveLength(2);
  });

  it('refuses bad marketplace options and event URLs when they are given', async () => {
    await expect(startFakeWps({ marketplace: { companies: ['', 'x'] } })).rejects.toThrow(
      "startFakeWps: 'marketplace.companies' must be an array of non-empty strings",
    );
    expect(() => fake.marketplace.setEventUrls(['not a url'])).toThrow(
      'fake.marketplace.setEventUrls: every URL must be an absolute http(s) URL',
    );
    await expect(fake.marketplace.install('')).rejects.toThrow(
      'fake.marketplace: companyId must be a non-empty string',
    );
  });
});
