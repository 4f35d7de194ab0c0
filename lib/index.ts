import './types';

export { wpsAuth } from './router';
export { requireWpsToken } from './require-token';
export { WpsAuthError, type WpsAuthErrorCode, type WpsAuthErrorDetails } from './errors';
export { createMemoryRefreshLock, RefreshLockUnavailableError } from './refresh-lock';
export { redisRefreshLock, type RedisLockClient, type RedisRefreshLockOptions } from './redis-lock';
export { WpsApiError, type WpsApiErrorCode, type WpsApiErrorDetails } from './api-error';
export { createWpsAppClient } from './app-client';
export type {
  PendingLogin,
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
  WpsSessionData,
  WpsTokenRecord,
  WpsUser,
} from './types';
