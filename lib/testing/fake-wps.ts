import { systemClock, type WpsClock } from '../clock';
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { sendWpsEvent, type WpsEventReply, type WpsEventToSend } from './send-event';

/** The signed-in user the fake answers with on `GET /v7/users/current`, so tests can assert on known values. */
export interface FakeWpsUser {
  /** Sent as `data.id`. */
  id: string;
  /** Sent as `data.user_name` and shown on the consent page. */
  name: string;
  /** Sent as `data.avatar`. */
  avatar: string;
  /** Sent as `data.company_id`. */
  companyId: string;
}

/** Configuration of the fake WPS 365 server; every field has a default so `startFakeWps()` just works. */
export interface FakeWpsOptions {
  /**
   * The only APPID the fake accepts.
   * @default 'test-client-id'
   */
  clientId?: string | undefined;
  /**
   * The only APPKEY the fake accepts.
   * @default 'test-client-secret'
   */
  clientSecret?: string | undefined;
  /**
   * Callbacks registered "in the console"; `redirect_uri` must equal one of them exactly.
   * @default undefined — any absolute http(s) URL is accepted
   */
  redirectUris?: string[] | undefined;
  /**
   * `'auto'` redirects straight back with a code; `'page'` serves an HTML consent page with Allow/Deny buttons
   * (ids `wps-allow`, `wps-deny`) for browser-driven tests.
   * @default 'auto'
   */
  consent?: 'auto' | 'page' | undefined;
  /**
   * Overrides for the signed-in user.
   * @default { id: 'fake-user-1', name: 'Demo User', avatar: 'https://example.invalid/avatar.png', companyId: 'fake-company-1' }
   */
  user?: Partial<FakeWpsUser> | undefined;
  /**
   * Lifetime of issued access tokens, in whole seconds.
   * @default 7200
   */
  accessTokenTtlSeconds?: number | undefined;
  /**
   * Lifetime of issued refresh tokens, in whole seconds.
   * @default 2592000
   */
  refreshTokenTtlSeconds?: number | undefined;
  /**
   * Lifetime of authorization codes, in whole seconds (the platform uses 10 minutes).
   * @default 600
   */
  codeTtlSeconds?: number | undefined;
  /**
   * Delay before answering every `POST /oauth2/token`, to exercise timeouts and refresh races.
   * @default 0
   */
  tokenLatencyMs?: number | undefined;
  /**
   * Whether each refresh returns a new refresh token and kills the old one at once, as the platform does.
   * @default true
   */
  rotateRefreshTokens?: boolean | undefined;
  /**
   * Send `refresh_expires_in` as a numeric string, as the platform's docs type it.
   * @default false
   */
  refreshExpiresInAsString?: boolean | undefined;
  /**
   * Strict KSO-1 mode, as for an app that switched API signing on: every `/v7/*` request must carry `X-Kso-Date`
   * (RFC 1123, at most 15 minutes off) and `X-Kso-Authorization: KSO-1 <APPID>:<hex HMAC-SHA256(APPKEY, "KSO-1" +
   * METHOD + REQUEST_URI + CONTENT_TYPE + X-Kso-Date + sha256hex(body))>` (body hash `''` without a body), else it
   * gets 401 `{ code: 40100002, msg: 'invalid_signature' }`.
   * @default false
   */
  requireSignature?: boolean | undefined;
  /**
   * Where the fake reads the time for the lifetimes of codes and tokens: give it the same `createTestClock()` as
   * the app, and `clock.advance()` ages both sides at once.
   * @default systemClock
   */
  clock?: WpsClock | undefined;
}

/** One HTTP request the fake received, so tests can assert on exactly what the app sent. */
export interface RecordedRequest {
  /** HTTP method, e.g. `'POST'`. */
  method: string;
  /** Raw path without the query string, e.g. `'/oauth2/token'`. */
  path: string;
  /** Query parameters (first value of a repeated name). */
  query: Record<string, string>;
  /** Request headers as Node received them (lower-case names). */
  headers: Record<string, string | string[] | undefined>;
  /** Raw body as UTF-8 (empty when the body was over the 1 MB cap). */
  body: string;
  /** Parsed body when it was sent as `application/x-www-form-urlencoded`, else `{}` (first value of a repeated name). */
  form: Record<string, string>;
  /** `Date.now()` when the request was complete. */
  at: number;
}

/**
 * A misbehaviour to inject into upcoming `POST /oauth2/token` answers, to test the app's error handling.
 * Apart from `delayMs`, a fault replaces the real answer: no token is issued and no code or refresh token is used.
 */
export type FakeFault =
  /** Answer with this status and body (a string as-is, an object as JSON). */
  | {
      /** The HTTP status to answer with. */
      status: number;
      /** The body: a string as it is, an object as JSON. */
      body?: string | object;
      /** The Content-Type; by default JSON for an object body, text for a string. */
      contentType?: string;
    }
  /** Wait this long, then answer normally. */
  | {
      /** Milliseconds to wait before the normal answer. */
      delayMs: number;
    }
  /** Never answer; the socket stays open until the client gives up or `close()` is called. */
  | {
      /** Always `true`. */
      hang: true;
    }
  /** Destroy the socket (TCP RST) without a response. */
  | {
      /** Always `true`. */
      reset: true;
    }
  /** 200 with a JSON content type and a truncated JSON body. */
  | {
      /** Always `true`. */
      malformedJson: true;
    }
  /** 200 with JSON headers, then one byte every `intervalMs` until `bytes` were sent. */
  | {
      /** How slowly to send the body. */
      drip: {
        /** How many bytes to send in all. */
        bytes: number;
        /** Milliseconds between two bytes. */
        intervalMs: number;
      };
    }
  /** 200 with a valid JSON body (a `padding` field) of exactly this many bytes (at least 14). */
  | {
      /** The body's size in bytes. */
      bodyBytes: number;
    };

/**
 * Settings for one sign-in, registered with {@link FakeWps.prepareSignIn}: the user and token lifetimes that this
 * authorization grants, in place of the fake's options, so one fake can sign in several users.
 */
