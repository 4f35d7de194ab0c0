'use strict';
/**
 * Installs the packed tarball into throwaway CommonJS, ESM and TypeScript (strict; node16 and bundler resolution)
 * projects and, in each, signs a user in over real HTTP against the fake WPS from `express-wps-oauth/testing`:
 * protected route → login → fake /oauth2/auth → callback → protected route answers 200 with a token that the fake
 * accepts. Run by `npm run test:consumers` (which builds dist/ first); not part of `npm test`.
 *
 * Prints one line per consumer and `N passed, M failed`; exits 1 on any failure.
 * KEEP_CONSUMERS=1 keeps the temporary projects for inspection.
 */
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');
const FIXTURES = path.join(__dirname, 'fixtures');
const INSTALL_FLAGS = ['--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'];
const INSTALL_TIMEOUT_MS = 5 * 60_000;
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
const CONSUMERS = [
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

/** Run a command to completion; rejects with its output's tail on a non-zero exit or after `timeoutMs`. */
function exec(cmd, args, cwd, timeoutMs) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: cleanEnv() });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(output);
      else reject(new Error(`${cmd} ${args.join(' ')} failed (${signal ?? `exit ${code}`}):\n${tail(output)}`));
    });
  });
}

/** The environment without npm's per-script variables, so installs in temp dirs behave like a user's. */
function cleanEnv() {
  const env = { ...process.env };
  for (const key of Object.keys(env)) if (/^npm_/i.test(key)) delete env[key];
  delete env.DEBUG;
  return env;
}

function tail(text, lines = 25) {
  return text.trim().split('\n').slice(-lines).join('\n');
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

async function packTarball(dest) {
  for (const built of ['dist/index.js', 'dist/index.d.ts', 'dist/testing/index.js']) {
    check(
      fs.existsSync(path.join(ROOT, built)),
      `${built} is missing: run \`npm run test:consumers\` (it builds first)`,
    );
  }
  const out = await exec('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dest], ROOT, 60_000);
  const [result] = JSON.parse(out.slice(out.indexOf('[')));
  return path.join(dest, result.filename);
}

async function setUp(consumer, dir, tarball) {
  fs.mkdirSync(dir);
  const pkg = { name: `consumer-${consumer.name}`, version: '1.0.0', private: true, ...consumer.packageJson };
  fs.writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
  for (const [to, from] of Object.entries(consumer.files))
    fs.copyFileSync(path.join(FIXTURES, from), path.join(dir, to));
  if (consumer.tsconfig) {
    const tsconfig = { compilerOptions: consumer.tsconfig, files: ['app.ts'] };
    fs.writeFileSync(path.join(dir, 'tsconfig.json'), `${JSON.stringify(tsconfig, null, 2)}\n`);
  }
  await exec('npm', ['install', tarball, ...consumer.deps, ...INSTALL_FLAGS], dir, INSTALL_TIMEOUT_MS);
  if (consumer.tsconfig) {
    await exec(
      process.execPath,
      [path.join(dir, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'],
      dir,
      120_000,
    );
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

/** The whole sign-in, as a browser does it, then an API call with the session. Returns the token's prefix. */
async function signIn(origin) {
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
  return body.token.slice(0, 8);
}

async function runConsumer(consumer, workDir, tarball) {
  const dir = path.join(workDir, consumer.name);
  const started = Date.now();
  try {
    await setUp(consumer, dir, tarball);
    const expressVersion = JSON.parse(
      fs.readFileSync(path.join(dir, 'node_modules/express/package.json'), 'utf8'),
    ).version;
    const app = startApp(dir, consumer.entry);
    try {
      await signIn(await app.ready);
    } catch (err) {
      err.message += app.output() ? `\napp output:\n${tail(app.output())}` : '';
      throw err;
    } finally {
      await app.stop();
    }
    return { ok: true, consumer, expressVersion, ms: Date.now() - started };
  } catch (err) {
    return { ok: false, consumer, error: err, ms: Date.now() - started };
  }
}

async function main() {
  const started = Date.now();
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wps-consumers-'));
  let results;
  try {
    const tarball = await packTarball(workDir);
    results = await Promise.all(CONSUMERS.map((c) => runConsumer(c, workDir, tarball)));
  } catch (err) {
    console.error(`could not pack the tarball: ${err.message}`);
    results = CONSUMERS.map((consumer) => ({ ok: false, consumer, error: err, ms: 0 }));
  } finally {
    if (process.env.KEEP_CONSUMERS) console.log(`projects kept in ${workDir}`);
    else fs.rmSync(workDir, { recursive: true, force: true });
  }
  for (const r of results) {
    const time = `${(r.ms / 1000).toFixed(1)}s`;
    if (r.ok)
      console.log(`PASS ${r.consumer.name.padEnd(10)} ${r.consumer.label}, express ${r.expressVersion} (${time})`);
    else console.log(`FAIL ${r.consumer.name.padEnd(10)} ${r.consumer.label} (${time})\n${r.error.message}`);
  }
  const passed = results.filter((r) => r.ok).length;
  console.log(`wall time ${((Date.now() - started) / 1000).toFixed(1)}s`);
  console.log(`${passed} passed, ${results.length - passed} failed`);
  process.exitCode = passed === results.length ? 0 : 1;
}

main();
