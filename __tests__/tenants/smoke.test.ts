import { startIsvApp, type IsvApp } from './helpers';

let t: IsvApp;
beforeAll(async () => {
  t = await startIsvApp({ fake: { marketplace: { companies: ['acme', 'globex'] } } });
});
afterAll(() => t.close());

it('cold start', async () => {
  const r = await t.get('/call/acme');
  console.log(r, t.logger.lines);
  const r2 = await t.get('/call/globex');
  console.log(r2, t.fake.marketplace.ticketRequests().length, t.fake.marketplace.tenantTokenRequests().length);
  t.fake.marketplace.rotateTicket();
  t.fake.expireAccessTokens();
  const r3 = await t.get('/call/acme');
  console.log(r3, t.logger.lines.slice(-6));
  await t.fake.marketplace.uninstall('acme');
  console.log(await t.get('/call/acme'), await t.get('/status/acme'), t.hooks);
});
