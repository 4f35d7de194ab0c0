import './types';

export { wpsAuth } from './router';
export { requireWpsToken } from './require-token';
export { WpsAuthError, type WpsAuthErrorCode, type WpsAuthErrorDetails } from './errors';
export { createMemoryRefreshLock } from './refresh-lock';
export type {
  PendingLogin,
  RefreshLock,
  RequireWpsTokenOptions,
  UnauthenticatedMode,
  WpsAuthOptions,
  WpsContext,
  WpsLogger,
  WpsSessionData,
  WpsTokenRecord,
} from './types';