export interface FakeSignIn {
  /**
   * Overrides of the configured user for this sign-in: `GET /v7/users/current` answers with them for every access
   * token of the sign-in, refreshed ones included, and the consent page shows this name.
   * @default the fake's `user`
   */
  user?: Partial<FakeWpsUser> | undefined;
  /**
   * Lifetime of this sign-in's access tokens, in whole seconds — the first and every refreshed one.
   * @default the fake's `accessTokenTtlSeconds` when each token is issued
   */
  accessTokenTtlSeconds?: number | undefined;
  /**
   * Lifetime of this sign-in's refresh tokens, in whole seconds — the first and every rotated one.
   * @default the fake's `refreshTokenTtlSeconds`
   */
  refreshTokenTtlSeconds?: number | undefined;
}

/** The request header that names a sign-in prepared with {@link FakeWps.prepareSignIn}, on `GET /oauth2/auth`. */
export const FAKE_SIGN_IN_HEADER = 'x-fake-wps-sign-in';

/** A token pair issued by {@link FakeWps.mintTokens}. */
export interface FakeTokenPair {
  /** An access token the fake's `/v7/*` endpoints accept until it expires. */
  access_token: string;
  /** A refresh token the fake's `/oauth2/token` accepts once (it rotates). */
  refresh_token: string;
  /** Lifetime of the access token, in seconds. */
  expires_in: number;
  /** Lifetime of the refresh token, in seconds. */
  refresh_expires_in: number;
  /** Always `'bearer'`. */
  token_type: 'bearer';
}

/** Options {@link FakeWps.setOptions} may change while the server runs. */
export type FakeWpsRuntimeOptions = Partial<
  Pick<
    FakeWpsOptions,
    'tokenLatencyMs' | 'accessTokenTtlSeconds' | 'rotateRefreshTokens' | 'consent' | 'requireSignature'
  >
>;

/** A running fake WPS 365 server and the handles tests use to inspect and steer it. */
export interface FakeWps {
  /** Base URL without a trailing slash, e.g. `http://127.0.0.1:54321`; pass it as `baseUrl`. */
  url: string;
  /** Every request received, in order; `reset()` empties this same array. */
  requests: RecordedRequest[];
  /** The `POST /oauth2/token` requests, optionally only those with this `grant_type`. */
  tokenRequests(grantType?: string): RecordedRequest[];
  /**
   * Apply `fault` to the next `times` `POST /oauth2/token` calls; queued faults are used first-in first-out.
   * @default times 1
   */
  queueTokenFault(fault: FakeFault, times?: number): void;
  /** The `/v7/*` API requests, optionally only those to this exact path (without the query string). */
  apiRequests(path?: string): RecordedRequest[];
  /**
   * Apply `fault` to the next `times` `/v7/*` requests (any path, before the token and signature checks);
   * queued faults are used first-in first-out. For instance `{ status: 200, body: { code: 40300001, msg: 'x' } }`
   * makes WPS's error envelope, and `{ status: 401, body: { code: 40100001, msg: 'invalid_token' } }` refuses a
   * still-valid access token.
   * @default times 1
   */
  queueApiFault(fault: FakeFault, times?: number): void;
  /** Issue a valid token pair for the configured user without the browser flow. */
  mintTokens(opts?: { accessTokenTtlSeconds?: number; refreshTokenTtlSeconds?: number }): FakeTokenPair;
  /**
   * Register the user and token lifetimes of one upcoming sign-in, and get a one-time ticket for it. Send the
   * ticket as the `X-Fake-Wps-Sign-In` header of that sign-in's `GET /oauth2/auth` (an unknown or used ticket is
   * refused with 400 `invalid_request`): the code issued for it, and every token issued from that code, refreshed
   * ones included, belong to this user and live this long. Without the header a sign-in gets the fake's options.
   * `signedInAgent()` does this for you.
   *
   * @example
   * const ticket = fake.prepareSignIn({ user: { name: 'Ada' }, accessTokenTtlSeconds: 60 });
   * await fetch(authorizeUrl, { redirect: 'manual', headers: { 'X-Fake-Wps-Sign-In': ticket } });
   */
  prepareSignIn(signIn: FakeSignIn): string;
  /** Make every access token issued so far expired now (refresh tokens stay valid). */
  expireAccessTokens(): void;
  /** Change latency, access-token lifetime, rotation, consent mode or strict signing for later requests. */
  setOptions(patch: FakeWpsRuntimeOptions): void;
  /** Forget recorded requests and queued faults; issued codes and tokens stay valid. */
  reset(): void;
  /** Stop the server and destroy every open socket, hanging ones included; safe to call twice. */
  close(): Promise<void>;
  /**
   * Push an event to the app's event `url` as WPS does, signed and encrypted with this fake's clientId and
   * clientSecret (see `sendWpsEvent`).
   */
  sendEvent(url: string, event: WpsEventToSend): Promise<WpsEventReply>;
}

interface Settings {
  clientId: string;
  clientSecret: string;
  redirectUris: string[] | undefined;
  consent: 'auto' | 'page';
  user: FakeWpsUser;
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
  codeTtlSeconds: number;
  tokenLatencyMs: number;
  rotateRefreshTokens: boolean;
  refreshExpiresInAsString: boolean;
  requireSignature: boolean;
  clock: WpsClock;
}

/** What one sign-in was granted: its user, and lifetimes that replace the fake's when set. */
interface Grant {
  user: FakeWpsUser;
  accessTokenTtlSeconds: number | undefined;
  refreshTokenTtlSeconds: number | undefined;
}

interface AuthorizationRequest {
  redirectUri: string;
  scope: string;
  state: string | undefined;
  /** The prepared sign-in named by the request, if any. */
  grant: Grant | undefined;
}

interface Expiring {
  expiresAt: number;
}

interface AccessTokenRecord extends Expiring {
  kind: 'user' | 'app';
  grant?: Grant | undefined;
}

interface RefreshTokenRecord extends Expiring {
  grant: Grant | undefined;
}

interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  query: URLSearchParams;
  form: URLSearchParams | undefined;
  body: Buffer;
}

