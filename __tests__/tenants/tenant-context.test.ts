import request from 'supertest';
import { wpsEvents, wpsTenants, type WpsTenants } from '../../lib';
import { signedInAgent, signWpsEvent, startFakeWps, type FakeWps } from '../../lib/testing';
import { CLIENT_ID, CLIENT_SECRET, createTestApp, REDIRECT_URI, type TestApp } from '../helpers/app';

// req.wps.tenant with wpsAuth({ tenants }), in this process, on Express 4 and 5: the signed-in user's company.

const CREDENTIALS = { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET };

let fake: FakeWps;
let tenants: WpsTenants;

function appWith(options: { tenants?: WpsTenants } = {}): TestApp {
  return createTestApp(fake, options, {
    routes: (app) => {
      app.post('/wps/events', wpsEvents({ ...CREDENTIALS, tenants }));
      app.get('/tenant', async (req, res, next) => {
        try {
          const tenant = req.wps.tenant;
          if (tenant === undefined) return void res.json({ tenant: null });
          const { data } = await tenant.api.get<{ data: unknown }>('/v7/fake/whoami');
          res.json({ companyId: tenant.companyId, whoami: data.data });
        } catch (err) {
          next(err);
        }
      });
    },
  });
}

beforeAll(async () => {
  fake = await startFakeWps({ ...CREDENTIALS, redirectUris: [REDIRECT_URI], marketplace: { companies: ['co-1'] } });
  tenants = wpsTenants({ ...CREDENTIALS, baseUrl: fake.url, ticketWaitMs: 500 });
});
afterAll(() => fake.close());

describe('req.wps.tenant', () => {
  it('is the signed-in user’s company client, calling WPS as that company', async () => {
    const t = appWith({ tenants });
    const ticket = { app_id: CLIENT_ID, app_ticket: fake.marketplace.currentTicket() };
    await request(t.app)
      .post('/wps/events')
      .send(signWpsEvent({ topic: 'kso.app.ticket', operation: 'create', data: ticket }, CREDENTIALS))
      .expect(200, { code: 0 });
    const agent = await signedInAgent(request.agent(t.app), fake, { user: { companyId: 'co-1' } });
    await agent.get('/tenant').expect(200, { companyId: 'co-1', whoami: { kind: 'tenant', company_id: 'co-1' } });
    expect(tenants.client('co-1')).toBe(tenants.client('co-1'));
  });

  it('is undefined when signed out, when the profile has no company, and without tenants', async () => {
    const t = appWith({ tenants });
    await request(t.app).get('/tenant').expect(200, { tenant: null });
    const noCompany = await signedInAgent(request.agent(t.app), fake, { user: { companyId: '' } });
    await noCompany.get('/tenant').expect(200, { tenant: null });
    const without = appWith();
    const signedIn = await signedInAgent(request.agent(without.app), fake, { user: { companyId: 'co-1' } });
    await signedIn.get('/tenant').expect(200, { tenant: null });
  });

  it('passes the company’s failures to the error handler', async () => {
    const t = appWith({ tenants });
    const agent = await signedInAgent(request.agent(t.app), fake, { user: { companyId: 'co-unknown' } });
    // WPS refuses the company; the push asked for then goes nowhere (this fake has no event URL).
    const res = await agent.get('/tenant').expect(503);
    expect(res.body).toMatchObject({ code: 'ticket_unavailable', status: 503 });
    expect(res.body.message).toMatch(/^WPS refused the stored app ticket, and no newer one arrived/);
  });
});
