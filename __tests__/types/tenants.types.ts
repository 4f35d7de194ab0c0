// Compile-time tests, checked by `tsc --noEmit` (part of `npm test`); Jest does not run this file.
import type { AxiosInstance } from 'axios';
import type { Request } from 'express';
import { expectTypeOf } from 'expect-type';
import { createClient } from 'redis';
import {
  redisTenantStore,
  wpsAuth,
  wpsTenants,
  WpsError,
  WpsTenantError,
  type WpsTenantClient,
  type WpsTenantErrorCode,
  type WpsTenants,
  type WpsTenantsOptions,
  type WpsTenantStatus,
  type WpsTenantStore,
} from '../../lib';

// The factory and its parts, as the issue names them.
const tenants = wpsTenants({ store: redisTenantStore(createClient()) });
expectTypeOf(tenants).toEqualTypeOf<WpsTenants>();
expectTypeOf(tenants.client('c')).toEqualTypeOf<WpsTenantClient>();
expectTypeOf(tenants.client('c').companyId).toEqualTypeOf<string>();
expectTypeOf(tenants.client('c').getTenantAccessToken()).resolves.toEqualTypeOf<string>();
expectTypeOf(tenants.client('c').api).toEqualTypeOf<AxiosInstance>();
expectTypeOf(tenants.status('c')).resolves.toEqualTypeOf<WpsTenantStatus>();
expectTypeOf<WpsTenantStatus>().toEqualTypeOf<'installed' | 'uninstalled' | 'enabled' | 'disabled' | 'unknown'>();
expectTypeOf(redisTenantStore).returns.toEqualTypeOf<WpsTenantStore>();
// @ts-expect-error a client is read-only
tenants.client('c').companyId = 'other';

// req.wps.tenant: the signed-in user's company, or undefined.
declare const req: Request;
expectTypeOf(req.wps.tenant).toEqualTypeOf<WpsTenantClient | undefined>();
wpsAuth({ tenants });

// Every option, and undefined for each (apps compile with exactOptionalPropertyTypes); the hooks' arguments.
const options: Required<WpsTenantsOptions> = {
  clientId: 'id',
  clientSecret: 'secret',
  baseUrl: 'https://openapi.wps.cn',
  store: redisTenantStore(createClient()),
  ticketWaitMs: 10_000,
  refreshSkewSeconds: 60,
  timeoutMs: 10_000,
  tokenEncryptionKey: 'k'.repeat(32),
  signRequests: false,
  logger: console,
  clock: { now: () => Date.now() },
  onInstall: (companyId, { version, time }) => {
    expectTypeOf(companyId).toEqualTypeOf<string>();
    expectTypeOf(version).toEqualTypeOf<string | undefined>();
    expectTypeOf(time).toEqualTypeOf<Date>();
  },
  onUninstall: async () => {},
  onEnable: () => 1,
  onDisable: undefined,
};
wpsTenants(options);
wpsTenants();
expectTypeOf<WpsTenantsOptions['ticketWaitMs']>().toEqualTypeOf<number | undefined>();

// The errors: a WpsError with exactly the two new codes.
expectTypeOf<WpsTenantErrorCode>().toEqualTypeOf<'ticket_unavailable' | 'tenant_not_installed'>();
expectTypeOf<WpsTenantError>().toExtend<WpsError>();
expectTypeOf<WpsTenantError['companyId']>().toEqualTypeOf<string | undefined>();
// @ts-expect-error codes are the documented ones only
new WpsTenantError('ticket_expired', 'message');
