import type { WpsClock } from '../clock';
import { WpsAuthError } from '../errors';
import type { TokenClient } from '../wps/token-client';

/**
 * Asks WPS to push a new app ticket: `POST /oauth2/ticket/active` with the ISV app access token (no tenant), which
 * it keeps in this process until shortly before it expires; a token WPS refuses (401) is replaced once. Internal.
 */
export class TicketPusher {
  private cached: { token: string; renewAt: number } | undefined;

  constructor(
    private readonly client: TokenClient,
    private readonly clock: WpsClock,
    private readonly skewMs: number,
  ) {}

  /** Resolves once WPS answered `{"code": 0}`; rejects with a `WpsAuthError`. */
  async request(): Promise<void> {
    if ((await this.client.requestTicketPush(await this.appToken())) === 'requested') return;
    this.cached = undefined;
    if ((await this.client.requestTicketPush(await this.appToken())) === 'requested') return;
    throw new WpsAuthError(
      'wps_rejected',
      'WPS refused the app access token for the app ticket push request (HTTP 401), a new one too',
    );
  }

  private async appToken(): Promise<string> {
    const now = this.clock.now();
    if (this.cached !== undefined && this.cached.renewAt > now) return this.cached.token;
    const res = await this.client.clientCredentials();
    const lifetimeMs = res.expires_in * 1000;
    this.cached = { token: res.access_token, renewAt: now + lifetimeMs - Math.min(this.skewMs, lifetimeMs / 2) };
    return res.access_token;
  }
}
