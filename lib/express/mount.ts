import type { ResolvedConfig } from '../config';
import { WpsAuthError } from '../errors';

/**
 * Whether `url`'s path (before any `?`) is `path` — what `req.path === path` says, without parsing the URL. `url`
 * is the request's full path as the app sees it (mount path and all), so route paths are full paths wherever
 * `wpsAuth` is mounted.
 */
export function isPath(url: string, path: string | false): boolean {
  return path !== false && url.startsWith(path) && (url.length === path.length || url.charCodeAt(path.length) === 63);
}

/** Whether the full path `path` lies inside the mount path `base` (Express matches mount paths case-insensitively). */
function isUnder(path: string, base: string): boolean {
  const p = path.toLowerCase();
  const b = base.toLowerCase();
  return p === b || p.startsWith(b.endsWith('/') ? b : `${b}/`);
}

/** The routes of a `wpsAuth()`: what a mount path must hold. */
function routesOf(config: ResolvedConfig): Array<[string, string]> {
  const routes: Array<[string, string]> = [
    [config.callbackPath, `the callback "${config.callbackPath}" (redirectUri's path)`],
  ];
  if (config.loginPath !== false) routes.push([config.loginPath, `loginPath "${config.loginPath}"`]);
  if (config.logoutPath !== false) routes.push([config.logoutPath, `logoutPath "${config.logoutPath}"`]);
  if (config.clientSignInPath !== false) {
    routes.push([config.clientSignInPath, `clientSignInPath "${config.clientSignInPath}"`]);
  }
  return routes;
}

/**
 * A `misconfigured` error when `wpsAuth` is mounted at `base` (its `req.baseUrl`) but some of its routes lie outside
 * that path: they would never reach it, and WPS would send users to a 404.
 */
export function mountProblem(config: ResolvedConfig, base: string): WpsAuthError | undefined {
  const outside = routesOf(config)
    .filter(([path]) => !isUnder(path, base))
    .map(([, name]) => name);
  if (outside.length === 0) return undefined;
  return new WpsAuthError(
    'misconfigured',
    `express-wps-oauth: wpsAuth() is mounted at "${base}", but ${outside.join(', ')} ` +
      `${outside.length === 1 ? 'is' : 'are'} outside it and would never be served. Route paths are full paths, as ` +
      `the browser sees them. Mount it at the app root — app.use(wpsAuth({ ... })) — or keep every route under ` +
      `the mount path, e.g. app.use('${base}', wpsAuth({ redirectUri: 'https://<your host>${base}/auth/wps/callback', ` +
      `loginPath: '${base}/auth/wps/login', logoutPath: '${base}/auth/wps/logout', ` +
      `clientSignInPath: '${base}/auth/wps/client-sign-in' })).`,
  );
}

/** Per app, the mount paths (`req.baseUrl`) under which a `wpsAuth()` served its requests: a few at most. */
const mountsByApp = new WeakMap<object, Set<string>>();

/** Note that a `wpsAuth()` of `app` serves requests under `base` (once per new mount path, not per request). */
export function noteMount(app: unknown, base: string): void {
  if (typeof app !== 'function' || base === '') return;
  const mounts = mountsByApp.get(app) ?? new Set<string>();
  if (mounts.size < 8) mounts.add(base);
  mountsByApp.set(app, mounts);
}

/**
 * The error of `requireWpsToken()` on a request no `wpsAuth()` saw. When a `wpsAuth()` of the same app serves under
 * a prefix, it names that prefix and the route outside it, and says to mount `wpsAuth()` at the root instead.
 */
export function noWpsAuthFor(app: unknown, path: string): WpsAuthError {
  const mounts = typeof app === 'function' ? [...(mountsByApp.get(app) ?? [])] : [];
  const fix =
    'Mount wpsAuth({ ... }) before every route that uses requireWpsToken(), in the same app or an enclosing one: ' +
    'app.use(wpsAuth({ ... })); app.get(path, requireWpsToken(), handler)';
  if (mounts.length === 0) {
    return new WpsAuthError(
      'misconfigured',
      `express-wps-oauth: requireWpsToken() found no req.wps: wpsAuth() did not see this request. ${fix}`,
    );
  }
  return new WpsAuthError(
    'misconfigured',
    `express-wps-oauth: requireWpsToken() found no req.wps: wpsAuth() is mounted at ` +
      `${mounts.map((m) => `"${m}"`).join(', ')} and sees only requests under it, but this route ("${path}") is ` +
      'outside. Mount wpsAuth() at the app root instead — app.use(wpsAuth({ ... })) — it sees every request, and ' +
      'its login, callback and logout routes can still live under a prefix (loginPath, logoutPath, redirectUri).',
  );
}