interface Route {
  method: 'GET' | 'POST';
  handle(ctx: RequestContext): Promise<void> | void;
}

const MAX_BODY_BYTES = 1024 * 1024;
const JSON_TYPE = 'application/json; charset=utf-8';
const FORM_TYPE = 'application/x-www-form-urlencoded';
const MALFORMED_JSON = '{"access_token": "abc", ';
const EMPTY_PADDED_JSON = '{"padding":""}';
const SCOPE_PATTERN = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)+$/;
const HTTP_URL_PATTERN = /^https?:\/\/[^\s#]+$/i;
const BEARER_PATTERN = /^Bearer ([^\s]+)$/i;
const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

const DEFAULT_USER: FakeWpsUser = {
  id: 'fake-user-1',
  name: 'Demo User',
  avatar: 'https://example.invalid/avatar.png',
  companyId: 'fake-company-1',
};

class WpsHttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    readonly msg: string,
    readonly desc: string,
  ) {
    super(desc);
  }
}

const invalidRequest = (desc: string) => new WpsHttpError(400, 40000001, 'invalid_request', desc);
const invalidClient = () => new WpsHttpError(401, 40000002, 'invalid_client', 'client_id or client_secret is wrong');
const invalidGrant = (desc: string) => new WpsHttpError(400, 40000003, 'invalid_grant', desc);
const invalidToken = (desc: string) => new WpsHttpError(401, 40100001, 'invalid_token', desc);
const invalidSignature = (desc: string) => new WpsHttpError(401, 40100002, 'invalid_signature', desc);

const KSO_PATTERN = /^KSO-1 ([^:\s]+):([0-9a-f]{64})$/;
const MAX_CLOCK_SKEW_MS = 15 * 60 * 1000;

function randomPart(bytes: number): string {
  return randomBytes(bytes).toString('base64url');
}

function isHttpUrl(value: string): boolean {
  if (!HTTP_URL_PATTERN.test(value)) return false;
  try {
    new URL(value);
    return true;
  } catch {
    return false;
  }
}

function isFormContentType(header: string | undefined): boolean {
  return header?.split(';')[0]?.trim().toLowerCase() === FORM_TYPE;
}

function firstValues(params: URLSearchParams): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [name, value] of params) if (!(name in result)) result[name] = value;
  return result;
}

function rejectRepeated(params: URLSearchParams): void {
  const seen = new Set<string>();
  for (const name of params.keys()) {
    if (seen.has(name)) throw invalidRequest(`'${name}' parameter is repeated`);
    seen.add(name);
  }
}

/** Per RFC 6749 §3.1 a parameter sent without a value counts as omitted. */
function requireParam(params: URLSearchParams, name: string): string {
  const value = params.get(name);
  if (!value) throw invalidRequest(`'${name}' parameter is missing`);
  return value;
}

function requireParams<K extends string>(params: URLSearchParams, names: readonly K[]): Record<K, string> {
  const result = {} as Record<K, string>;
  for (const name of names) result[name] = requireParam(params, name);
  return result;
}

function isExpired(record: Expiring, now: number): boolean {
  return record.expiresAt <= now;
}

function secondsLeft(record: Expiring, now: number): number {
  return Math.max(0, Math.ceil((record.expiresAt - now) / 1000));
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => HTML_ESCAPES[char] ?? char);
}

/** Appends to the query by hand so the redirect_uri's own query stays byte-for-byte as registered. */
function appendQuery(uri: string, params: URLSearchParams): string {
  const separator = !uri.includes('?') ? '?' : uri.endsWith('?') || uri.endsWith('&') ? '' : '&';
  return `${uri}${separator}${params.toString()}`;
}

function paddedJson(bytes: number): string {
  return `{"padding":"${'x'.repeat(bytes - EMPTY_PADDED_JSON.length)}"}`;
}

function splitUrl(rawUrl: string): { path: string; query: URLSearchParams } {
  const mark = rawUrl.indexOf('?');
  if (mark === -1) return { path: rawUrl, query: new URLSearchParams() };
  return { path: rawUrl.slice(0, mark), query: new URLSearchParams(rawUrl.slice(mark + 1)) };
}

function sendJson(res: ServerResponse, status: number, body: object, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { ...headers, 'Content-Type': JSON_TYPE });
  res.end(JSON.stringify(body));
}

function sendError(res: ServerResponse, error: WpsHttpError): void {
  sendJson(res, error.status, { code: error.code, msg: error.msg, debug: { desc: error.desc } });
}

function sendRedirect(res: ServerResponse, location: string): void {
  res.writeHead(302, { Location: location, 'Cache-Control': 'no-store' });
  res.end();
}

/** Resolves with `undefined` when the body exceeds the cap; the rest is drained so the client can read the 413. */
function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    if (Number(req.headers['content-length'] ?? 0) > MAX_BODY_BYTES) {
      req.resume();
      resolve(undefined);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        chunks.length = 0;
        resolve(undefined);
      } else {
        chunks.push(chunk);
      }
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
    req.on('close', () => {
      if (!req.complete) reject(new Error('request aborted'));
    });
  });
}

function requirePositiveInteger(name: string, value: number, caller = 'startFakeWps'): number {
  if (!Number.isInteger(value) || value <= 0) {
    throw new RangeError(`${caller}: '${name}' must be a positive whole number of seconds, got ${String(value)}`);
  }
  return value;
}

function requireNonNegative(name: string, value: number): number {
  if (!Number.isFinite(value) || value < 0) {
    throw new RangeError(`startFakeWps: '${name}' must be a finite number >= 0, got ${String(value)}`);
  }
  return value;
}

function requireNonEmptyString(name: string, value: string): string {
  if (typeof value !== 'string' || value === '') {
    throw new TypeError(`startFakeWps: '${name}' must be a non-empty string`);
  }
  return value;
}

function requireConsent(value: string): 'auto' | 'page' {
  if (value !== 'auto' && value !== 'page') {
    throw new TypeError(`startFakeWps: 'consent' must be 'auto' or 'page', got ${JSON.stringify(value)}`);
  }
  return value;
}

