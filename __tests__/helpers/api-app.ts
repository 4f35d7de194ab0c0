import express, { type ErrorRequestHandler, type RequestHandler } from 'express';
import type { WpsAuthOptions } from '../../lib';
import type { FakeWps } from '../../lib/testing';
import { createTestApp, type TestApp } from './app';
import { until } from './fake-wps';

type Handler = (req: express.Request) => Promise<unknown>;

function route(fn: Handler): RequestHandler {
  return (req, res, next) => {
    fn(req).then((body) => res.json(body), next);
  };
}

/**
 * The fixture app of `./app` plus routes that call WPS through `req.wps.api`, `req.wps.user` and
 * `req.wps.getUser()`, and a JSON error handler that records each error (in `errors`) for inspection.
 */
export function createApiTestApp(fake: FakeWps, options: WpsAuthOptions = {}): TestApp {
  const t = createTestApp(fake, options);
  const { app } = t;
  app.get(
    '/wps/ping',
    route(async (req) => {
      const res = await req.wps.api.get('/v7/ping', { params: req.query });
      return { status: res.status, data: res.data, config: JSON.stringify(res.config) };
    }),
  );
  /** `?path=` is the WPS path to GET; `&strict=1` makes axios parse JSON strictly (an invalid body throws). */
  app.get(
    '/wps/get',
    route(async (req) => {
      const strict = req.query.strict === '1';
      return (
        await req.wps.api.get(
          String(req.query.path as string),
          strict ? { responseType: 'json', transitional: { silentJSONParsing: false } } : {},
        )
      ).data;
    }),
  );
  app.post(
    '/wps/echo',
    express.json(),
    route(async (req) => (await req.wps.api.post('/v7/echo', req.body)).data),
  );
  app.get(
    '/wps/ping-twice',
    route(async (req) => {
      const [a, b] = await Promise.all([req.wps.api.get('/v7/ping'), req.wps.api.get('/v7/ping')]);
      return [a.status, b.status];
    }),
  );
  app.get(
    '/wps/cancel',
    route(async (req) => {
      const controller = new AbortController();
      // Cancel once WPS has the request (the fake answers it never), not before it is sent.
      const before = fake.apiRequests('/v7/ping').length;
      const received = () => fake.apiRequests('/v7/ping').length > before;
      const abort = () => controller.abort();
      void until(received, 'the ping at the fake').then(abort, abort);
      return (await req.wps.api.get('/v7/ping', { signal: controller.signal })).data;
    }),
  );
  app.get(
    '/wps/same-instance',
    route((req) => Promise.resolve({ same: req.wps.api === req.wps.api })),
  );
  app.get(
    '/wps/user',
    route((req) => Promise.resolve({ user: req.wps.user ?? null })),
  );
  app.get(
    '/wps/get-user',
    route(async (req) => {
      const user = await req.wps.getUser();
      return { user, stored: req.wps.user ?? null };
    }),
  );
  const onError: ErrorRequestHandler = (err, _req, res, _next) => {
    t.errors.push(err);
    const e = err as { name?: string; code?: string; status?: number; message?: string };
    const status = typeof e.status === 'number' && e.status >= 400 ? e.status : 500;
    res.status(status).json({ name: e.name, code: e.code, status: e.status, message: e.message });
  };
  app.use(onError);
  return t;
}
