import './types';

export { wpsAuth } from './express/wps-auth';
export { requireWpsToken } from './express/require-token';
export {
  WpsError,
  WpsAuthError,
  WpsApiError,
  WpsEventError,
  WpsTenantError,
  type WpsAuthErrorCode,
  type WpsAuthErrorDetails,
  type WpsStateMismatchReason,
  type WpsApiErrorCode,
  type WpsApiErrorDetails,
  type WpsEventErrorCode,
  type WpsTenantErrorCode,
} from './errors';
export {
  createMemoryRefreshLock,
  RefreshLockUnavailableError,
  type MemoryRefreshLockOptions,
} from './refresh/refresh-lock';
export { redisRefreshLock, type RedisRefreshLockOptions } from './refresh/redis-lock';
export type { IoRedisClient, NodeRedisClient, WpsRedisClient } from './redis/client';
export { createWpsAppClient } from './wps/app-client';
export { systemClock, type WpsClock } from './clock';
export { WPS_REFRESH_CHANNEL, type WpsRefreshOutcome, type WpsRefreshReport } from './refresh/refresh-report';
export { wpsEvents } from './events/wps-events';
export { verifyWpsEvent, type VerifyWpsEventInput, type VerifyWpsEventResult } from './events/verify';
export { redisEventDedupe, type RedisEventDedupeOptions } from './events/redis-dedupe';
export type {
  WpsEvent,
  WpsEventDedupe,
  WpsEventHandler,
  WpsEventHandlers,
  WpsEventMap,
  WpsEventOf,
  WpsEventsOptions,
} from './events/types';
export { wpsTenants } from './tenants/wps-tenants';
export { redisTenantStore, type RedisTenantStoreOptions } from './tenants/redis-store';
export type {
  StoredTenantCompany,
  StoredTenantState,
  StoredTicket,
  WpsTenantEventInfo,
  WpsTenantHook,
  WpsTenantsOptions,
  WpsTenantStore,
} from './tenants/types';
export type {
  RefreshLock,
  RequireWpsTokenOptions,
  UnauthenticatedMode,
  WpsAfterLoginResult,
  WpsAppClient,
  WpsAppClientOptions,
  WpsAuthOptions,
  WpsContext,
  WpsLoginInfo,
  WpsLogger,
  WpsTenantClient,
  WpsTenants,
  WpsTenantStatus,
  WpsTokenRecord,
  WpsUser,
} from './types';
