// Compile-time tests, checked by `tsc --noEmit` (part of `npm test`); Jest does not run this file.
import express, { type Request, type RequestHandler } from 'express';
import { expectTypeOf } from 'expect-type';
import { requireWpsToken, wpsAuth, type WpsContext, type WpsTokenRecord } from '../../lib';

// req.wps, as every handler sees it once the package is imported.
expectTypeOf<Request['wps']>().toEqualTypeOf<WpsContext>();
expectTypeOf<Request['wps']['isAuthenticated']>().toEqualTypeOf<() => boolean>();
expectTypeOf<Request['wps']['accessToken']>().toEqualTypeOf<string | undefined>();
expectTypeOf<Request['wps']['getAccessToken']>().toEqualTypeOf<() => Promise<string>>();
expectTypeOf<Request['wps']['expiresAt']>().toEqualTypeOf<Date | undefined>();
expectTypeOf<Request['wps']['logout']>().toEqualTypeOf<() => Promise<void>>();
expectTypeOf<Request['wps']['refresh']>().toEqualTypeOf<() => Promise<string>>();

declare const ctx: WpsContext;
// @ts-expect-error expiresAt is read-only: it follows the session's tokens.
ctx.expiresAt = new Date();

// The same typing reaches a handler's inferred `req`, behind requireWpsToken() and on routes with path parameters.
const app = express();
app.use(wpsAuth());
app.get('/files/:id', requireWpsToken(), (req, res) => {
  expectTypeOf(req.wps.accessToken).toEqualTypeOf<string | undefined>();
  expectTypeOf(req.wps.getAccessToken()).resolves.toEqualTypeOf<string>();
  res.json({ signedIn: req.wps.isAuthenticated(), until: req.wps.expiresAt?.toISOString() });
});

// The library's record in the session is private: its key is reserved and typed as unknown (never an object the
// app could rely on), and the old public key is gone.
declare const req: Request;
expectTypeOf(req.session.wpsAuth).toEqualTypeOf<unknown>();
// @ts-expect-error req.session.wps is not part of the API: read req.wps
void req.session.wps;
expectTypeOf<WpsTokenRecord>().toEqualTypeOf<{
  accessToken: string;
  refreshToken?: string;
  tokenType: string;
  expiresAt: number;
  refreshExpiresAt?: number;
  rev: number;
}>();

// Both factories give plain Express middleware.
expectTypeOf(wpsAuth).returns.toEqualTypeOf<RequestHandler>();
expectTypeOf(requireWpsToken).returns.toEqualTypeOf<RequestHandler>();
