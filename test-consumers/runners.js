'use strict';
/**
 * The test-runner consumers: the Jest, Vitest and node:test examples of docs/testing-your-app.md ("A complete
 * example"), each saved as the test file of its own project installed from the tarball, set up as the page says, and
 * run with that runner, after `tsc --noEmit` checks it (strict). Each must report exactly the page's two tests, passed.
 */
const fs = require('node:fs');
const path = require('node:path');
const { check, exec, npmInstall } = require('./lib/process');

const GUIDE = path.join(__dirname, '..', 'docs', 'testing-your-app.md');
const TESTS = ['shows the signed-in user', 'refreshes an expired access token through WPS, once'];
const RUN_TIMEOUT_MS = 180_000;
const APP_DEPS = ['express@^5', 'express-session@^1.17', 'supertest@^7'];
const TYPES = ['@types/express@^5', '@types/express-session@^1.17', '@types/supertest@^7'];
const STRICT = { strict: true, noUncheckedIndexedAccess: true, exactOptionalPropertyTypes: true, skipLibCheck: false };

function nodeAtLeast(major, minor) {
  const [have, haveMinor] = process.versions.node.split('.').map(Number);
  return have > major || (have === major && haveMinor >= minor);
}

const VITEST_MAJOR = nodeAtLeast(22, 12) ? 5 : 4;

/** Each runner: its section of the guide, its project, how to run it and how to read which tests passed. */
const RUNNERS = [
  {
    name: 'jest',
    section: '### Jest',
    // ts-jest loads TypeScript's JS API, which TypeScript 7 does not have.
    label: 'Jest + ts-jest, CommonJS (type-checked: node16)',
    deps: [...APP_DEPS, ...TYPES, 'jest@^30', 'ts-jest@^29', 'typescript@~6.0', '@types/jest@^30', '@types/node@^20'],
    packageJson: { jest: { preset: 'ts-jest', testEnvironment: 'node' } },
    tsconfig: {
      ...STRICT,
      module: 'node16',
      moduleResolution: 'node16',
      esModuleInterop: true,
      // What ts-jest asks for with node16: it then compiles each file alone, and tsc checks the types.
      isolatedModules: true,
      target: 'ES2022',
      types: ['node', 'jest'],
      noEmit: true,
    },
    typeCheck: true,
    run: ['node_modules/jest/bin/jest.js', '--ci', '--json', '--outputFile=result.json'],
    passed: jsonReport,
  },
  {
    name: 'vitest',
    section: '### Vitest',
    // Vitest 5 needs Node 22.12; on Node 20 the guide's Vitest 4 runs the same file.
    label: `Vitest ${VITEST_MAJOR}, ESM (type-checked: bundler)`,
    deps: [
      ...APP_DEPS,
      ...TYPES,
      `vitest@^${VITEST_MAJOR}`,
      'typescript@~6.0',
      `@types/node@^${VITEST_MAJOR === 5 ? 22 : 20}`,
    ],
    packageJson: { type: 'module' },
    tsconfig: {
      ...STRICT,
      module: 'esnext',
      moduleResolution: 'bundler',
      target: 'ES2022',
      types: ['node'],
      noEmit: true,
    },
    typeCheck: true,
    run: ['node_modules/vitest/vitest.mjs', 'run', '--reporter=json', '--outputFile=result.json'],
    passed: jsonReport,
  },
  {
    name: 'node-test',
    section: '### node:test',
    label: 'node --test, type stripping (type-checked: nodenext, erasableSyntaxOnly)',
    minNode: [22, 18],
    deps: [...APP_DEPS, ...TYPES, 'typescript@~6.0', '@types/node@^22'],
    packageJson: { type: 'module' },
    tsconfig: {
      ...STRICT,
      module: 'nodenext',
      target: 'ES2022',
      types: ['node'],
      noEmit: true,
      verbatimModuleSyntax: true,
      erasableSyntaxOnly: true,
    },
    typeCheck: true,
    run: ['--test', '--test-reporter=tap', 'app.test.ts'],
    passed: tapReport,
  },
];

