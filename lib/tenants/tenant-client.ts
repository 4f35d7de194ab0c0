import type { WpsTenantClient } from '../types';
import { createApi, type ApiSettings } from '../wps/api';
import type { TenantTokens } from './tenant-tokens';

/** The longest company id accepted: WPS's are short; a longer string is a mistake, not a company. */
const MAX_COMPANY_ID = 256;

/** `companyId`, checked as `tenants.client()` and `tenants.status()` take it. */
export function checkCompanyId(companyId: unknown, method: string): string {
  if (typeof companyId !== 'string' || companyId === '' || companyId.length > MAX_COMPANY_ID) {
    throw new TypeError(
      `express-wps-oauth: tenants.${method}(companyId) expects the company's id (data.company_id), a non-empty ` +
        `string of at most ${MAX_COMPANY_ID} characters`,
    );
  }
  return companyId;
}

/** The client of one company: its tenant token, and the API as that company. Internal. */
export function createTenantClient(tokens: TenantTokens, settings: ApiSettings, companyId: string): WpsTenantClient {
  const getTenantAccessToken = () => tokens.get(companyId);
  const api = createApi(settings, {
    get: getTenantAccessToken,
    invalidate: (token) => tokens.invalidate(companyId, token),
  });
  return Object.freeze({ companyId, getTenantAccessToken, api });
}
