import axios, { type AxiosInstance } from 'axios';
import type { ResolvedConfig } from '../config';
import { WpsAuthError } from '../errors';
import { readEnvelope } from './envelope';
import { classifyTransportFailure } from './transport-failure';
import type { TokenResponse } from '../token-set';
import { parseTokenResponse } from './token-response';

const FORM = 'application/x-www-form-urlencoded';

/** What {@link TokenClient} reads from the configuration (the app client has no `redirectUri`: it passes `''`). */
export type TokenClientConfig = Pick<
  ResolvedConfig,
  'clientId' | 'clientSecret' | 'redirectUri' | 'baseUrl' | 'timeoutMs' | 'maxResponseBytes'
>;

/**
 * All HTTP to WPS's token endpoints (`/oauth2/token`, and `/oauth2/ticket/active` for marketplace apps). Every failure becomes a {@link WpsAuthError}; the axios error (whose
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

  /**
   * Ask for a tenant (company) access token of a marketplace app: `client_credentials` with the newest `app_ticket`
   * WPS pushed and the company's id. WPS publishes no error code for a stale ticket or an uninstalled company: both
   * are a `wps_rejected` here.
   */
  tenantToken(appTicket: string, companyId: string): Promise<TokenResponse> {
    const { clientId, clientSecret } = this.config;
    const form = {
      grant_type: 'client_credentials',
      client_id: clientId,
      client_secret: clientSecret,
      app_ticket: appTicket,
      company_id: companyId,
    };
    return this.post(form, 'tenant token request', [clientSecret, appTicket]);
  }

  /**
   * `POST /oauth2/ticket/active` with the ISV app access token ({@link TokenClient.clientCredentials}): WPS answers
   * `{"code": 0}` and pushes a new app_ticket to the app's event URL. Resolves `'refused_token'` on a 401 (the
   * caller gets a new app token and tries once more); other failures reject with a {@link WpsAuthError}.
   */
  async requestTicketPush(appAccessToken: string): Promise<'requested' | 'refused_token'> {
    const what = 'app ticket push request';
    const signal = AbortSignal.timeout(this.config.timeoutMs);
    let status: number;
    let body: unknown;
    try {
      const res = await this.http.post<unknown>('/oauth2/ticket/active', undefined, {
        headers: { Authorization: `Bearer ${appAccessToken}` },
        signal,
      });
      status = res.status;
      body = res.data;
    } catch (err) {
      throw this.transportError(err, what, signal.aborted);
    }
    if (status === 401) return 'refused_token';
    const envelope = readEnvelope(body, [appAccessToken, this.config.clientSecret, this.config.clientId]);
    const { wpsCode, wpsMsg } = envelope ?? {};
    const details = { ...(wpsCode !== undefined && { wpsCode }), ...(wpsMsg !== undefined && { wpsMsg }) };
    if (status >= 500 || status === 429) {
      throw new WpsAuthError('wps_unavailable', `WPS answered the ${what} with HTTP ${status}`, details);
    }
    if (status < 200 || status >= 300 || envelope === undefined || envelope.failed) {
      const codeText = wpsCode !== undefined ? `, code ${wpsCode}` : '';
      const reason = wpsMsg ?? (envelope === undefined ? 'not a JSON object' : 'no message');
      throw new WpsAuthError(
        'wps_rejected',
        `WPS rejected the ${what}: ${reason} (HTTP ${status}${codeText})`,
        details,
      );
    }
    return 'requested';
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
