const path = require('node:path');

/** @type {import('jest').Config} */
const base = {
  preset: 'ts-jest',
  testEnvironment: 'node',
  roots: ['<rootDir>/__tests__'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json', diagnostics: false }] },
  // The Redis client matrix has its own config and script (npm run test:redis-matrix).
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/__tests__/redis-matrix/'],
};

// lib/ imports express only as types; tests import it at runtime, so remapping `express` runs the same suite on
// Express 5. `express5` is the devDependency alias `npm:express@^5`.
const express5Dir = path.dirname(require.resolve('express5/package.json'));

// `WPS_EXPRESS_SESSION=oldest jest` runs every suite against express-session 1.17.0, the oldest version the peer
// range allows (`express-session-oldest` is the devDependency alias `npm:express-session@1.17.0`): the save seam
// (docs/internals.md) relies on how express-session saves a session, so CI checks both ends of the range.
const sessionMapper =
  process.env.WPS_EXPRESS_SESSION === 'oldest'
    ? { '^express-session$': path.dirname(require.resolve('express-session-oldest/package.json')) }
    : {};

module.exports = {
  collectCoverageFrom: ['lib/**/*.ts'],
  coverageThreshold: { global: { lines: 90 } },
  coverageReporters: ['text-summary', 'lcov'],
  testTimeout: 20000,
  // Workers end a run holding 1–1.7 GB of garbage, and exiting that takes long enough on a busy machine for Jest to
  // report "a worker process has failed to exit gracefully" (no handle stays open: --detectOpenHandles finds none).
  // A worker over this much memory between test files is replaced, so none ends that large.
  workerIdleMemoryLimit: '600MB',
  // Many suites mostly wait on sockets and child processes: two workers on two cores finish sooner.
  maxWorkers: 2,
  // A passing run prints the summary, the coverage table and one line per skipped group; failures in full.
  reporters: [['summary', { summaryThreshold: 0 }], '<rootDir>/.ci/jest-summary-reporter.js'],
  // Finds a running Redis on 127.0.0.1:6379 when REDIS_URL is unset.
  globalSetup: '<rootDir>/__tests__/global-setup.js',
  projects: [
    { ...base, displayName: 'express4', globals: { EXPRESS_MAJOR: 4 }, moduleNameMapper: { ...sessionMapper } },
    {
      ...base,
      displayName: 'express5',
      globals: { EXPRESS_MAJOR: 5 },
      moduleNameMapper: {
        ...sessionMapper,
        '^express$': express5Dir,
        '^express/(.*)$': `${express5Dir}/$1`,
      },
      // Run once, in the express4 project, what does not depend on the Express version: what `npm pack` ships, the
      // Redis lock itself, the suites of forked app instances (they load Express 4 whatever Jest maps), and whether
      // the docs compile and agree.
      testPathIgnorePatterns: [
        ...base.testPathIgnorePatterns,
        '<rootDir>/__tests__/package\\.test\\.ts$',
        '<rootDir>/__tests__/redis/redis-lock\\.test\\.ts$',
        '<rootDir>/__tests__/redis/multi-instance\\.test\\.ts$',
        '<rootDir>/__tests__/redis/blip\\.test\\.ts$',
        '<rootDir>/__tests__/events/redis-dedupe\\.test\\.ts$',
        '<rootDir>/__tests__/tenants/two-instances\\.test\\.ts$',
        '<rootDir>/__tests__/docs/',
      ],
    },
  ],
};
