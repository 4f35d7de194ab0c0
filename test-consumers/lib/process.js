'use strict';
/** Child processes for the consumer projects: run one to completion, with npm's per-script variables removed. */
const { spawn } = require('node:child_process');

/** The environment without npm's per-script variables, so installs in temp dirs behave like a user's. */
function cleanEnv(extra = {}) {
  const env = { ...process.env, ...extra };
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

/** Run a command to completion; rejects with its output's tail on a non-zero exit or after `timeoutMs`. */
function exec(cmd, args, cwd, timeoutMs, env = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: cleanEnv(env) });
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

/** Runs `tasks` (functions returning promises), at most `limit` at a time; resolves with their results in order. */
async function limited(tasks, limit) {
  const results = new Array(tasks.length);
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const i = next++;
      results[i] = await tasks[i]();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return results;
}

const INSTALL_FLAGS = ['--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'];
const INSTALL_TIMEOUT_MS = 5 * 60_000;

/** `npm install` the tarball and `deps` into `dir`, as a user would. */
function npmInstall(dir, tarball, deps) {
  return exec('npm', ['install', tarball, ...deps, ...INSTALL_FLAGS], dir, INSTALL_TIMEOUT_MS);
}

module.exports = { check, cleanEnv, exec, limited, npmInstall, tail };
