import { sessionStoreOf } from '../session/app-stores';
import { updateStoredTokens } from '../session/store-io';
import { codecOfStore } from '../session/token-codec';
import { FAKE_SIGN_IN_HEADER, type FakeWps, type FakeWpsUser } from './fake';

/** What {@link signedInAgent} reads of a response: supertest's responses have it. */
export interface AgentResponse {
  /** The HTTP status, e.g. `302`. */
  status: number;
  /** Response headers by lower-case name; `location` is read. */
  headers: Readonly<Record<string, unknown>>;
  /** The body as text, whose start goes into error messages. */
  text: string;
  /** The request that was sent: its `url` says on which host the agent keeps the app's cookies. */
  request?:
    | {
        /** The absolute URL requested, e.g. `http://127.0.0.1:54321/auth/wps/callback?code=…`. */
        url?: unknown;
      }
    | undefined;
}

/** A request of an {@link AgentLike}, as supertest's `Test`: chainable, and awaited for its response. */
export interface AgentRequest extends PromiseLike<AgentResponse> {
  /** How many redirects to follow: {@link signedInAgent} follows none itself, to check each step. */
  redirects(count: number): AgentRequest;
}

/** A POST of an {@link AgentLike}, as supertest's `Test`: headers and a body set in a chain, then awaited. */
export interface AgentPostRequest extends PromiseLike<AgentResponse> {
  /** Set a request header. */
  set(name: string, value: string): AgentPostRequest;
  /** Set the body, sent as it is. */
  send(body: string): AgentPostRequest;
}

/** Which cookies of a jar a request would carry, in the shape of cookiejar's `CookieAccessInfo`. */
export interface AgentCookieAccess {
  /** The host the request goes to, e.g. `'127.0.0.1'`. */
  domain: string;
  /** The request's path: cookies whose path is a prefix of it match. */
  path: string;
  /** Whether the request is over HTTPS (secure cookies match only then). */
  secure: boolean;
  /** Whether a script reads the cookie (HttpOnly cookies match only when not). */
  script: boolean;
}

/**
 * What {@link signedInAgent} needs of an agent: the `get()` of a supertest agent (`request.agent(app)`), whose
 * requests carry the cookies its `jar` keeps. Declared here so that this package depends on no supertest version:
 * the agent you pass comes back with its own type.
 */
export interface AgentLike {
  /** Start a GET request to the app, carrying the jar's cookies and keeping the ones it sets. */
  get(url: string): AgentRequest;
  /** Start a POST request to the app, as `get()` does: needed by `signedInAgent(agent, fake, { via: 'client' })`. */
  post?(url: string): AgentPostRequest;
  /** The agent's cookie jar (superagent's, from `cookiejar`), where the session cookie is read. */
  readonly jar: {
    /** The cookie named `name` that a request described by `access` would carry, if any. */
    getCookie(
      name: string,
      access: AgentCookieAccess,
    ):
      | {
          /** The cookie's value as the app set it (URL-encoded). */
          value: string;
        }
      | undefined;
  };
}