/** The first ```ts block under `heading` in the guide (before the next heading). */
function guideBlock(heading) {
  const lines = fs.readFileSync(GUIDE, 'utf8').split('\n');
  const at = lines.indexOf(heading);
  check(at >= 0, `docs/testing-your-app.md has no "${heading}" heading`);
  const open = lines.findIndex((l, i) => i > at && (l === '```ts' || /^#{1,6} /.test(l)));
  check(open > at && lines[open] === '```ts', `docs/testing-your-app.md: no \`\`\`ts block under "${heading}"`);
  const close = lines.indexOf('```', open + 1);
  check(close > open, `docs/testing-your-app.md: the block under "${heading}" is never closed`);
  return `${lines.slice(open + 1, close).join('\n')}\n`;
}

/** Jest's and Vitest's `--json` report: the titles of the passed tests, once every test passed. */
function jsonReport(dir) {
  const report = JSON.parse(fs.readFileSync(path.join(dir, 'result.json'), 'utf8'));
  const results = report.testResults.flatMap((file) => file.assertionResults);
  const failed = results.filter((r) => r.status !== 'passed');
  check(failed.length === 0, `not passed: ${failed.map((r) => `${r.title} (${r.status})`).join(', ')}`);
  return results.map((r) => r.title);
}

/** node:test's TAP output: the titles of the `ok` tests, once none is `not ok`. */
function tapReport(_dir, output) {
  const failed = [...output.matchAll(/^not ok \d+ - (.*)$/gm)].map((m) => m[1]);
  check(failed.length === 0, `not passed: ${failed.join(', ')}`);
  return [...output.matchAll(/^ok \d+ - (.*)$/gm)].map((m) => m[1]);
}

function nodeTooOld(minNode) {
  if (!minNode || nodeAtLeast(...minNode)) return undefined;
  return `needs Node ${minNode.join('.')} or later (this is ${process.version})`;
}

async function setUp(runner, dir, tarball) {
  fs.mkdirSync(dir);
  const pkg = { name: `consumer-${runner.name}`, version: '1.0.0', private: true, ...runner.packageJson };
  fs.writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
  fs.writeFileSync(path.join(dir, 'app.test.ts'), guideBlock(runner.section));
  const tsconfig = { compilerOptions: runner.tsconfig, files: ['app.test.ts'] };
  fs.writeFileSync(path.join(dir, 'tsconfig.json'), `${JSON.stringify(tsconfig, null, 2)}\n`);
  await npmInstall(dir, tarball, runner.deps);
  if (runner.typeCheck) {
    await exec(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json'], dir, 120_000);
  }
}

async function runRunner(runner, workDir, tarball) {
  const result = { name: runner.name, label: runner.label };
  const tooOld = nodeTooOld(runner.minNode);
  if (tooOld) return { ...result, skipped: tooOld, ms: 0 };
  const dir = path.join(workDir, runner.name);
  const started = Date.now();
  try {
    await setUp(runner, dir, tarball);
    const output = await exec(process.execPath, runner.run, dir, RUN_TIMEOUT_MS);
    const passed = runner.passed(dir, output);
    check(
      JSON.stringify(passed) === JSON.stringify(TESTS),
      `ran ${JSON.stringify(passed)}, expected the guide's ${JSON.stringify(TESTS)}`,
    );
    return { ...result, ok: true, label: `${runner.label}: ${passed.length} tests passed`, ms: Date.now() - started };
  } catch (error) {
    return { ...result, ok: false, error, ms: Date.now() - started };
  }
}

/** Runs the guide's example with each runner (in parallel); one result each. */
function runRunners(workDir, tarball) {
  return Promise.all(RUNNERS.map((runner) => runRunner(runner, workDir, tarball)));
}

module.exports = { runRunners };
