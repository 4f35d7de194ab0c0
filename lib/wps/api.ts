import axios, {
  AxiosHeaders,
  CanceledError,
  type AxiosAdapter,
  type AxiosInstance,
  type AxiosResponse,
  type InternalAxiosRequestConfig,
} from 'axios';
import { WpsApiError } from '../errors';
import type { ResolvedConfig } from '../config';
import { cleanExternalText } from '../errors';
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

/** What an API instance needs from the configuration, resolved once. Internal. */
export interface ApiSettings {
  baseUrl: string;
  timeoutMs: number;
  maxResponseBytes: number;
  /** Sign every request with KSO-1 when set. */
  signing: KsoCredentials | undefined;
}

const settingsByConfig = new WeakMap<ResolvedConfig, ApiSettings>();

/** The {@link ApiSettings} of one `wpsAuth()` instance, computed once and shared by every request. */
export function apiSettingsOf(config: ResolvedConfig): ApiSettings {
  let settings = settingsByConfig.get(config);
  if (settings === undefined) {
    settings = {
      baseUrl: config.baseUrl,
      timeoutMs: config.timeoutMs,
      maxResponseBytes: config.maxResponseBytes,
      signing: config.signRequests ? { appId: config.clientId, appKey: config.clientSecret } : undefined,
    };
    settingsByConfig.set(config, settings);
  }
  return settings;
}

/** A {@link TokenSource} that always gives `token` and cannot replace it (e.g. right after the code exchange). */
export function fixedToken(token: string): TokenSource {
  return { get: () => Promise.resolve(token), invalidate: () => false };
}

interface Where {
  method: string;
  path: string;
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

/** WPS's `{ code, msg }` envelope from a raw (not yet transformed) response body, when there is one. */
function envelopeOf(data: unknown): { code?: unknown; msg?: unknown } | undefined {
  const text = typeof data === 'string' ? data : Buffer.isBuffer(data) ? data.toString('utf8') : undefined;
  if (text === undefined || !/^\s*\{/.test(text)) return undefined;
  try {
    const json: unknown = JSON.parse(text);
    return typeof json === 'object' && json !== null && !Array.isArray(json) ? json : undefined;
  } catch {
    return undefined;
  }
}

function numericCode(code: unknown): number | undefined {
  if (typeof code === 'number' && Number.isFinite(code)) return code;
  return typeof code === 'string' && /^-?\d{1,15}$/.test(code) ? Number(code) : undefined;
}

/** The error for a failed response; `refused` replaces the default wording (for 401s). */
function apiFailure(res: AxiosResponse, where: Where, token: string, refused?: string): WpsApiError {
  const envelope = envelopeOf(res.data);
  const code = envelope?.code;
  const wpsCode = code !== 0 && code !== '0' ? numericCode(code) : undefined;
  const wpsMsg = cleanExternalText(envelope?.msg, 200, [token]);
  const codeText = wpsCode !== undefined ? `, code ${wpsCode}` : '';
  const what = refused ?? `WPS answered ${where.method} ${where.path} with an error`;
  return new WpsApiError('wps_api_error', `${what}: ${wpsMsg ?? 'no message'} (HTTP ${res.status}${codeText})`, {
    ...where,
    wpsStatus: res.status,
    ...(wpsCode !== undefined && { wpsCode }),
    ...(wpsMsg !== undefined && { wpsMsg }),
  });
}

/** Whether a response is a failure: a status `validateStatus` refuses, or an envelope whose `code` is not 0. */
function failed(res: AxiosResponse, validateStatus: InternalAxiosRequestConfig['validateStatus']): boolean {
  if (validateStatus && !validateStatus(res.status)) return true;
  const code = envelopeOf(res.data)?.code;
  return code !== undefined && code !== 0 && code !== '0';
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

  const wpsAdapter: AxiosAdapter = async (config) => {
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
    const where: Where = { method, path: url.pathname };
    const body = signing === undefined ? undefined : signableBody(config.data);

    const send = async (token: string): Promise<AxiosResponse> => {
      const headers = new AxiosHeaders(config.headers);
      headers.set('Authorization', `Bearer ${token}`);
      if (signing !== undefined) {
        const contentType = headers.get('Content-Type');
        const signed = signKso1(signing, {
          method,
          requestUri: url.pathname + url.search,
          contentType: typeof contentType === 'string' ? contentType : '',
          body,
        });
        headers.set('X-Kso-Date', signed['X-Kso-Date']);
        headers.set('X-Kso-Authorization', signed['X-Kso-Authorization']);
      }
      // axios's `timeout` is an idle timeout; this signal bounds the whole call.
      const limit =
        config.timeout !== undefined && config.timeout > 0 ? AbortSignal.timeout(config.timeout) : undefined;
      const userSignal = config.signal;
      const signal =
        limit === undefined
          ? userSignal
          : userSignal instanceof AbortSignal
            ? AbortSignal.any([userSignal, limit])
            : (userSignal ?? limit);
      try {
        // The URL is complete (base and query applied above): the adapter gets neither again.
        const rest = { ...config };
        delete rest.baseURL;
        delete rest.params;
        delete rest.signal;
        const res = await httpAdapter({
          ...rest,
          url: url.href,
          headers,
          ...(signal !== undefined && { signal }),
          validateStatus: null,
        });
        return { ...res, config };
      } catch (err) {
        throw transportError(err, where, config, limit?.aborted === true && userSignal?.aborted !== true);
      }
    };

    let token = await tokens.get();
    let res = await send(token);
    if (res.status === 401) {
      discard(res);
      if (!tokens.invalidate(token)) {
        throw apiFailure(res, where, token, `WPS refused the access token for ${method} ${where.path}`);
      }
      token = await tokens.get();
      res = await send(token);
      if (res.status === 401) {
        discard(res);
        throw apiFailure(
          res,
          where,
          token,
          `WPS refused the access token for ${method} ${where.path} even after a refresh`,
        );
      }
    }
    if (failed(res, config.validateStatus)) {
      discard(res);
      throw apiFailure(res, where, token);
    }
    return res;
  };

  const api = axios.create({
    baseURL: settings.baseUrl,
    timeout: settings.timeoutMs,
    maxContentLength: settings.maxResponseBytes,
    maxRedirects: 0,
    headers: { Accept: 'application/json' },
    adapter: wpsAdapter,
  });
  // Failures after the adapter (e.g. `responseType: 'json'` with a body that is not JSON) are axios errors too.
  api.interceptors.response.use(undefined, (err: unknown) => {
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
  });
  return api;
}

function discard(res: AxiosResponse): void {
  if (isStream(res.data)) res.data.destroy();
}

/** Turn whatever the http adapter threw (an AxiosError whose config holds the token) into a safe error. */
function transportError(err: unknown, where: Where, config: InternalAxiosRequestConfig, timedOut: boolean): Error {
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
