import { WpsAuthError } from './errors';

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
  (args[2] as (err: unknown) => void)(new WpsAuthError('misconfigured', message));
  return true;
}
