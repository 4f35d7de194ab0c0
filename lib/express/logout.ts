import type { Request, Response } from 'express';
import type { WpsRequestContext } from './context';
import { safeReturnTo } from './return-to';
import type { RouteHandler, Runtime } from './runtime';

/** The logout route (`GET` and `POST`): forget the tokens, a new session id, then a safe `returnTo`. */
export function logoutRoute(runtime: Runtime): RouteHandler {
  const { defaultReturnTo } = runtime.config;
  return async function logout(req: Request, res: Response, ctx: WpsRequestContext): Promise<void> {
    const body = req.body as { returnTo?: unknown } | undefined;
    const given = req.query.returnTo ?? (typeof body === 'object' && body !== null ? body.returnTo : undefined);
    await ctx.logout();
    res.redirect(302, safeReturnTo(given) ?? defaultReturnTo);
  };
}
