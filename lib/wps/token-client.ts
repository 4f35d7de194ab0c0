import axios, { type AxiosInstance } from 'axios';
import type { ResolvedConfig } from '../config';
import { cleanExternalText, WpsAuthError } from '../errors';
import { classifyTransportFailure } from './transport-failure';
import { parseSeconds, type TokenResponse } from '../session/token-record';

const FORM = 'application/x-www-form-urlencoded';

/** What {@link TokenClient} reads from the configuration (the app client has no `redirectUri`: it passes `''`). */
export type TokenClientConfig = Pick<
  ResolvedConfig,
  'clientId' | 'clientSecret' | 'redirectUri' | 'baseUrl' | 'timeoutMs' | 'maxResponseBytes'
>;

/**
 * All HTTP to WPS's token endpoint. Every failure becomes a {@link WpsAuthError}; the axios error (whose
 * `config.data` holds the client secret) is never thrown, wrapped or logged.
 */
export class TokenClient {
  private readonly http: AxiosInstance;

  constructor(private readonly config: TokenClientConfig) {
    this.http = axios.create({
      baseURL: config.baseUrl,
      timeout: config.timeoutMs,
      maxContentLength: config.maxResponseBytes,
      maxRedirects: 0,
      responseType: 'text',
      transformResponse: [(data: unknown) => data],
      validateStatus: () => true,
      headers: { Accept: 'application/json' },
    });
  }

  /** Exchange an authorization code: exactly the five form fields of the platform's contract. */
  exchangeCode(code: string): Promise<TokenResponse> {
    const { clientId, clientSecret, redirectUri } = this.config;
    const form = {
      grant_type: 'authorization_code',
      client_id: clientId,
      client_secret: clientSecret,
      code,
      redirect_uri: redirectUri,
    };
    return this.post(form, 'code exchange', [clientSecret, code]);
  }

  /** Trade a refresh token for a new token pair (WPS rotates the refresh token). */
  refresh(refreshToken: string): Promise<TokenResponse> {
    const { clientId, clientSecret } = this.config;
    const form = {
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
      client_id: clientId,
      client_secret: clientSecret,
    };
    return this.post(form, 'token refresh', [clientSecret, refreshToken]);
  }

  /** Ask for an app access token (`client_credentials`: no user, no refresh token). */
  clientCredentials(): Promise<TokenResponse> {
    const { clientId, clientSecret } = this.config;
    const form = { grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret };
    return this.post(form, 'app token request', [clientSecret]);
  }

  private async post(form: Record<string, string>, what: string, secrets: string[]): Promise<TokenResponse> {
    // axios's `timeout` is an idle timeout; the signal bounds the whole call, so a slow drip cannot hold us.
    const signal = AbortSignal.timeout(this.config.timeoutMs);
    let status: number;
    let body: unknown;
    try {
      const res = await this.http.post<unknown>('/oauth2/token', new URLSearchParams(form).toString(), {
        headers: { 'Content-Type': FORM },
        signal,
      });
      status = res.status;
      body = res.data;
    } catch (err) {
      throw this.transportError(err, what, signal.aborted);
    }
    return parseTokenResponse(status, body, what, [...secrets, this.config.clientId]);
  }

  private transportError(err: unknown, what: string, aborted: boolean): WpsAuthError {
    const failure = classifyTransportFailure(err, aborted);
    switch (failure.kind) {
      case 'timeout':
        return new WpsAuthError('wps_timeout', `WPS did not answer the ${what} within ${this.config.timeoutMs} ms`);
      case 'too_large':
        return new WpsAuthError(
          'wps_unavailable',
          `WPS answered the ${what} with a body over ${this.config.maxResponseBytes} bytes (maxResponseBytes); it was refused`,
        );
      case 'unreachable':
        return new WpsAuthError(
          'wps_unavailable',
          `WPS could not be reached for the ${what} (${failure.errno ?? 'network error'})`,
        );
    }
  }
}

function malformed(what: string, status: number, why: string): WpsAuthError {
  return new WpsAuthError('wps_unavailable', `WPS answered the ${what} with a malformed body (HTTP ${status}): ${why}`);
}

/**
 * Apply the platform's failure rule: parse the JSON whatever the status; it is a failure when the status is not
 * 2xx, or `code` is present and non-zero, or `access_token` is missing.
 */
export function parseTokenResponse(status: number, raw: unknown, what: string, secrets: string[]): TokenResponse {
  let json: unknown;
  try {
    json = typeof raw === 'string' ? JSON.parse(raw) : undefined;
  } catch {
    json = undefined;
  }
  const body =
    typeof json === 'object' && json !== null && !Array.isArray(json) ? (json as Record<string, unknown>) : undefined;
  const wpsCode = typeof body?.code === 'number' ? body.code : parseSeconds(body?.code);
  // WPS might echo what it was sent: secrets are redacted inside cleanExternalText, before its length cut.
  const wpsMsg = cleanExternalText(body?.msg, 200, secrets);
  const details = { ...(wpsCode !== undefined && { wpsCode }), ...(wpsMsg !== undefined && { wpsMsg }) };

  if (status >= 500 || status === 429) {
    return fail(new WpsAuthError('wps_unavailable', `WPS answered the ${what} with HTTP ${status}`, details));
  }
  if (body === undefined) return fail(malformed(what, status, 'not a JSON object'));
  const failedCode = body.code !== undefined && body.code !== 0 && body.code !== '0';
  if (
    status < 200 ||
    status >= 300 ||
    failedCode ||
    typeof body.access_token !== 'string' ||
    body.access_token === ''
  ) {
    const reason = wpsMsg ?? (failedCode || status >= 300 ? 'no message' : 'no access_token in the answer');
    const codeText = wpsCode !== undefined ? `, code ${wpsCode}` : '';
    return fail(
      new WpsAuthError('wps_rejected', `WPS rejected the ${what}: ${reason} (HTTP ${status}${codeText})`, details),
    );
  }
  const expiresIn = parseSeconds(body.expires_in);
  if (expiresIn === undefined) return fail(malformed(what, status, 'expires_in is not a positive number'));
  const res: TokenResponse = { access_token: body.access_token, expires_in: expiresIn };
  if (body.refresh_token !== undefined) {
    if (typeof body.refresh_token !== 'string' || body.refresh_token === '') {
      return fail(malformed(what, status, 'refresh_token is not a string'));
    }
    res.refresh_token = body.refresh_token;
  }
  if (body.refresh_expires_in !== undefined) {
    const refreshExpiresIn = parseSeconds(body.refresh_expires_in);
    if (refreshExpiresIn === undefined)
      return fail(malformed(what, status, 'refresh_expires_in is not a positive number'));
    res.refresh_expires_in = refreshExpiresIn;
  }
  if (typeof body.token_type === 'string') res.token_type = body.token_type;
  return res;
}

function fail(err: WpsAuthError): never {
  throw err;
}
