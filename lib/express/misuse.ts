import type { NextFunction, Request, Response } from 'express';
import { WpsAuthError } from '../errors';

/** `true` when a factory was handed to Express uncalled, so Express is now calling it as middleware. */
function calledAsMiddleware(args: ArrayLike<unknown>): boolean {
  const req = args[0] as { method?: unknown; headers?: unknown } | null | undefined;
  return (
    args.length >= 3 &&
    typeof args[2] === 'function' &&
    typeof req === 'object' &&
    req !== null &&
    typeof req.method === 'string' &&
    typeof req.headers === 'object'
  );
}

/**
 * When a factory was handed to Express uncalled (`app.use(wpsAuth)`), Express is calling it as middleware with
 * `args`: pass a `misconfigured` error with `message` to its `next`, and say so. The factory then returns nothing.
 */
export function refusedUncalled(args: ArrayLike<unknown>, message: string): boolean {
  if (!calledAsMiddleware(args)) return false;
  (args[2] as NextFunction)(new WpsAuthError('misconfigured', message));
  return true;
}

/** Run an async handler so that a rejection reaches `next(err)` (Express 4 does not catch rejected promises). */
export function handleAsync(
  fn: (req: Request, res: Response) => Promise<void>,
): (req: Request, res: Response, next: NextFunction) => void {
  return (req, res, next) => {
    fn(req, res).catch(next);
  };
}