function requireRedirectUris(uris: string[] | undefined): string[] | undefined {
  if (uris === undefined) return undefined;
  for (const uri of uris) {
    if (typeof uri !== 'string' || !isHttpUrl(uri)) {
      throw new TypeError(
        `startFakeWps: every entry of 'redirectUris' must be an absolute http(s) URL without a fragment, got ${JSON.stringify(uri)}`,
      );
    }
  }
  return [...uris];
}

function resolveSettings(options: FakeWpsOptions): Settings {
  return {
    clientId: requireNonEmptyString('clientId', options.clientId ?? 'test-client-id'),
    clientSecret: requireNonEmptyString('clientSecret', options.clientSecret ?? 'test-client-secret'),
    redirectUris: requireRedirectUris(options.redirectUris),
    consent: requireConsent(options.consent ?? 'auto'),
    user: { ...DEFAULT_USER, ...options.user },
    accessTokenTtlSeconds: requirePositiveInteger('accessTokenTtlSeconds', options.accessTokenTtlSeconds ?? 7200),
    refreshTokenTtlSeconds: requirePositiveInteger('refreshTokenTtlSeconds', options.refreshTokenTtlSeconds ?? 2592000),
    codeTtlSeconds: requirePositiveInteger('codeTtlSeconds', options.codeTtlSeconds ?? 600),
    tokenLatencyMs: requireNonNegative('tokenLatencyMs', options.tokenLatencyMs ?? 0),
    rotateRefreshTokens: options.rotateRefreshTokens ?? true,
    refreshExpiresInAsString: options.refreshExpiresInAsString ?? false,
    requireSignature: options.requireSignature ?? false,
    clock: options.clock ?? systemClock,
  };
}

function applyRuntimeOptions(settings: Settings, patch: FakeWpsRuntimeOptions): void {
  if (patch.tokenLatencyMs !== undefined) {
    settings.tokenLatencyMs = requireNonNegative('tokenLatencyMs', patch.tokenLatencyMs);
  }
  if (patch.accessTokenTtlSeconds !== undefined) {
    settings.accessTokenTtlSeconds = requirePositiveInteger('accessTokenTtlSeconds', patch.accessTokenTtlSeconds);
  }
  if (patch.rotateRefreshTokens !== undefined) settings.rotateRefreshTokens = patch.rotateRefreshTokens;
  if (patch.consent !== undefined) settings.consent = requireConsent(patch.consent);
  if (patch.requireSignature !== undefined) settings.requireSignature = patch.requireSignature;
}

function validateFault(fault: FakeFault, caller: string): void {
  const invalid = (why: string) => new RangeError(`${caller}: ${why}, got ${JSON.stringify(fault)}`);
  if ('status' in fault) {
    if (!Number.isInteger(fault.status) || fault.status < 200 || fault.status > 599) {
      throw invalid("'status' must be a whole number from 200 to 599");
    }
  } else if ('delayMs' in fault) {
    if (!Number.isFinite(fault.delayMs) || fault.delayMs < 0) throw invalid("'delayMs' must be a finite number >= 0");
  } else if ('drip' in fault) {
    const { bytes, intervalMs } = fault.drip;
    if (!Number.isInteger(bytes) || bytes < 1 || !Number.isFinite(intervalMs) || intervalMs < 0) {
      throw invalid("'drip' needs a whole 'bytes' >= 1 and a finite 'intervalMs' >= 0");
    }
  } else if ('bodyBytes' in fault) {
    if (!Number.isInteger(fault.bodyBytes) || fault.bodyBytes < EMPTY_PADDED_JSON.length) {
      throw invalid(`'bodyBytes' must be a whole number >= ${EMPTY_PADDED_JSON.length}`);
    }
  } else if (!('hang' in fault) && !('reset' in fault) && !('malformedJson' in fault)) {
    throw invalid('unknown fault kind');
  }
}

function queueFault(queue: FakeFault[], caller: string, fault: FakeFault, times: number): void {
  validateFault(fault, caller);
  if (!Number.isInteger(times) || times < 1) {
    throw new RangeError(`${caller}: 'times' must be a whole number >= 1, got ${String(times)}`);
  }
  for (let i = 0; i < times; i++) queue.push(fault);
}

