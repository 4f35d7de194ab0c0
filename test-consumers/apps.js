'use strict';
/**
 * The app consumers: CommonJS, ESM and TypeScript (strict; node16 and bundler resolution) projects that each start an
 * app and sign a user in over real HTTP against the fake WPS from `express-wps-oauth/testing`: protected route →
 * login → fake /oauth2/auth → callback → protected route answers 200 with a token that the fake accepts.
 */
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { check, cleanEnv, exec, npmInstall, tail } = require('./lib/process');

const FIXTURES = path.join(__dirname, 'fixtures', 'apps');
const STEP_TIMEOUT_MS = 15_000;
const TS_TYPES = ['typescript@~6.0', '@types/express-session@^1.17', '@types/node@^20'];
const TS_STRICT = {
  strict: true,
  noUncheckedIndexedAccess: true,
  exactOptionalPropertyTypes: true,
  skipLibCheck: false,
  target: 'ES2022',
  lib: ['ES2022'],
  types: ['node'],
  esModuleInterop: true,
  rootDir: '.',
  outDir: 'out',
};

/** The four kinds of project a user may mount the package in; Express 4 and 5 are spread across them. */
const APPS = [
  {
    name: 'cjs',
    label: 'CommonJS require()',
    deps: ['express@^4.18', 'express-session@^1.17'],
    files: { 'app.js': 'cjs/app.js' },
    packageJson: {},
    entry: 'app.js',
  },
  {
    name: 'esm',
    label: 'ES module import (.mjs)',
    deps: ['express@^5', 'express-session@^1.17'],
    files: { 'app.mjs': 'esm/app.mjs' },
    packageJson: {},
    entry: 'app.mjs',
  },
  {
    name: 'ts-node16',
    label: 'TypeScript strict, module+moduleResolution node16 → CommonJS',
    deps: ['express@^4.18', 'express-session@^1.17', '@types/express@^4', ...TS_TYPES],
    files: { 'app.ts': 'ts/app.ts' },
    packageJson: {},
    tsconfig: { ...TS_STRICT, module: 'node16', moduleResolution: 'node16' },
    entry: 'out/app.js',
  },
  {
    name: 'ts-bundler',
    label: 'TypeScript strict, moduleResolution bundler + module esnext → ESM',
    deps: ['express@^5', 'express-session@^1.17', '@types/express@^5', ...TS_TYPES],
    files: { 'app.ts': 'ts/app.ts' },
    packageJson: { type: 'module' },
    tsconfig: { ...TS_STRICT, module: 'esnext', moduleResolution: 'bundler' },
    entry: 'out/app.js',
  },
];

async function setUp(app, dir, tarball) {
  fs.mkdirSync(dir);
  const pkg = { name: `consumer-${app.name}`, version: '1.0.0', private: true, ...app.packageJson };
  fs.writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
  for (const [to, from] of Object.entries(app.files)) fs.copyFileSync(path.join(FIXTURES, from), path.join(dir, to));
  if (app.tsconfig) {
    const tsconfig = { compilerOptions: app.tsconfig, files: ['app.ts'] };
    fs.writeFileSync(path.join(dir, 'tsconfig.json'), `${JSON.stringify(tsconfig, null, 2)}\n`);
  }
  await npmInstall(dir, tarball, app.deps);
  if (app.tsconfig) {
    const tsc = path.join(dir, 'node_modules/typescript/bin/tsc');
    await exec(process.execPath, [tsc, '-p', 'tsconfig.json'], dir, 120_000);
  }
}

/** Start the consumer's app; resolves with its origin once it prints `LISTENING <origin>`. */
function startApp(dir, entry) {
  const child = spawn(process.execPath, [entry], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], env: cleanEnv() });
  let output = '';
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`app did not start within ${STEP_TIMEOUT_MS} ms:\n${tail(output)}`)),
      STEP_TIMEOUT_MS,
    );
    child.stdout.on('data', (d) => {
      output += d;
      const match = /^LISTENING (http:\/\/127\.0\.0\.1:\d+)$/m.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.stderr.on('data', (d) => (output += d));
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`app exited (${code}) before listening:\n${tail(output)}`));
    });
  });
  const stop = () =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      child.kill('SIGTERM');
    });
  return { ready, stop, output: () => output };
}

