'use strict';

// What bench/run.js and bench/instructions.js share: the variants, how to pick some, how to sign in and check
// each server, and where versions come from.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.join(__dirname, '..', '..');

/**
 * The servers under load, in table order. `base`: the baseline on the same Express major; `guarded`: a request
 * without a session must not get 200.
 */
const ALL_VARIANTS = [
  {
    id: 'A',
    key: 'baseline',
    label: 'baseline: session, no auth (Express 4)',
    script: 'baseline.js',
    args: ['express'],
    base: 'baseline',
  },
  {
    id: 'A2',
    key: 'sized',
    label: 'baseline with a session as big as ours (Express 4)',
    script: 'baseline.js',
    args: ['express', 'sized'],
    base: 'baseline',
  },
  {
    id: 'A3',
    key: 'sized-packed',
    label: 'A2 with the session data packed in one JSON string (the form before 0.1.0)',
    script: 'baseline.js',
    args: ['express', 'sized-packed'],
    base: 'baseline',
  },
  {
    id: 'B',
    key: 'ours',
    label: 'express-wps-oauth requireWpsToken (Express 4)',
    script: 'ours.js',
    args: ['express'],
    base: 'baseline',
    guarded: true,
  },
  {
    id: 'C',
    key: 'passport',
    label: 'passport 0.7 session + isAuthenticated',
    script: 'passport.js',
    args: ['express'],
    base: 'baseline',
    guarded: true,
  },
  {
    id: 'D',
    key: 'eoc',
    label: 'express-openid-connect requiresAuth (MemoryStore session)',
    script: 'oidc.js',
    args: ['store'],
    base: 'baseline',
    guarded: true,
  },
  {
    id: 'D2',
    key: 'eoc-cookie',
    label: 'express-openid-connect requiresAuth (default cookie session)',
    script: 'oidc.js',
    args: ['cookie'],
    base: 'baseline',
    guarded: true,
  },
  {
    id: 'E',
    key: 'ours5',
    label: 'express-wps-oauth requireWpsToken (Express 5)',
    script: 'ours.js',
    args: ['express5'],
    base: 'baseline5',
    guarded: true,
  },
  {
    id: 'F',
    key: 'baseline5',
    label: 'baseline: session, no auth (Express 5)',
    script: 'baseline.js',
    args: ['express5'],
    base: 'baseline5',
  },
];

/** The ids of `--only A,B`, checked. */
function parseOnly(value) {
  const ids = (value ?? '').split(',').filter(Boolean);
  const unknown = ids.filter((id) => !ALL_VARIANTS.some((v) => v.id === id));
  if (ids.length === 0 || unknown.length > 0)
    throw new Error(`--only needs variant ids among ${ALL_VARIANTS.map((v) => v.id).join(',')}`);
  return ids;
}

/**
 * Parse a bench's command line into a copy of `defaults`: `numbers` maps options taking a positive integer to their
 * key, `flags` maps switches to `[key, value]`, and `--only A,B` sets `only` (and `write: false`: a partial run does
 * not replace the results file).
 */
function parseOptions(argv, defaults, numbers, flags) {
  const opts = { ...defaults, only: undefined };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (numbers[arg] !== undefined) {
      const value = Number(argv[++i]);
      if (!Number.isInteger(value) || value <= 0) throw new Error(`${arg} needs a positive integer`);
      opts[numbers[arg]] = value;
    } else if (arg === '--only') {
      opts.only = parseOnly(argv[++i]);
      opts.write = false;
    } else if (flags[arg] !== undefined) {
      const [key, value] = flags[arg];
      opts[key] = value;
    } else {
      throw new Error(`unknown option ${arg}`);
    }
  }
  return opts;
}

/** The chosen variants plus the baselines their ratios need (A, and the baseline of the same Express major). */
function selectVariants(only) {
  if (only === undefined) return ALL_VARIANTS;
  const keys = new Set(ALL_VARIANTS.filter((v) => only.includes(v.id)).flatMap((v) => ['baseline', v.base, v.key]));
  return ALL_VARIANTS.filter((v) => keys.has(v.key));
}

/** Sign in, and check the session passes the guard and (for guarded variants) that no session does not. */
async function signIn(variant, server, timeoutMs) {
  const cookie = await server.call('login', undefined, timeoutMs);
  const signedIn = await fetch(`${server.origin}/api`, { headers: { cookie } });
  const body = await signedIn.text();
  if (signedIn.status !== 200 || body !== '{"ok":true}') {
    throw new Error(`${variant.label}: the signed-in request got ${signedIn.status} ${body.slice(0, 200)}`);
  }
  if (variant.guarded) {
    const anonymous = await fetch(`${server.origin}/api`, { redirect: 'manual' });
    await anonymous.arrayBuffer();
    if (anonymous.status === 200) throw new Error(`${variant.label}: a request without a session got 200`);
  }
  return cookie;
}

/** An installed package's version. */
function version(pkg) {
  return JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')).version;
}

/** A git command's output in the repository, or `undefined`. */
function git(args) {
  try {
    return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}

module.exports = { ALL_VARIANTS, ROOT, git, parseOptions, selectVariants, signIn, version };