/** Options of {@link signedInAgent}; every field has a default, so `signedInAgent(agent, fake)` signs in. */
export interface SignedInAgentOptions {
  /**
   * Overrides of the fake's configured user for this sign-in only (`req.wps.user` when the app fetches the
   * profile), so one fake serves several users; tokens refreshed later still belong to this user.
   * @default the fake's `user`
   */
  user?: Partial<FakeWpsUser> | undefined;
  /**
   * The scopes the app must ask WPS for, in any order; the sign-in fails when it asks for others. Scopes are the
   * app's configuration (`wpsAuth({ scope })`) and the fake grants what the app asks, so this checks them rather
   * than changing them.
   * @default undefined — not checked
   */
  scopes?: readonly string[] | undefined;
  /**
   * Lifetime of this sign-in's access tokens at the fake, in whole seconds — the first and every refreshed one.
   * @default the fake's `accessTokenTtlSeconds`
   */
  accessTokenTtlSeconds?: number | undefined;
  /**
   * Lifetime of this sign-in's refresh tokens at the fake, in whole seconds — the first and every rotated one.
   * @default the fake's `refreshTokenTtlSeconds`
   */
  refreshTokenTtlSeconds?: number | undefined;
  /**
   * The app's login route, as the browser sees it (mount path included): `wpsAuth({ loginPath })`.
   * @default '/auth/wps/login'
   */
  loginPath?: string | undefined;
  /**
   * Sent to the login route as `?returnTo=`; the sign-in then fails unless the callback redirects there.
   * @default undefined — the app's `defaultReturnTo`
   */
  returnTo?: string | undefined;
  /**
   * The name of the app's session cookie (express-session's `name`), which {@link expireAgentAccessToken} reads.
   * @default 'connect.sid'
   */
  cookieName?: string | undefined;
  /**
   * How to sign in: `'redirect'`, the login route, the fake's authorize page and the callback; `'client'`, as a page
   * inside the WPS 365 client does (免登): a code from the fake's client bridge (`fake.clientCode()`), posted as
   * JSON to the app's client sign-in route with `origin` as the page's `Origin`.
   * @default 'redirect'
   */
  via?: 'redirect' | 'client' | undefined;
  /**
   * With `via: 'client'`: the origin of the page that posts the code — your `redirectUri`'s origin, or one of your
   * `trustedOrigins`. Required then: the route refuses any other.
   * @default undefined
   * @example 'http://localhost:3000'
   */
  origin?: string | undefined;
  /**
   * With `via: 'client'`: the app's client sign-in route, as the browser sees it (mount path included).
   * @default '/auth/wps/client-sign-in'
   */
  clientSignInPath?: string | undefined;
}

/** What {@link expireAgentAccessToken} needs to find an agent's session again. */
interface AgentSession {
  cookieName: string;
  access: AgentCookieAccess;
}

const agentSessions = new WeakMap<object, AgentSession>();

const DEFAULT_LOGIN_PATH = '/auth/wps/login';
const DEFAULT_CLIENT_SIGN_IN_PATH = '/auth/wps/client-sign-in';
const DEFAULT_COOKIE_NAME = 'connect.sid';
const BODY_CHARS = 200;
/** Codes and tokens the fake issues: never repeated in an error message. */
const SECRETS = /\b(fake_at_|kso_rt_|kso_ac_)[\w.-]+/g;
const FORM_TYPE = 'application/x-www-form-urlencoded';

/** How the fake answered, read whole (the fake's bodies are small). */
interface FakeAnswer {
  status: number;
  location: string | undefined;
  contentType: string;
  text: string;
}

function bodyStart(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim().replace(SECRETS, '$1…');
  if (flat === '') return 'the body is empty';
  return `the body starts: ${JSON.stringify(flat.length > BODY_CHARS ? `${flat.slice(0, BODY_CHARS)}…` : flat)}`;
}

