// Compile-time tests, checked by `tsc --noEmit` (part of `npm test`); Jest does not run this file.
import { expectTypeOf } from 'expect-type';
import { WpsAuthError, type WpsAuthErrorCode } from '../../lib';
import type { DocumentedErrorCode } from './documented-codes';

// Exactly the documented codes: a new or a removed code fails here, and must be a semver-visible change.
expectTypeOf<WpsAuthError['code']>().toEqualTypeOf<DocumentedErrorCode>();
expectTypeOf<WpsAuthErrorCode>().toEqualTypeOf<DocumentedErrorCode>();
expectTypeOf<string>().not.toExtend<WpsAuthError['code']>();
expectTypeOf<WpsAuthError['status']>().toEqualTypeOf<number>();
expectTypeOf<WpsAuthError>().toExtend<Error>();

// Branching on the code narrows it, so a typo in a handler is a compile error.
declare const err: WpsAuthError;
if (err.code === 'login_required') expectTypeOf(err.code).toEqualTypeOf<'login_required'>();
// @ts-expect-error not a code this library produces
if (err.code === 'token_expired') expectTypeOf(err.code).toBeNever();
// @ts-expect-error codes are the documented ones only
new WpsAuthError('unknown_code', 'message');
// @ts-expect-error code is read-only
err.code = 'misconfigured';
