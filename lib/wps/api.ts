import axios, {
  AxiosHeaders,
  CanceledError,
  type AxiosAdapter,
  type AxiosInstance,
  type AxiosResponse,
  type InternalAxiosRequestConfig,
} from 'axios';
import { WpsApiError } from '../errors';
import { readEnvelope } from './envelope';
import { signKso1, type KsoCredentials } from './signing';
import { classifyTransportFailure } from './transport-failure';

/** Where the API's bearer tokens come from: the user's session, or the app client's cache. Internal. */
export interface TokenSource {
  /** A token valid for the next call, refreshed first when it is about to expire. */
  get(): Promise<string>;
  /**
   * WPS answered 401 to `token`: make the next `get()` bring another one (unless it was replaced already).
   * Returns `false` when no other token can come, so retrying is pointless.
   */
  invalidate(token: string): boolean;
}

/** What an API instance needs from the configuration, resolved once per factory. Internal. */
export interface ApiSettings {
  baseUrl: string;
  timeoutMs: number;
  maxResponseBytes: number;
  /** Sign every request with KSO-1 when set. */
  signing: KsoCredentials | undefined;
}

/** The settings of a factory whose options hold these fields. */
export function apiSettings(config: {
  baseUrl: string;
  timeoutMs: number;
  maxResponseBytes: number;
  signRequests: boolean;
  clientId: string;
  clientSecret: string;
}): ApiSettings {
  return {
    baseUrl: config.baseUrl,
    timeoutMs: config.timeoutMs,
    maxResponseBytes: config.maxResponseBytes,
    signing: config.signRequests ? { appId: config.clientId, appKey: config.clientSecret } : undefined,
  };
}

/** A {@link TokenSource} that always gives `token` and cannot replace it (e.g. right after the code exchange). */
export function fixedToken(token: string): TokenSource {
  return { get: () => Promise.resolve(token), invalidate: () => false };
}

/** One request as the adapter handles it: where it goes, and the bytes to sign. */
interface Call {
  config: InternalAxiosRequestConfig;
  method: string;
  url: URL;
  /** Method and path, for errors: never the query (the app's data) or a header. */
  where: { method: string; path: string };
  body: string | Uint8Array | undefined;
}

const httpAdapter = axios.getAdapter('http');

function isStream(data: unknown): data is { destroy(): void; pipe: unknown } {
  const s = data as { destroy?: unknown; pipe?: unknown } | null;
  return typeof s === 'object' && s !== null && typeof s.pipe === 'function' && typeof s.destroy === 'function';
}

/** The bytes axios will put on the wire, for signing; the http adapter sends strings as UTF-8. */
function signableBody(data: unknown): string | Uint8Array | undefined {
  if (data === undefined || data === null || typeof data === 'string' || data instanceof Uint8Array) {
    return data ?? undefined;
  }
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  throw new TypeError(
    'express-wps-oauth: signRequests needs the whole request body up front to sign it; a stream, FormData or ' +
      'Blob body cannot be signed. Send a JSON object, a string or a Buffer.',
  );
}

/** The request as a {@link Call}, refusing a URL outside WPS's origin (the token goes only there). */
function toCall(config: InternalAxiosRequestConfig, origin: string, signing: KsoCredentials | undefined): Call {
  const method = (config.method ?? 'get').toUpperCase();
  let url: URL;
  try {
    url = new URL(axios.getUri(config));
  } catch {
    throw new TypeError(`express-wps-oauth: the WPS API could not build a URL for this ${method} request`);
  }
  if (url.origin !== origin) {
    throw new TypeError(
      `express-wps-oauth: the WPS API sends the access token only to ${origin}; ` +
        `pass a path such as '/v7/users/current', not a URL of another origin`,
    );
  }
  const body = signing === undefined ? undefined : signableBody(config.data);
  return { config, method, url, where: { method, path: url.pathname }, body };
}

/** The request's headers with the bearer token, and the KSO-1 headers when signing. */
function authorized(call: Call, token: string, signing: KsoCredentials | undefined): InstanceType<typeof AxiosHeaders> {
  const headers = new AxiosHeaders(call.config.headers);
  headers.set('Authorization', `Bearer ${token}`);
  if (signing !== undefined) {
    const contentType = headers.get('Content-Type');
    const signed = signKso1(signing, {
      method: call.method,
      requestUri: call.url.pathname + call.url.search,
      contentType: typeof contentType === 'string' ? contentType : '',
      body: call.body,
    });
    headers.set('X-Kso-Date', signed['X-Kso-Date']);
    headers.set('X-Kso-Authorization', signed['X-Kso-Authorization']);
  }
  return headers;
}

/** The caller's abort signal combined with one that bounds the whole call (axios's `timeout` is an idle timeout). */
function deadlineOf(config: InternalAxiosRequestConfig): {
  signal: InternalAxiosRequestConfig['signal'];
  limit?: AbortSignal;
} {
  const limit = config.timeout !== undefined && config.timeout > 0 ? AbortSignal.timeout(config.timeout) : undefined;
  const user = config.signal;
  if (limit === undefined) return { signal: user };
  return { signal: user instanceof AbortSignal ? AbortSignal.any([user, limit]) : (user ?? limit), limit };
}