/** A URL without its query and fragment: what an error message may show of a redirect (its query holds a code). */
function withoutQuery(location: string): string {
  return location.replace(/[?#].*$/s, '');
}

function header(res: AgentResponse, name: string): string | undefined {
  const value = res.headers[name];
  return typeof value === 'string' ? value : undefined;
}

function failure(step: string, detail: string): Error {
  return new Error(`signedInAgent: ${step} failed: ${detail}`);
}

function unexpected(step: string, status: number, text: string, expected: string): Error {
  return failure(step, `it answered ${status} instead of ${expected}; ${bodyStart(text)}`);
}

function causeOf(error: unknown): string {
  const cause = (error as { cause?: { code?: unknown } } | null)?.cause;
  if (typeof cause?.code === 'string') return cause.code;
  return error instanceof Error ? error.message : String(error);
}

/** An agent request's response; superagent-style rejections for 4xx/5xx still carry it. */
async function send(step: string, request: PromiseLike<AgentResponse>): Promise<AgentResponse> {
  try {
    return await request;
  } catch (error) {
    const response = (error as { response?: AgentResponse } | null)?.response;
    if (response !== undefined && typeof response.status === 'number') return response;
    throw failure(step, `no answer (${causeOf(error)})`);
  }
}

async function askFake(step: string, url: string, init: RequestInit): Promise<FakeAnswer> {
  try {
    const res = await fetch(url, { ...init, redirect: 'manual', signal: AbortSignal.timeout(10_000) });
    return {
      status: res.status,
      location: res.headers.get('location') ?? undefined,
      contentType: res.headers.get('content-type') ?? '',
      text: await res.text(),
    };
  } catch (error) {
    throw failure(step, `no answer (${causeOf(error)})`);
  }
}

const HTML_ENTITIES: Record<string, string> = { '&amp;': '&', '&lt;': '<', '&gt;': '>', '&quot;': '"', '&#39;': "'" };

function unescapeHtml(text: string): string {
  return text.replace(/&(amp|lt|gt|quot|#39);/g, (entity) => HTML_ENTITIES[entity] ?? entity);
}

/** The Allow form of the fake's consent page, posted as a browser posts it: its action, its hidden fields. */
async function allowOnConsentPage(fake: FakeWps, html: string): Promise<FakeAnswer> {
  const form = html.split('\n').find((line) => line.includes('id="wps-allow"'));
  const start = form?.lastIndexOf('<form', form.indexOf('id="wps-allow"')) ?? -1;
  const allow = form?.slice(start) ?? '';
  const action = /<form [^>]*action="([^"]+)"/.exec(allow)?.[1];
  if (start === -1 || action === undefined) {
    throw failure('step 2/3 (GET /oauth2/auth at the fake WPS)', 'the consent page has no Allow form (id "wps-allow")');
  }
  const step = `step 2/3 (POST ${action} at the fake WPS: Allow on the consent page)`;
  const fields = new URLSearchParams();
  for (const input of allow.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) {
    fields.append(input[1] ?? '', unescapeHtml(input[2] ?? ''));
  }
  const answer = await askFake(step, new URL(action, fake.url).toString(), {
    method: 'POST',
    headers: { 'Content-Type': FORM_TYPE },
    body: fields.toString(),
  });
  if (answer.status !== 302) throw unexpected(step, answer.status, answer.text, 'a 302 redirect back to the app');
  return answer;
}

function checkScopes(authorizeUrl: URL, expected: readonly string[]): void {
  const asked = authorizeUrl.searchParams.get('scope') ?? '';
  const sorted = (names: readonly string[]) => [...new Set(names)].sort().join(',');
  if (sorted(asked.split(',')) !== sorted(expected)) {
    throw new Error(
      `signedInAgent: the app asks WPS for the scopes "${asked}", not the expected "${expected.join(',')}": ` +
        "scopes are the app's configuration — wpsAuth({ scope }) — and the fake grants what the app asks",
    );
  }
}

function checkArguments(agent: AgentLike, fake: FakeWps): void {
  const a = agent as Partial<AgentLike> | null | undefined;
  if (typeof a?.get !== 'function' || typeof a.jar?.getCookie !== 'function') {
    throw new TypeError(
      'signedInAgent: the first argument must be a supertest agent — request.agent(app) — whose cookie jar keeps ' +
        'the session; request(app) forgets the cookie after each request',
    );
  }
  const f = fake as Partial<FakeWps> | null | undefined;
  if (typeof f?.url !== 'string' || typeof f.prepareSignIn !== 'function') {
    throw new TypeError('signedInAgent: the second argument must be the fake WPS that startFakeWps() resolved with');
  }
}

/** Where a sign-in ended: the response that set the session cookie, and the path it answered at. */
interface SignedIn {
  response: AgentResponse;
  path: string;
}

/** The redirect sign-in: the app's login route, the fake's authorize page (and consent page), the app's callback. */
async function signInByRedirect(agent: AgentLike, fake: FakeWps, options: SignedInAgentOptions): Promise<SignedIn> {
  const { user, accessTokenTtlSeconds, refreshTokenTtlSeconds, scopes, returnTo } = options;
  const loginPath = options.loginPath ?? DEFAULT_LOGIN_PATH;
  const ticket =
    user === undefined && accessTokenTtlSeconds === undefined && refreshTokenTtlSeconds === undefined
      ? undefined
      : fake.prepareSignIn({ user, accessTokenTtlSeconds, refreshTokenTtlSeconds });

  // Step 1: the app's login route sends the browser to WPS.
  const loginUrl =
    returnTo === undefined
      ? loginPath
      : `${loginPath}${loginPath.includes('?') ? '&' : '?'}returnTo=${encodeURIComponent(returnTo)}`;
  const step1 = `step 1/3 (GET ${loginUrl} on the app)`;
  const login = await send(step1, agent.get(loginUrl).redirects(0));
  const authorize = `${fake.url}/oauth2/auth`;
  if (login.status !== 302) throw unexpected(step1, login.status, login.text, `a 302 redirect to ${authorize}`);
  const toWps = header(login, 'location') ?? '';
  if (withoutQuery(toWps) !== authorize) {
    throw failure(
      step1,
      `it redirected to ${JSON.stringify(withoutQuery(toWps))} instead of ${authorize}: give wpsAuth() baseUrl: fake.url`,
    );
  }
  if (scopes !== undefined) checkScopes(new URL(toWps), scopes);

  // Step 2: WPS (the fake) authorizes, and redirects back to the app's callback with a code.
  const step2 = 'step 2/3 (GET /oauth2/auth at the fake WPS)';
  const headers: Record<string, string> = ticket === undefined ? {} : { [FAKE_SIGN_IN_HEADER]: ticket };
  let answer = await askFake(step2, toWps, { headers });
  if (answer.status === 200 && answer.contentType.startsWith('text/html')) {
    answer = await allowOnConsentPage(fake, answer.text);
  } else if (answer.status !== 302) {
    throw unexpected(step2, answer.status, answer.text, 'a 302 redirect back to the app');
  }
  if (answer.location === undefined) throw failure(step2, 'its 302 redirect has no Location');
  const back = new URL(answer.location, fake.url);

  // Step 3: the app's callback exchanges the code, stores the tokens and redirects into the app.
  const step3 = `step 3/3 (GET ${back.pathname} on the app)`;
  const callback = await send(step3, agent.get(`${back.pathname}${back.search}`).redirects(0));
  if (callback.status !== 302) throw unexpected(step3, callback.status, callback.text, 'a 302 redirect into the app');
  const landing = header(callback, 'location') ?? '';
  if (!landing.startsWith('/') || landing.startsWith('//')) {
    throw failure(step3, `it redirected to ${JSON.stringify(withoutQuery(landing))} instead of a path in the app`);
  }
  if (returnTo !== undefined && landing !== returnTo) {
    throw failure(
      step3,
      `it redirected to ${JSON.stringify(landing)} instead of returnTo ${JSON.stringify(returnTo)} ` +
        '(the app keeps only paths of its own origin)',
    );
  }
  return { response: callback, path: back.pathname };
}

/** The client sign-in (免登): a code as the fake's client bridge mints one, posted as JSON from `origin`. */
async function signInThroughClient(agent: AgentLike, fake: FakeWps, options: SignedInAgentOptions): Promise<SignedIn> {
  const { user, accessTokenTtlSeconds, refreshTokenTtlSeconds, returnTo, origin } = options;
  if (typeof agent.post !== 'function') {
    throw new TypeError("signedInAgent: via 'client' posts to the app: the agent needs post(), as request.agent(app)");
  }
  if (typeof origin !== 'string' || origin === '') {
    throw new TypeError(
      "signedInAgent: via 'client' needs the origin of the page that posts the code — your redirectUri's origin or " +
        "one of your trustedOrigins — e.g. { via: 'client', origin: 'http://localhost:3000' }",
    );
  }
  if (options.scopes !== undefined) {
    throw new TypeError("signedInAgent: scopes is checked on the redirect sign-in only (via: 'redirect')");
  }
  const path = options.clientSignInPath ?? DEFAULT_CLIENT_SIGN_IN_PATH;
  const code = fake.clientCode(user, { accessTokenTtlSeconds, refreshTokenTtlSeconds });
  const step = `the client sign-in (POST ${path} on the app)`;
  const body = JSON.stringify(returnTo === undefined ? { code } : { code, returnTo });
  const request = agent.post(path).set('Origin', origin).set('Content-Type', 'application/json').send(body);
  const response = await send(step, request);
  if (response.status !== 200) throw unexpected(step, response.status, response.text, '200 {"signedIn": true, …}');
  const answer = JSON.parse(response.text) as { returnTo?: unknown };
  if (returnTo !== undefined && answer.returnTo !== returnTo) {
    throw failure(
      step,
      `it answered returnTo ${JSON.stringify(answer.returnTo)} instead of ${JSON.stringify(returnTo)} ` +
        '(the app keeps only paths of its own origin)',
    );
  }
  return { response, path };
}

/**
 * Sign a supertest agent in to your app through the fake WPS, the whole real flow: GET the app's login route,
 * follow its redirect to the fake's `/oauth2/auth` (pressing Allow when the fake runs with `consent: 'page'`), then
 * GET the app's callback with the agent, which keeps the new session cookie. So each test starts signed in with one
 * line, instead of following redirects by hand. Resolves with the same agent; rejects with an `Error` that names
 * the step that failed, its status and the start of the body (never a code or token).
 *
 * `wpsAuth()` must use the fake (`baseUrl: fake.url` and the fake's client id and secret). The callback is
 * requested from the app under test at the path and query of the fake's redirect, whatever host `redirectUri`
 * names. With `via: 'client'` it signs in as a page inside the WPS 365 client does instead: one POST of a code from
 * the fake's client bridge to the app's client sign-in route, from `origin`.
 *
 * @example
 * import express from 'express';
 * import session from 'express-session';
 * import request from 'supertest';
 * import { requireWpsToken, wpsAuth } from 'express-wps-oauth';
 * import { signedInAgent, startFakeWps } from 'express-wps-oauth/testing';
 *
 * const fake = await startFakeWps();
 * const app = express();
 * app.use(session({ secret: 'test', resave: false, saveUninitialized: false }));
 * app.use(
 *   wpsAuth({
 *     baseUrl: fake.url,
 *     clientId: 'test-client-id',
 *     clientSecret: 'test-client-secret',
 *     redirectUri: 'http://127.0.0.1/auth/wps/callback',
 *   }),
 * );
 * app.get('/protected', requireWpsToken(), (req, res) => res.json({ name: req.wps.user?.name }));
 *
 * const agent = await signedInAgent(request.agent(app), fake);
 * await agent.get('/protected').expect(200);
 * const ada = await signedInAgent(request.agent(app), fake, { user: { name: 'Ada' }, accessTokenTtlSeconds: 120 });
 * await ada.get('/protected').expect(200, { name: 'Ada' });
 * const inClient = await signedInAgent(request.agent(app), fake, { via: 'client', origin: 'http://127.0.0.1' });
 * await inClient.get('/protected').expect(200);
 */
export async function signedInAgent<A extends AgentLike>(
  agent: A,
  fake: FakeWps,
  options: SignedInAgentOptions = {},
): Promise<A> {
  checkArguments(agent, fake);
  const { response, path } =
    options.via === 'client'
      ? await signInThroughClient(agent, fake, options)
      : await signInByRedirect(agent, fake, options);
  const sent = typeof response.request?.url === 'string' ? new URL(response.request.url) : undefined;
  agentSessions.set(agent, {
    cookieName: options.cookieName ?? DEFAULT_COOKIE_NAME,
    access: { domain: sent?.hostname ?? '127.0.0.1', path, secure: true, script: false },
  });
  return agent;
}

/** The Express apps an agent talks to: supertest keeps `request.agent(app)`'s app as a server's request listener. */
function appsOf(agent: object): unknown[] {
  const target = (agent as { app?: unknown }).app;
  if (typeof target === 'function') return [target];
  const server = target as { listeners?: unknown } | null | undefined;
  if (typeof server?.listeners !== 'function') return [];
  return (server as { listeners(event: string): unknown[] }).listeners('request');
}

/** The session id in an express-session cookie value (`s:<id>.<signature>`, URL-encoded). */
function sessionIdOf(value: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(value);
  } catch {
    return undefined;
  }
  const dot = decoded.lastIndexOf('.');
  return decoded.startsWith('s:') && dot > 2 ? decoded.slice(2, dot) : undefined;
}

/**
 * Make the access token in a signed-in agent's server-side session look expired to the app, as two hours would,
 * so that its next `requireWpsToken()` (or `req.wps.getAccessToken()`) refreshes it through the fake — the real
 * path: lock, token request, save. It reads the session through the app's own store (any express-session store,
 * with or without `tokenEncryptionKey`) by the id in the agent's session cookie, and writes it back with only the
 * access token's expiry changed. Call it between requests. The fake still accepts the old token until its own
 * lifetime ends; `fake.expireAccessTokens()` ends that too. Rejects with an `Error` saying why when the agent was
 * not signed in by {@link signedInAgent}, its app's store is unknown, the cookie is missing, or the session holds
 * no tokens.
 *
 * Without a helper: give `wpsAuth({ clock })` and `startFakeWps({ clock })` one `createTestClock()`, and
 * `clock.advance(ms)` ages every token at once. Inside a route, `expireAccessToken(req)` does this for one request.
 *
 * @example
 * import express from 'express';
 * import session from 'express-session';
 * import request from 'supertest';
 * import { requireWpsToken, wpsAuth } from 'express-wps-oauth';
 * import { expireAgentAccessToken, signedInAgent, startFakeWps } from 'express-wps-oauth/testing';
 *
 * const fake = await startFakeWps();
 * const app = express();
 * app.use(session({ secret: 'test', resave: false, saveUninitialized: false }));
 * app.use(
 *   wpsAuth({
 *     baseUrl: fake.url,
 *     clientId: 'test-client-id',
 *     clientSecret: 'test-client-secret',
 *     redirectUri: 'http://127.0.0.1/auth/wps/callback',
 *   }),
 * );
 * app.get('/protected', requireWpsToken(), (_req, res) => res.json({ ok: true }));
 *
 * const agent = await signedInAgent(request.agent(app), fake);
 * await expireAgentAccessToken(agent);
 * await agent.get('/protected').expect(200); // refreshed first
 * console.log(fake.tokenRequests('refresh_token').length); // 1
 */
export async function expireAgentAccessToken(agent: AgentLike): Promise<void> {
  const signIn = agentSessions.get(agent);
  if (signIn === undefined) {
    throw new Error(
      'expireAgentAccessToken: this agent was not signed in by signedInAgent(); ' +
        'sign it in first: const agent = await signedInAgent(request.agent(app), fake)',
    );
  }
  const store = appsOf(agent)
    .map(sessionStoreOf)
    .find((found) => found !== undefined);
  if (store === undefined) {
    throw new Error(
      "expireAgentAccessToken: the app's session store is unknown: the agent must be request.agent(app) or " +
        'request.agent(server) of an app in this process, with wpsAuth() from this copy of express-wps-oauth',
    );
  }
  const { cookieName, access } = signIn;
  const cookie = agent.jar.getCookie(cookieName, access);
  if (cookie === undefined) {
    throw new Error(
      `expireAgentAccessToken: the agent holds no "${cookieName}" cookie for ${access.domain}; if the app names ` +
        "its session cookie otherwise (express-session's name option), pass signedInAgent() that cookieName",
    );
  }
  const sid = sessionIdOf(cookie.value);
  if (sid === undefined) {
    throw new Error(
      `expireAgentAccessToken: the "${cookieName}" cookie is not a signed express-session cookie (s:<id>.<signature>)`,
    );
  }
  let updated: boolean;
  try {
    // 0, not "now": the app may run a test clock, ahead of or behind this process's clock.
    updated = await updateStoredTokens(store, sid, codecOfStore(store), (tokens) => ({ ...tokens, expiresAt: 0 }));
  } catch (err) {
    // updateStoredTokens names the store call that failed; the store's own error is its cause.
    const { message, cause } = err as Error;
    // eslint-disable-next-line preserve-caught-error -- the store's error is the cause, not our wrapper of it
    throw new Error(`expireAgentAccessToken: ${message}`, { cause });
  }
  if (!updated) {
    throw new Error(
      "expireAgentAccessToken: the agent's session holds no WPS tokens (it signed out, or the session expired)",
    );
  }
}
