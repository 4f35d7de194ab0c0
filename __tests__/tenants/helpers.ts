import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type ErrorRequestHandler } from 'express';
import {
  wpsEvents,
  wpsTenants,
  type WpsEvent,
  type WpsEventsOptions,
  type WpsTenants,
  type WpsTenantsOptions,
} from '../../lib';
import { startFakeWps, type FakeWps, type FakeWpsOptions } from '../../lib/testing';
import { memoryLogger } from '../helpers/app';

export const ISV_ID = 'isv-app-id-2210';
export const ISV_SECRET = 'isv-app-secret-DO-NOT-LEAK-8c41d7';
export const ISV = { clientId: ISV_ID, clientSecret: ISV_SECRET };

/** One hook call, as the app saw it. */
export interface HookCall {
  hook: string;
  companyId: string;
  version: string | undefined;
}

/** A running marketplace app in this process, on the fake WPS, and what it saw. */
export interface IsvApp {
  fake: FakeWps;
  tenants: WpsTenants;
  /** e.g. `http://127.0.0.1:1234`. */
  base: string;
  /** Its `wpsEvents({ tenants })` URL. */
  eventUrl: string;
  logger: ReturnType<typeof memoryLogger>;
  hooks: HookCall[];
  /** Events the app's own handler of `kso.app.ticket` saw. */
  appTickets: WpsEvent[];
  /** GET `path` on the app: status and JSON body. */
  get(path: string): Promise<{ status: number; body: Record<string, unknown> }>;
  close(): Promise<void>;
}

/** Every response the app gave (status and text), for leak scans. */
export const responses: string[] = [];

const onError: ErrorRequestHandler = (err: { status?: number; code?: string; message?: string }, _req, res, _next) => {
  res.status(err.status ?? 500).json({ code: err.code, message: err.message });
};

/** The app: `wpsEvents({ tenants })`, a route calling WPS as a company, and one reading its status. */
function buildApp(tenants: WpsTenants, events: Partial<WpsEventsOptions>, appTickets: WpsEvent[]) {
  const app = express();
  app.post(
    '/wps/events',
    wpsEvents({ ...ISV, tenants, ...events, on: { 'kso.app.ticket': (event) => void appTickets.push(event) } }),
  );
  app.get('/call/:company', async (req, res, next) => {
    try {
      const { data } = await tenants.client(req.params.company).api.get('/v7/fake/whoami');
      res.json(data);
    } catch (err) {
      next(err);
    }
  });
  app.get('/status/:company', async (req, res, next) => {
    try {
      res.json({ status: await tenants.status(req.params.company) });
    } catch (err) {
      next(err);
    }
  });
  app.use(onError);
  return app;
}

/** Start the fake (marketplace mode) and the app; the fake pushes to the app's event URL. */
export async function startIsvApp(
  setup: { fake?: FakeWpsOptions; tenants?: Partial<WpsTenantsOptions>; events?: Partial<WpsEventsOptions> } = {},
): Promise<IsvApp> {
  const fake = await startFakeWps({ ...ISV, ...setup.fake });
  const logger = memoryLogger();
  const hooks: HookCall[] = [];
  const hook = (name: string) => (companyId: string, info: { version: string | undefined }) =>
    void hooks.push({ hook: name, companyId, version: info.version });
  const tenants = wpsTenants({
    ...ISV,
    baseUrl: fake.url,
    logger,
    ticketWaitMs: 2000,
    onInstall: hook('install'),
    onUninstall: hook('uninstall'),
    onEnable: hook('enable'),
    onDisable: hook('disable'),
    ...setup.tenants,
  });
  const appTickets: WpsEvent[] = [];
  const server = http.createServer(buildApp(tenants, { logger, ...setup.events }, appTickets));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  fake.marketplace.setEventUrls([`${base}/wps/events`]);
  const get = async (path: string) => {
    const res = await fetch(`${base}${path}`, { headers: { connection: 'close' } });
    const text = await res.text();
    responses.push(`${res.status} ${text}`);
    return { status: res.status, body: JSON.parse(text) as Record<string, unknown> };
  };
  const close = async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await fake.close();
  };
  return { fake, tenants, base, eventUrl: `${base}/wps/events`, logger, hooks, appTickets, get, close };
}
