import express, { type ErrorRequestHandler } from 'express';
import session, { MemoryStore, type Store } from 'express-session';
import request from 'supertest';
import { requireWpsToken, wpsAuth, type WpsAuthOptions, type WpsLogger, type WpsTokenRecord } from '../../lib';
import type { FakeWps } from '../../lib/testing';
import { setStoredTokens, storedTokensOf } from '../../lib/session/record';
import { codecOfStore } from '../../lib/session/token-codec';
import { RECORD_KEY, storedRecord } from './stored';

/** The session's tokens opened as the library opens them (sealed ones with the key its wpsAuth() uses). */
export function openTokens(req: express.Request): WpsTokenRecord | undefined {
  return codecOfStore(req.sessionStore).open(storedTokensOf(req.session), req.sessionID);
}

/** Store `tokens` in the session as the library would (sealed when its wpsAuth() seals). */
export function writeTokens(req: express.Request, tokens: WpsTokenRecord): void {
  setStoredTokens(req.session, codecOfStore(req.sessionStore).close(tokens, req.sessionID));
}

export const CLIENT_ID = 'test-client-id';
export const CLIENT_SECRET = 'test-client-secret-DO-NOT-LEAK-5f1c';
// On the host supertest's requests come to (127.0.0.1), so the session cookie is one the callback gets back.
export const REDIRECT_URI = 'http://127.0.0.1/auth/wps/callback';

/** A logger that remembers every line, to check what the library says (and that it never says a secret). */
export function memoryLogger(): WpsLogger & { lines: string[] } {
  const lines: string[] = [];
  const push = (level: string) => (message: string, meta?: Record<string, unknown>) => {
    lines.push(`${level} ${message} ${JSON.stringify(meta ?? {})}`);
  };
  return { lines, debug: push('debug'), info: push('info'), warn: push('warn'), error: push('error') };
}

export interface TestApp<S extends Store = MemoryStore> {
  app: express.Express;
  store: S;
  logger: ReturnType<typeof memoryLogger>;
  /** Every error that reached the app's error handler. */
  errors: unknown[];
}

/**
 * A real app, as a user would write it, plus inspection routes (`/test/*`) and a JSON error handler — the same
 * shape as express-openid-connect's test fixture.
 */
/** How a test wants the app's session set up, and routes of its own (mounted before the error handler). */
export interface TestAppSetup<S extends Store> {
  /** @default a new MemoryStore */
  store?: S;
  /** @default false */
  resave?: boolean;
  routes?: (app: express.Express) => void;
}

export function createTestApp<S extends Store = MemoryStore>(
  fake: FakeWps,
  options: WpsAuthOptions = {},
  setup: TestAppSetup<S> = {},
): TestApp<S> {
  const app = express();
  const store = setup.store ?? (new MemoryStore() as unknown as S);
  const logger = memoryLogger();
  const errors: unknown[] = [];
  app.use(session({ secret: 'test-session-secret', resave: setup.resave ?? false, saveUninitialized: false, store }));
  app.use(
    wpsAuth({
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      redirectUri: REDIRECT_URI,
      baseUrl: fake.url,
      logger,
      ...options,
    }),
  );
  app.get('/', (req, res) => {
    res.json({ authenticated: req.wps.isAuthenticated() });
  });
  app.get('/protected', requireWpsToken(), (req, res) => {
    res.json({ token: req.wps.accessToken, expiresAt: req.wps.expiresAt?.toISOString() });
  });
  app.get('/api/error-mode', requireWpsToken({ unauthenticated: 'error' }), (req, res) => {
    res.json({ token: req.wps.accessToken });
  });
  app.get('/api/redirect-mode', requireWpsToken({ unauthenticated: 'redirect' }), (req, res) => {
    res.json({ token: req.wps.accessToken });
  });
  app.post('/api/data', requireWpsToken(), (req, res) => {
    res.json({ token: req.wps.accessToken });
  });
  app.get('/test/session', (req, res) => {
    // The library's private record (tests/helpers/stored.ts), as `wps` in the answer, its tokens opened.
    const record = storedRecord(req.session);
    const tokens = openTokens(req);
    res.json({ id: req.sessionID, wps: record === undefined ? null : { ...record, ...(tokens && { tokens }) } });
  });
  app.post('/test/refresh', (req, res, next) => {
    const before = req.wps.expiresAt?.getTime() ?? null;
    req.wps.refresh().then((token) => res.json({ token, before, after: req.wps.expiresAt?.getTime() ?? null }), next);
  });
  app.get('/test/token', (req, res, next) => {
    req.wps.getAccessToken().then((token) => res.json({ token }), next);
  });
  /** Make the session's access token expire `in` ms from now (negative: already expired). */
  app.post('/test/expire', (req, res) => {
    const tokens = openTokens(req);
    if (tokens) writeTokens(req, { ...tokens, expiresAt: Date.now() + Number(req.query.in ?? -1000) });
    res.json({ expiresAt: openTokens(req)?.expiresAt ?? null });
  });
  /** Put a value no sane code would write into the session, as a corrupted or foreign store entry would. */
  app.post('/test/corrupt', (req, res) => {
    const corrupt: Record<string, unknown> = { string: 'x', number: 42, array: [1], nullTokens: { tokens: null } };
    (req.session as unknown as Record<string, unknown>)[RECORD_KEY] =
      corrupt[typeof req.query.as === 'string' ? req.query.as : ''];
    res.json({ ok: true });
  });
  setup.routes?.(app);
  const onError: ErrorRequestHandler = (err, _req, res, _next) => {
    errors.push(err);
    const e = err as { code?: string; status?: number; message?: string };
    res.status(e.status ?? 500).json({ code: e.code, status: e.status, message: e.message });
  };
  app.use(onError);
  return { app, store, logger, errors };
}

/**
 * An error handler that answers a `WpsAuthError` as JSON: its `code`, `message` and (for `state_mismatch`) `reason`;
 * the status it carries, else 500.
 */
export const jsonErrors: ErrorRequestHandler = (
  err: { code?: string; status?: number; message?: string; reason?: string },
  _req,
  res,
  _next,
) => {
  res.status(err.status ?? 500).json({ code: err.code, reason: err.reason, message: err.message });
};

/** Query parameters of a Location header. */
export function locationParams(location: string | undefined): URLSearchParams {
  return new URL(location ?? 'missing:', 'http://app.test').searchParams;
}

/** Start a login and take it to the fake's redirect back: returns the callback path+query and the state. */
export async function authorize(
  agent: ReturnType<typeof request.agent>,
  loginQuery = '',
): Promise<{ callback: string; state: string; code: string }> {
  const login = await agent.get(`/auth/wps/login${loginQuery}`).expect(302);
  const auth = await request(login.headers.location as string)
    .get('')
    .redirects(0);
  if (auth.status !== 302) throw new Error(`fake WPS refused the authorization: ${auth.status} ${auth.text}`);
  const back = new URL(auth.headers.location as string);
  return {
    callback: `${back.pathname}${back.search}`,
    state: back.searchParams.get('state') ?? '',
    code: back.searchParams.get('code') ?? '',
  };
}

/** Complete a whole login; returns where the callback redirected. */
export async function signIn(agent: ReturnType<typeof request.agent>, loginQuery = ''): Promise<string> {
  const { callback } = await authorize(agent, loginQuery);
  const res = await agent.get(callback).expect(302);
  return res.headers.location as string;
}