async function get(url, { cookie, accept = 'application/json' } = {}) {
  const headers = { Accept: accept };
  if (cookie) headers.Cookie = cookie;
  return fetch(url, { headers, redirect: 'manual', signal: AbortSignal.timeout(STEP_TIMEOUT_MS) });
}

function sessionCookie(res) {
  const cookie = res.headers.getSetCookie().find((c) => c.startsWith('connect.sid='));
  return cookie && cookie.split(';')[0];
}

/** Before sign-in: a browser is sent to the login route, an API client gets a 401. Returns the login URL. */
async function signedOut(origin) {
  const browser = await get(`${origin}/protected`, { accept: 'text/html' });
  const toLogin = browser.headers.get('location');
  check(
    browser.status === 302 && toLogin === '/auth/wps/login?returnTo=%2Fprotected',
    `protected (browser): ${browser.status} → ${toLogin}`,
  );
  const api = await get(`${origin}/protected`);
  const apiBody = await api.json();
  check(
    api.status === 401 && apiBody.code === 'login_required',
    `protected (API): ${api.status} ${JSON.stringify(apiBody)}`,
  );
  return toLogin;
}

/** The whole sign-in, as a browser does it, then an API call with the session. */
async function signIn(origin) {
  const toLogin = await signedOut(origin);
  const login = await get(`${origin}${toLogin}`, { accept: 'text/html' });
  const toWps = login.headers.get('location') ?? '';
  const preLogin = sessionCookie(login);
  check(
    login.status === 302 && /\/oauth2\/auth\?response_type=code&/.test(toWps) && preLogin,
    `login: ${login.status} → ${toWps}`,
  );

  const wps = await get(toWps, { accept: 'text/html' });
  const back = wps.headers.get('location') ?? '';
  check(
    wps.status === 302 && back.startsWith(`${origin}/auth/wps/callback?code=`),
    `fake /oauth2/auth: ${wps.status} → ${back}`,
  );

  const callback = await get(back, { cookie: preLogin, accept: 'text/html' });
  const signedIn = sessionCookie(callback);
  check(
    callback.status === 302 && callback.headers.get('location') === '/protected',
    `callback: ${callback.status} → ${callback.headers.get('location')}`,
  );
  check(signedIn && signedIn !== preLogin, 'callback: the session id was not regenerated');

  const res = await get(`${origin}/protected`, { cookie: signedIn });
  const body = await res.json();
  check(res.status === 200, `protected after sign-in: ${res.status} ${JSON.stringify(body)}`);
  check(/^fake_at_[A-Za-z0-9_-]+$/.test(body.token), 'protected after sign-in: no access token');
  check(body.user === 'Demo User', `the fake refused the token: ${JSON.stringify(body.user)}`);
}

async function runApp(app, workDir, tarball) {
  const dir = path.join(workDir, app.name);
  const started = Date.now();
  const result = { name: app.name, label: app.label };
  try {
    await setUp(app, dir, tarball);
    const manifest = fs.readFileSync(path.join(dir, 'node_modules/express/package.json'), 'utf8');
    const server = startApp(dir, app.entry);
    try {
      await signIn(await server.ready);
    } catch (err) {
      err.message += server.output() ? `\napp output:\n${tail(server.output())}` : '';
      throw err;
    } finally {
      await server.stop();
    }
    return {
      ...result,
      ok: true,
      label: `${app.label}, express ${JSON.parse(manifest).version}`,
      ms: Date.now() - started,
    };
  } catch (error) {
    return { ...result, ok: false, error, ms: Date.now() - started };
  }
}

/** Runs every app consumer (in parallel: mostly installs and sockets); one result each. */
function runApps(workDir, tarball) {
  return Promise.all(APPS.map((app) => runApp(app, workDir, tarball)));
}

module.exports = { APPS, runApps };