function renderConsentPage(user: FakeWpsUser, clientId: string, scope: string, requestId: string): string {
  // Styled like the example app (system-ui, a centred card, blue buttons) and self-contained: inline CSS, the icon
  // as a data URI (so the browser asks for no /favicon.ico), no script, nothing from the network.
  const logo =
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="7" fill="#1a5fff"/>' +
    '<path d="M7 10l3.5 12L16 13l5.5 9L25 10" fill="none" stroke="#fff" stroke-width="3" stroke-linecap="round" ' +
    'stroke-linejoin="round"/></svg>';
  const css = [
    '*{box-sizing:border-box}',
    'body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2329;background:#f2f4f8}',
    '.top{background:#fff;border-bottom:1px solid #e3e6eb}',
    '.top-in{max-width:28rem;margin:0 auto;padding:.75rem 0;display:flex;align-items:center;gap:.5rem}',
    '.top svg{width:28px;height:28px}.brand{font-weight:700;font-size:1.05rem}.sub{color:#646a73;font-size:.9rem}',
    '.card{max-width:28rem;margin:2rem auto;background:#fff;border:1px solid #e3e6eb;border-radius:12px;' +
      'padding:1.5rem;box-shadow:0 2px 8px rgba(31,35,41,.06)}',
    '@media (max-width:30rem){.top-in{padding:.75rem}.card{margin:1rem .75rem;padding:1.25rem}}',
    'h1{font-size:1.35rem;margin:0 0 1rem}p{margin:.75rem 0}',
    '.account{display:flex;align-items:center;gap:.75rem;padding:.75rem;background:#f5f7fa;border-radius:8px}',
    '.avatar{flex:none;width:2.5rem;height:2.5rem;border-radius:50%;background:#1a5fff;color:#fff;display:grid;' +
      'place-items:center;font-weight:600}',
    'code{background:#f0f1f3;padding:0 .3rem;border-radius:4px;font-size:.9em;overflow-wrap:anywhere}',
    'ul{list-style:none;padding:0;margin:0 0 1.25rem}',
    'li{padding:.5rem .75rem;border:1px solid #e3e6eb;border-radius:8px;margin:.4rem 0;font-family:ui-monospace,' +
      'monospace;font-size:.9rem;overflow-wrap:anywhere}',
    'li::before{content:"\\2713";color:#1a5fff;font-weight:700;margin-right:.5rem}',
    '.actions{display:flex;gap:.75rem}.actions form{flex:1;margin:0}',
    'button{width:100%;font:inherit;font-weight:600;padding:.65rem 1rem;border-radius:8px;cursor:pointer;' +
      'border:1px solid #1a5fff;background:#1a5fff;color:#fff}',
    'button:focus-visible{outline:3px solid #9dbbff;outline-offset:2px}',
    '#wps-deny{background:#fff;color:#1a5fff}',
    '.fine{color:#646a73;font-size:.85rem;margin:1.25rem 0 0}.fine code{white-space:nowrap}',
  ].join('');
  const initials = user.name
    .split(/\s+/)
    .filter(Boolean)
    .slice(0, 2)
    .map((word) => word.charAt(0).toUpperCase())
    .join('');
  const scopes = scope
    .split(',')
    .map((name) => `<li>${escapeHtml(name)}</li>`)
    .join('');
  // One line per form: tests match each form, from <form> to </form>, as a single line.
  const decisionForm = (decision: 'allow' | 'deny', id: string, label: string) =>
    `<form method="post" action="/oauth2/auth/decision">` +
    `<input type="hidden" name="request_id" value="${escapeHtml(requestId)}">` +
    `<input type="hidden" name="decision" value="${decision}">` +
    `<button type="submit" id="${id}">${label}</button></form>`;
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width,initial-scale=1">',
    '<title>WPS 365 — Authorize</title>',
    `<link rel="icon" href="data:image/svg+xml,${encodeURIComponent(logo)}">`,
    `<style>${css}</style></head><body>`,
    `<header class="top"><div class="top-in">${logo}<span class="brand">WPS 365</span>`,
    '<span class="sub">· Authorization</span></div></header>',
    '<main class="card">',
    '<h1>Authorize this application?</h1>',
    `<div class="account"><span class="avatar" aria-hidden="true">${escapeHtml(initials)}</span>`,
    `<span>Signed in as <strong id="wps-user-name">${escapeHtml(user.name)}</strong></span></div>`,
    `<p>The application <code id="wps-client-id">${escapeHtml(clientId)}</code> asks for:</p>`,
    `<ul id="wps-scopes">${scopes}</ul>`,
    '<div class="actions">',
    decisionForm('deny', 'wps-deny', 'Deny'),
    decisionForm('allow', 'wps-allow', 'Allow'),
    '</div>',
    '<p class="fine">A fake WPS 365 for demos and tests, from <code>express-wps-oauth/testing</code>: nothing leaves this ' +
      'computer.</p>',
    '</main></body></html>',
  ].join('\n');
}

class FakeWpsServer {
  readonly requests: RecordedRequest[] = [];
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly faults: FakeFault[] = [];
  private readonly apiFaults: FakeFault[] = [];
  private readonly codes = new Map<string, AuthorizationRequest & Expiring>();
  private readonly pendingConsents = new Map<string, AuthorizationRequest & Expiring>();
  private readonly accessTokens = new Map<string, AccessTokenRecord>();
  private readonly refreshTokens = new Map<string, RefreshTokenRecord>();
  private readonly signIns = new Map<string, Grant>();
  private readonly routes = new Map<string, Route>([
    ['/oauth2/auth', { method: 'GET', handle: (ctx) => this.handleAuthorize(ctx) }],
    ['/oauth2/auth/decision', { method: 'POST', handle: (ctx) => this.handleDecision(ctx) }],
    ['/oauth2/token', { method: 'POST', handle: (ctx) => this.handleToken(ctx) }],
    ['/v7/users/current', { method: 'GET', handle: (ctx) => this.handleCurrentUser(ctx) }],
    ['/v7/echo', { method: 'POST', handle: (ctx) => this.handleEcho(ctx) }],
    ['/v7/ping', { method: 'GET', handle: (ctx) => this.handlePing(ctx) }],
  ]);
  private closing: Promise<void> | undefined;

  /** The fake's time, for the lifetimes of codes and tokens: the test clock when one was given. */
  private now(): number {
    return this.settings.clock.now();
  }