/** Send one attempt with `token`. The token lives only in this copy of the config, handed to the http adapter. */
async function send(call: Call, token: string, signing: KsoCredentials | undefined): Promise<AxiosResponse> {
  const { config } = call;
  const { signal, limit } = deadlineOf(config);
  try {
    // The URL is complete (base and query applied): the adapter gets neither again.
    const rest = { ...config };
    delete rest.baseURL;
    delete rest.params;
    delete rest.signal;
    const res = await httpAdapter({
      ...rest,
      url: call.url.href,
      headers: authorized(call, token, signing),
      ...(signal !== undefined && { signal }),
      validateStatus: null,
    });
    return { ...res, config };
  } catch (err) {
    throw transportError(err, call, limit?.aborted === true && config.signal?.aborted !== true);
  }
}

function discard(res: AxiosResponse): void {
  if (isStream(res.data)) res.data.destroy();
}

/** The error for a failed response; `refused` replaces the default wording (for 401s). */
function apiFailure(res: AxiosResponse, call: Call, token: string, refused?: string): WpsApiError {
  discard(res);
  const { wpsCode, wpsMsg } = readEnvelope(res.data, [token]) ?? {};
  const codeText = wpsCode !== undefined ? `, code ${wpsCode}` : '';
  const what = refused ?? `WPS answered ${call.method} ${call.where.path} with an error`;
  return new WpsApiError('wps_api_error', `${what}: ${wpsMsg ?? 'no message'} (HTTP ${res.status}${codeText})`, {
    ...call.where,
    wpsStatus: res.status,
    ...(wpsCode !== undefined && { wpsCode }),
    ...(wpsMsg !== undefined && { wpsMsg }),
  });
}

/** Whether a response is a failure: a status `validateStatus` refuses, or an envelope whose `code` is not 0. */
function failed(res: AxiosResponse, validateStatus: InternalAxiosRequestConfig['validateStatus']): boolean {
  if (validateStatus && !validateStatus(res.status)) return true;
  return readEnvelope(res.data)?.failed === true;
}

/** Send the call; a 401 gets one new token and one retry; every failure rejects with a {@link WpsApiError}. */
async function sendWithRetry(call: Call, tokens: TokenSource, signing: KsoCredentials | undefined) {
  const { method, where } = call;
  let token = await tokens.get();
  let res = await send(call, token, signing);
  if (res.status === 401) {
    if (!tokens.invalidate(token)) {
      throw apiFailure(res, call, token, `WPS refused the access token for ${method} ${where.path}`);
    }
    discard(res);
    token = await tokens.get();
    res = await send(call, token, signing);
    if (res.status === 401) {
      throw apiFailure(
        res,
        call,
        token,
        `WPS refused the access token for ${method} ${where.path} even after a refresh`,
      );
    }
  }
  if (failed(res, call.config.validateStatus)) throw apiFailure(res, call, token);
  return res;
}

/** Failures after the adapter (e.g. `responseType: 'json'` with a body that is not JSON), as a {@link WpsApiError}. */
function unreadableBody(err: unknown): never {
  if (!axios.isAxiosError(err) || axios.isCancel(err)) throw err;
  const config = err.config;
  const method = (config?.method ?? 'get').toUpperCase();
  let path = '';
  try {
    path = config === undefined ? '' : new URL(axios.getUri(config)).pathname;
  } catch {
    // keep '' — the URL was the problem
  }
  const status = err.response?.status;
  throw new WpsApiError(
    'wps_unavailable',
    `WPS answered ${method} ${path} with a body that could not be read (${err.code ?? 'error'})`,
    { method, path, ...(status !== undefined && { wpsStatus: status }) },
  );
}

/**
 * Build the axios instance behind `req.wps.api`: every request gets `Authorization: Bearer <fresh token>` (and
 * KSO-1 headers when signing), a 401 from WPS is answered by one refresh and one retry, and every failure — a
 * non-2xx status, a `{ code ≠ 0 }` envelope, a timeout — rejects with a {@link WpsApiError}. The token lives only
 * in a copy of the request config handed to the http adapter, so no error or response config ever holds it.
 */
export function createApi(settings: ApiSettings, tokens: TokenSource): AxiosInstance {
  const origin = new URL(settings.baseUrl).origin;
  const { signing } = settings;
  const wpsAdapter: AxiosAdapter = (config) => sendWithRetry(toCall(config, origin, signing), tokens, signing);
  const api = axios.create({
    baseURL: settings.baseUrl,
    timeout: settings.timeoutMs,
    maxContentLength: settings.maxResponseBytes,
    maxRedirects: 0,
    headers: { Accept: 'application/json' },
    adapter: wpsAdapter,
  });
  api.interceptors.response.use(undefined, unreadableBody);
  return api;
}

/** Turn whatever the http adapter threw (an AxiosError whose config holds the token) into a safe error. */
function transportError(err: unknown, call: Call, timedOut: boolean): Error {
  const { config, where } = call;
  const { method, path } = where;
  if (axios.isCancel(err) && !timedOut) return new CanceledError(undefined, config);
  const failure = classifyTransportFailure(err, timedOut);
  switch (failure.kind) {
    case 'timeout':
      return new WpsApiError(
        'wps_timeout',
        `WPS did not answer ${method} ${path} within ${config.timeout ?? 0} ms`,
        where,
      );
    case 'too_large':
      return new WpsApiError(
        'wps_unavailable',
        `WPS answered ${method} ${path} with a body over ${String(config.maxContentLength)} bytes (maxResponseBytes); it was refused`,
        where,
      );
    case 'unreachable':
      return new WpsApiError(
        'wps_unavailable',
        `WPS could not be reached for ${method} ${path} (${failure.errno ?? 'network error'})`,
        where,
      );
  }
}
