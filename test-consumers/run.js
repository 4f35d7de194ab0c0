'use strict';
/**
 * Installs the packed tarball into throwaway projects, as users install it, and checks each (`npm run
 * test:consumers`, which builds dist/ first; not part of `npm test`):
 * - apps.js: CommonJS, ESM and TypeScript apps sign a user in over real HTTP against the fake WPS;
 * - types.js: a consumer using every export type-checks under TypeScript 5.4, 5.9, 6.0 and 7.0, each with node16
 *   (CommonJS and "type": "module") and bundler resolution;
 * - runners.js: the Jest, Vitest and node:test examples of docs/testing-your-app.md run as those projects' tests
 *   (node:test needs Node 22.18 to run TypeScript: on an older Node it is reported as skipped, with the reason;
 *   Vitest 5 needs Node 22.12: on an older Node the guide's Vitest 4 runs the file).
 *
 * Prints one line per check and `N passed, N failed, N skipped`; exits 1 on any failure.
 * KEEP_CONSUMERS=1 keeps the temporary projects for inspection.
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { check, exec } = require('./lib/process');
const { runApps } = require('./apps');
const { runTypes } = require('./types');
const { runRunners } = require('./runners');

const ROOT = path.join(__dirname, '..');

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

function print(results) {
  for (const r of results) {
    const time = `(${(r.ms / 1000).toFixed(1)}s)`;
    const name = r.name.padEnd(10);
    if (r.skipped) console.log(`SKIP ${name} ${r.label}: ${r.skipped}`);
    else if (r.ok) console.log(`PASS ${name} ${r.label} ${time}`);
    else console.log(`FAIL ${name} ${r.label} ${time}\n${r.error.message}`);
  }
}

async function main() {
  const started = Date.now();
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wps-consumers-'));
  let results;
  try {
    const tarball = await packTarball(workDir);
    const groups = await Promise.all([
      runApps(workDir, tarball),
      runTypes(workDir, tarball),
      runRunners(workDir, tarball),
    ]);
    results = groups.flat();
  } catch (error) {
    console.error(`could not pack the tarball: ${error.message}`);
    results = [{ name: 'pack', label: 'npm pack', ok: false, error, ms: 0 }];
  } finally {
    if (process.env.KEEP_CONSUMERS) console.log(`projects kept in ${workDir}`);
    else fs.rmSync(workDir, { recursive: true, force: true });
  }
  print(results);
  const passed = results.filter((r) => r.ok).length;
  const skipped = results.filter((r) => r.skipped).length;
  const failed = results.length - passed - skipped;
  console.log(`Node ${process.version}, wall time ${((Date.now() - started) / 1000).toFixed(1)}s`);
  console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
  process.exitCode = failed === 0 ? 0 : 1;
}

void main();