  constructor(private readonly settings: Settings) {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => this.answerFailure(res, error));
    });
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  listen(): Promise<string> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => {
        const { port } = this.server.address() as AddressInfo;
        resolve(`http://127.0.0.1:${port}`);
      });
    });
  }

  close(): Promise<void> {
    this.closing ??= new Promise((resolve) => {
      for (const timer of this.timers) clearTimeout(timer);
      this.timers.clear();
      this.server.close(() => resolve());
      for (const socket of this.sockets) socket.destroy();
    });
    return this.closing;
  }

  tokenRequests(grantType?: string): RecordedRequest[] {
    return this.requests.filter(
      (r) =>
        r.method === 'POST' &&
        r.path === '/oauth2/token' &&
        (grantType === undefined || r.form['grant_type'] === grantType),
    );
  }

  queueTokenFault(fault: FakeFault, times = 1): void {
    queueFault(this.faults, 'queueTokenFault', fault, times);
  }

  queueApiFault(fault: FakeFault, times = 1): void {
    queueFault(this.apiFaults, 'queueApiFault', fault, times);
  }

  apiRequests(path?: string): RecordedRequest[] {
    return this.requests.filter((r) => r.path.startsWith('/v7/') && (path === undefined || r.path === path));
  }

  mintTokens(opts: { accessTokenTtlSeconds?: number; refreshTokenTtlSeconds?: number } = {}): FakeTokenPair {
    return this.issueUserTokens(undefined, opts.accessTokenTtlSeconds, opts.refreshTokenTtlSeconds);
  }

  prepareSignIn(signIn: FakeSignIn): string {
    const ttl = (name: 'accessTokenTtlSeconds' | 'refreshTokenTtlSeconds') => {
      const value = signIn[name];
      return value === undefined ? undefined : requirePositiveInteger(name, value, 'prepareSignIn');
    };
    const ticket = randomPart(16);
    this.signIns.set(ticket, {
      user: { ...this.settings.user, ...signIn.user },
      accessTokenTtlSeconds: ttl('accessTokenTtlSeconds'),
      refreshTokenTtlSeconds: ttl('refreshTokenTtlSeconds'),
    });
    return ticket;
  }

  /** A token pair for `grant` (the fake's own user without one); explicit lifetimes win over the grant's. */
  private issueUserTokens(
    grant: Grant | undefined,
    accessTtlSeconds?: number,
    refreshTtlSeconds?: number,
  ): FakeTokenPair {
    const accessTtl = requirePositiveInteger(
      'accessTokenTtlSeconds',
      accessTtlSeconds ?? grant?.accessTokenTtlSeconds ?? this.settings.accessTokenTtlSeconds,
    );
    const refreshTtl = requirePositiveInteger(
      'refreshTokenTtlSeconds',
      refreshTtlSeconds ?? grant?.refreshTokenTtlSeconds ?? this.settings.refreshTokenTtlSeconds,
    );
    const refreshToken = `kso_rt_${randomPart(32)}`;
    this.refreshTokens.set(refreshToken, { expiresAt: this.now() + refreshTtl * 1000, grant });
    return {
      access_token: this.issueAccessToken('user', accessTtl, grant),
      expires_in: accessTtl,
      refresh_token: refreshToken,
      refresh_expires_in: refreshTtl,
      token_type: 'bearer',
    };
  }

  expireAccessTokens(): void {
    const now = this.now();
    for (const record of this.accessTokens.values()) record.expiresAt = Math.min(record.expiresAt, now);
  }

  setOptions(patch: FakeWpsRuntimeOptions): void {
    applyRuntimeOptions(this.settings, patch);
  }

  reset(): void {
    this.requests.length = 0;
    this.faults.length = 0;
    this.apiFaults.length = 0;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { path, query } = splitUrl(req.url ?? '/');
    const body = await readBody(req);
    const isForm = body !== undefined && isFormContentType(req.headers['content-type']);
    const form = isForm ? new URLSearchParams(body.toString('utf8')) : undefined;
    this.requests.push({
      method: req.method ?? '',
      path,
      query: firstValues(query),
      headers: { ...req.headers },
      body: body?.toString('utf8') ?? '',
      form: form ? firstValues(form) : {},
      at: Date.now(),
    });
    if (body === undefined) throw new WpsHttpError(413, 41300000, 'payload_too_large', 'request body exceeds 1 MB');
    if (path.startsWith('/v7/')) {
      const fault = this.apiFaults.shift();
      if (fault && 'delayMs' in fault) await this.sleep(fault.delayMs);
      if (fault && !('delayMs' in fault)) {
        this.answerWithFault(req, res, fault);
        return;
      }
      if (this.settings.requireSignature) this.verifySignature(req, body);
    }
    const route = this.routes.get(path);
    if (!route) throw new WpsHttpError(404, 40400000, 'not_found', `no endpoint at ${path}`);
    if (req.method !== route.method) {
      res.setHeader('Allow', route.method);
      throw new WpsHttpError(405, 40500000, 'method_not_allowed', `${path} accepts only ${route.method}`);
    }
    await route.handle({ req, res, query, form, body });
  }

  /** KSO-1, computed here independently of the library's signing code. */
  private verifySignature(req: IncomingMessage, body: Buffer): void {
    const date = req.headers['x-kso-date'];
    const authorization = req.headers['x-kso-authorization'];
    if (typeof date !== 'string' || typeof authorization !== 'string') {
      throw invalidSignature('X-Kso-Date and X-Kso-Authorization headers are required');
    }
    const signedAt = Date.parse(date);
    if (!Number.isFinite(signedAt) || Math.abs(Date.now() - signedAt) > MAX_CLOCK_SKEW_MS) {
      throw invalidSignature('X-Kso-Date is not an RFC 1123 date within 15 minutes of now');
    }
    const match = KSO_PATTERN.exec(authorization);
    if (!match || match[1] !== this.settings.clientId) {
      throw invalidSignature("X-Kso-Authorization must be 'KSO-1 <APPID>:<hex signature>' with this app's APPID");
    }
    const bodyHash = body.length === 0 ? '' : createHash('sha256').update(body).digest('hex');
    const contentType = req.headers['content-type'] ?? '';
    const expected = createHmac('sha256', this.settings.clientSecret)
      .update(`KSO-1${req.method ?? ''}${req.url ?? ''}${contentType}${date}${bodyHash}`)
      .digest();
    if (!timingSafeEqual(expected, Buffer.from(match[2] ?? '', 'hex'))) {
      throw invalidSignature('the signature does not match the request');
    }
  }

  private answerFailure(res: ServerResponse, error: unknown): void {
    if (error instanceof WpsHttpError) sendError(res, error);
    else if (!res.headersSent && !res.destroyed) sendJson(res, 500, { code: 50000000, msg: 'server_error' });
  }

  private handleAuthorize({ req, res, query }: RequestContext): void {
    const request = this.validateAuthorizationRequest(query);
    request.grant = this.takeSignIn(req);
    if (this.settings.consent === 'auto') {
      sendRedirect(res, this.redirectWithCode(request));
      return;
    }
    const requestId = randomPart(16);
    this.pendingConsents.set(requestId, { ...request, expiresAt: this.now() + this.settings.codeTtlSeconds * 1000 });
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
    const user = request.grant?.user ?? this.settings.user;
    res.end(renderConsentPage(user, this.settings.clientId, request.scope, requestId));
  }

  /** The sign-in named by the request's `X-Fake-Wps-Sign-In` header, used up; `undefined` without the header. */
  private takeSignIn(req: IncomingMessage): Grant | undefined {
    const ticket = req.headers[FAKE_SIGN_IN_HEADER];
    if (ticket === undefined) return undefined;
    const grant = typeof ticket === 'string' ? this.signIns.get(ticket) : undefined;
    if (grant === undefined) {
      throw invalidRequest("'X-Fake-Wps-Sign-In' header names no prepared sign-in (unknown, or already used)");
    }
    this.signIns.delete(String(ticket));
    return grant;
  }

  private validateAuthorizationRequest(query: URLSearchParams): AuthorizationRequest {
    rejectRepeated(query);
    if (requireParam(query, 'response_type') !== 'code') throw invalidRequest("'response_type' must be 'code'");
    if (requireParam(query, 'client_id') !== this.settings.clientId) {
      throw invalidRequest("'client_id' parameter is unknown");
    }
    const redirectUri = requireParam(query, 'redirect_uri');
    if (!isHttpUrl(redirectUri)) {
      throw invalidRequest("'redirect_uri' parameter must be an absolute http(s) URL without a fragment");
    }
    if (this.settings.redirectUris && !this.settings.redirectUris.includes(redirectUri)) {
      throw invalidRequest("'redirect_uri' parameter does not match any registered callback");
    }
    const scope = requireParam(query, 'scope');
    if (!scope.split(',').every((name) => SCOPE_PATTERN.test(name))) {
      throw invalidRequest("'scope' parameter must be comma-separated dotted names without spaces");
    }
    return { redirectUri, scope, state: query.get('state') ?? undefined, grant: undefined };
  }

  private handleDecision({ res, form }: RequestContext): void {
    if (!form) throw invalidRequest(`Content-Type must be ${FORM_TYPE}`);
    rejectRepeated(form);
    const { request_id: requestId, decision } = requireParams(form, ['request_id', 'decision']);
    if (decision !== 'allow' && decision !== 'deny') throw invalidRequest("'decision' must be 'allow' or 'deny'");
    const pending = this.pendingConsents.get(requestId);
    this.pendingConsents.delete(requestId);
    if (!pending || isExpired(pending, this.now())) throw invalidRequest("'request_id' is unknown, used or expired");
    sendRedirect(res, decision === 'allow' ? this.redirectWithCode(pending) : this.redirectDenied(pending));
  }

  private redirectWithCode(request: AuthorizationRequest): string {
    const code = `kso_ac_${randomPart(16)}.${randomPart(16)}`;
    this.codes.set(code, { ...request, expiresAt: this.now() + this.settings.codeTtlSeconds * 1000 });
    const params = new URLSearchParams({ code });
    if (request.state !== undefined) params.set('state', request.state);
    return appendQuery(request.redirectUri, params);
  }

  private redirectDenied(request: AuthorizationRequest): string {
    const params = new URLSearchParams({ error: 'access_denied', error_description: 'The user denied access' });
    if (request.state !== undefined) params.set('state', request.state);
    return appendQuery(request.redirectUri, params);
  }

  private async handleToken({ req, res, form }: RequestContext): Promise<void> {
    const fault = this.faults.shift();
    if (fault && 'delayMs' in fault) await this.sleep(fault.delayMs);
    await this.sleep(this.settings.tokenLatencyMs);
    if (fault && !('delayMs' in fault)) {
      this.answerWithFault(req, res, fault);
      return;
    }
    if (!form) throw invalidRequest(`Content-Type must be ${FORM_TYPE}`);
    rejectRepeated(form);
    const body = this.grant(requireParam(form, 'grant_type'), form);
    sendJson(res, 200, body, { 'Cache-Control': 'no-store', Pragma: 'no-cache' });
  }

  private grant(grantType: string, form: URLSearchParams): object {
    switch (grantType) {
      case 'authorization_code':
        return this.grantAuthorizationCode(form);
      case 'refresh_token':
        return this.grantRefreshToken(form);
      case 'client_credentials':
        return this.grantClientCredentials(form);
      default:
        throw new WpsHttpError(400, 40000004, 'unsupported_grant_type', `grant_type '${grantType}' is not supported`);
    }
  }

  private authenticateClient(clientId: string, clientSecret: string): void {
    if (clientId !== this.settings.clientId || clientSecret !== this.settings.clientSecret) throw invalidClient();
  }

  private grantAuthorizationCode(form: URLSearchParams): object {
    const p = requireParams(form, ['client_id', 'client_secret', 'code', 'redirect_uri']);
    this.authenticateClient(p.client_id, p.client_secret);
    const issued = this.codes.get(p.code);
    if (!issued || isExpired(issued, this.now())) {
      this.codes.delete(p.code);
      throw invalidGrant('code is unknown, already used or expired');
    }
    if (issued.redirectUri !== p.redirect_uri) {
      throw invalidGrant("'redirect_uri' does not match the one the code was issued for");
    }
    this.codes.delete(p.code);
    return this.toWire(this.issueUserTokens(issued.grant));
  }

  private grantRefreshToken(form: URLSearchParams): object {
    const p = requireParams(form, ['refresh_token', 'client_id', 'client_secret']);
    this.authenticateClient(p.client_id, p.client_secret);
    const record = this.refreshTokens.get(p.refresh_token);
    if (!record || isExpired(record, this.now())) {
      this.refreshTokens.delete(p.refresh_token);
      throw invalidGrant('refresh_token is unknown, expired or already rotated');
    }
    if (this.settings.rotateRefreshTokens) {
      this.refreshTokens.delete(p.refresh_token);
      return this.toWire(this.issueUserTokens(record.grant));
    }
    const ttl = record.grant?.accessTokenTtlSeconds ?? this.settings.accessTokenTtlSeconds;
    return this.toWire({
      access_token: this.issueAccessToken('user', ttl, record.grant),
      expires_in: ttl,
      refresh_token: p.refresh_token,
      refresh_expires_in: secondsLeft(record, this.now()),
      token_type: 'bearer',
    });
  }

  private grantClientCredentials(form: URLSearchParams): object {
    const p = requireParams(form, ['client_id', 'client_secret']);
    this.authenticateClient(p.client_id, p.client_secret);
    const ttl = this.settings.accessTokenTtlSeconds;
    return { access_token: this.issueAccessToken('app', ttl), expires_in: ttl, token_type: 'bearer' };
  }

  private toWire(pair: FakeTokenPair): object {
    if (!this.settings.refreshExpiresInAsString) return pair;
    return { ...pair, refresh_expires_in: String(pair.refresh_expires_in) };
  }

  private issueAccessToken(kind: AccessTokenRecord['kind'], ttlSeconds: number, grant?: Grant): string {
    const token = `fake_at_${randomPart(32)}`;
    this.accessTokens.set(token, { kind, expiresAt: this.now() + ttlSeconds * 1000, grant });
    return token;
  }

  private authenticate(req: IncomingMessage): AccessTokenRecord {
    const token = BEARER_PATTERN.exec(req.headers.authorization ?? '')?.[1];
    if (!token) throw invalidToken('Authorization: Bearer <access_token> header is missing');
    const record = this.accessTokens.get(token);
    if (!record || isExpired(record, this.now())) throw invalidToken('access token is unknown or expired');
    return record;
  }

  private handleCurrentUser({ req, res }: RequestContext): void {
    const record = this.authenticate(req);
    if (record.kind !== 'user') throw invalidToken('an app access token has no user; use a user access token');
    const { id, name, avatar, companyId } = record.grant?.user ?? this.settings.user;
    sendJson(res, 200, { code: 0, msg: 'success', data: { id, user_name: name, avatar, company_id: companyId } });
  }

  /** `POST /v7/echo` (user or app token): a JSON body comes back as `data`. */
  private handleEcho({ req, res, body }: RequestContext): void {
    this.authenticate(req);
    let data: unknown;
    try {
      data = JSON.parse(body.toString('utf8'));
    } catch {
      throw invalidRequest('the body must be JSON');
    }
    sendJson(res, 200, { code: 0, msg: 'success', data });
  }

  /** `GET /v7/ping` (user or app token): the query comes back as `data.query`, the token kind as `data.kind`. */
  private handlePing({ req, res, query }: RequestContext): void {
    const record = this.authenticate(req);
    sendJson(res, 200, { code: 0, msg: 'success', data: { kind: record.kind, query: firstValues(query) } });
  }

  private answerWithFault(
    req: IncomingMessage,
    res: ServerResponse,
    fault: Exclude<FakeFault, { delayMs: number }>,
  ): void {
    if ('status' in fault) this.answerWithStatus(res, fault);
    else if ('reset' in fault) req.socket.resetAndDestroy();
    else if ('malformedJson' in fault) this.answerRaw(res, MALFORMED_JSON);
    else if ('bodyBytes' in fault) this.answerRaw(res, paddedJson(fault.bodyBytes));
    else if ('drip' in fault) this.drip(res, fault.drip.bytes, fault.drip.intervalMs);
    // { hang: true }: leave the response open; close() destroys the socket.
  }

  private answerWithStatus(res: ServerResponse, fault: Extract<FakeFault, { status: number }>): void {
    const { status, body, contentType } = fault;
    const text = body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body);
    const defaultType = typeof body === 'string' ? 'text/plain; charset=utf-8' : JSON_TYPE;
    const type = contentType ?? (body === undefined ? undefined : defaultType);
    res.writeHead(status, type === undefined ? {} : { 'Content-Type': type });
    res.end(text);
  }

  private answerRaw(res: ServerResponse, text: string): void {
    res.writeHead(200, { 'Content-Type': JSON_TYPE, 'Content-Length': String(Buffer.byteLength(text)) });
    res.end(text);
  }

  private drip(res: ServerResponse, bytes: number, intervalMs: number): void {
    const payload = Buffer.from(paddedJson(Math.max(bytes, EMPTY_PADDED_JSON.length)).slice(0, bytes));
    res.writeHead(200, { 'Content-Type': JSON_TYPE, 'Content-Length': String(bytes) });
    res.flushHeaders();
    let sent = 0;
    const timer = setInterval(() => {
      res.write(payload.subarray(sent, sent + 1));
      sent += 1;
      if (sent === bytes) {
        this.stopTimer(timer);
        res.end();
      }
    }, intervalMs);
    this.timers.add(timer);
    res.on('close', () => this.stopTimer(timer));
  }

  private sleep(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        resolve();
      }, ms);
      this.timers.add(timer);
    });
  }

  private stopTimer(timer: NodeJS.Timeout): void {
    clearInterval(timer);
    this.timers.delete(timer);
  }
}

