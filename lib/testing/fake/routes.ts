import type { IncomingMessage, ServerResponse } from 'node:http';
import { WpsHttpError } from './errors';

/** One request as a route handler sees it: the body is read (and under the cap) before any handler runs. */
export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  /** The raw path without the query string. */
  path: string;
  query: URLSearchParams;
  /** The parsed body when it was sent as a form, else `undefined`. */
  form: URLSearchParams | undefined;
  body: Buffer;
}

/** Answers one request, or throws a `WpsHttpError` for the server to send. */
export type RouteHandler = (ctx: RequestContext) => Promise<void> | void;

/**
 * Runs before any route under its prefix, the unknown paths included: `'answered'` when it answered itself (a
 * fault), `'continue'` to let routing go on; it throws a `WpsHttpError` to refuse.
 */
export type RouteGuard = (ctx: RequestContext) => Promise<'answered' | 'continue'>;

/** The methods the fake serves. */
export type RouteMethod = 'GET' | 'POST';

/**
 * The fake's routing table (method + path → handler), filled by its modules when the fake starts.
 * A new module (the JS-bridge stub, the marketplace mode) joins as one file exporting a
 * `registerX(routes: RouteRegistry, state: FakeState)` like `registerAuthorize`: it calls `routes.add()` for each
 * endpoint it serves and `routes.guard()` for checks that precede every path under a prefix, keeps its records in
 * a field it adds to `FakeState`, and is added to `MODULES` in `start.ts` (plus any handle method in `FakeWps`).
 * A second handler for the same method and path throws at start-up, so two modules cannot silently collide.
 */
export class RouteRegistry {
  private readonly routes = new Map<string, Map<string, RouteHandler>>();
  private readonly guards: { prefix: string; check: RouteGuard }[] = [];

  /** Serve `method path` with `handler`. */
  add(method: RouteMethod, path: string, handler: RouteHandler): void {
    const byMethod = this.routes.get(path) ?? new Map<string, RouteHandler>();
    if (byMethod.has(method)) throw new Error(`fake WPS: two modules register ${method} ${path}`);
    byMethod.set(method, handler);
    this.routes.set(path, byMethod);
  }

  /** Run `check` before routing every request whose path starts with `prefix`, in the order guards were added. */
  guard(prefix: string, check: RouteGuard): void {
    this.guards.push({ prefix, check });
  }

  /** Route one request: its guards, then its handler; 404 for an unknown path, 405 (with `Allow`) for a method. */
  async dispatch(ctx: RequestContext): Promise<void> {
    for (const { prefix, check } of this.guards) {
      if (ctx.path.startsWith(prefix) && (await check(ctx)) === 'answered') return;
    }
    const byMethod = this.routes.get(ctx.path);
    if (!byMethod) throw new WpsHttpError(404, 40400000, 'not_found', `no endpoint at ${ctx.path}`);
    const handler = byMethod.get(ctx.req.method ?? '');
    if (!handler) {
      const allowed = [...byMethod.keys()].join(', ');
      ctx.res.setHeader('Allow', allowed);
      throw new WpsHttpError(405, 40500000, 'method_not_allowed', `${ctx.path} accepts only ${allowed}`);
    }
    await handler(ctx);
  }
}
