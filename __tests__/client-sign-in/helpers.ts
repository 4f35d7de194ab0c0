import type { MemoryStore } from 'express-session';
import request from 'supertest';
import type { WpsAuthOptions } from '../../lib';
import type { FakeWps } from '../../lib/testing';
import { createTestApp, REDIRECT_URI, type TestApp, type TestAppSetup } from '../helpers/app';

export type Agent = ReturnType<typeof request.agent>;
export type Res = request.Response;

/** The origin of the test apps' `redirectUri` (http://127.0.0.1/auth/wps/callback): their own pages' origin. */
export const OWN_ORIGIN = new URL(REDIRECT_URI).origin;
/** The default route, as the browser sees it. */
export const ROUTE = '/auth/wps/client-sign-in';
export const JSON_TYPE = 'application/json';

/** How a test posts to the route: `Origin` (none when `null`), `Content-Type`, and the body as sent. */
export interface PostOptions {
  origin?: string | null;
  contentType?: string | null;
  path?: string;
}

/** POST `body` (an object as JSON, a string as it is) to the route the way a page's `fetch` does. */
export function postCode(
  agent: Agent,
  body: unknown,
  { origin = OWN_ORIGIN, contentType = JSON_TYPE, path = ROUTE }: PostOptions = {},
): request.Test {
  let req = agent.post(path);
  if (origin !== null) req = req.set('Origin', origin);
  if (contentType !== null) req = req.set('Content-Type', contentType);
  return req.send(typeof body === 'string' ? body : JSON.stringify(body));
}

/** The test app of `__tests__/helpers/app.ts` with the client route's options. */
export function clientApp(fake: FakeWps, options: WpsAuthOptions = {}, setup: TestAppSetup<MemoryStore> = {}): TestApp {
  return createTestApp(fake, options, setup);
}

/** How many sessions the app's MemoryStore holds. */
export function sessionCount(store: MemoryStore): Promise<number> {
  return new Promise((resolve, reject) => {
    store.length((err, length) => (err ? reject(err as Error) : resolve(length ?? 0)));
  });
}

/** What the session of `agent` holds, through the app's inspection route. */
export async function sessionOf(agent: Agent): Promise<{ id: string; wps: Record<string, unknown> | null }> {
  return (await agent.get('/test/session').expect(200)).body as { id: string; wps: Record<string, unknown> | null };
}

/** The `Set-Cookie` header of a response, if any. */
export function setCookie(res: Res): unknown {
  return res.headers['set-cookie'];
}