/**
 * Start a strict local imitation of the WPS 365 OAuth endpoints on 127.0.0.1 (random port), so apps can test
 * sign-in, refresh and failure handling without the real platform.
 *
 * @example
 * const fake = await startFakeWps({ redirectUris: ['http://localhost:3000/auth/callback'] });
 * app.use(wpsAuth({ baseUrl: fake.url, clientId: 'test-client-id', clientSecret: 'test-client-secret', ... }));
 * afterAll(() => fake.close());
 */
export async function startFakeWps(options: FakeWpsOptions = {}): Promise<FakeWps> {
  const settings = resolveSettings(options);
  const fake = new FakeWpsServer(settings);
  const url = await fake.listen();
  return {
    url,
    requests: fake.requests,
    tokenRequests: (grantType) => fake.tokenRequests(grantType),
    queueTokenFault: (fault, times) => fake.queueTokenFault(fault, times),
    apiRequests: (path) => fake.apiRequests(path),
    queueApiFault: (fault, times) => fake.queueApiFault(fault, times),
    mintTokens: (opts) => fake.mintTokens(opts),
    prepareSignIn: (signIn) => fake.prepareSignIn(signIn),
    expireAccessTokens: () => fake.expireAccessTokens(),
    setOptions: (patch) => fake.setOptions(patch),
    reset: () => fake.reset(),
    close: () => fake.close(),
    sendEvent: (eventUrl, event) => sendWpsEvent(eventUrl, event, settings),
  };
}
