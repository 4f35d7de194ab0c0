import './types';

export { wpsAuth } from './router';
export { requireWpsToken } from './require-token';
export { WpsAuthError, type WpsAuthErrorCode, type WpsAuthErrorDetails } from './errors';
export { createMemoryRefreshLock } from './refresh-lock';
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
