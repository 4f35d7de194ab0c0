const path = require('node:path');

/** @type {import('jest').Config} */
const base = {
  preset: 'ts-jest',
  testEnvironment: 'node',
  roots: ['<rootDir>/__tests__'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json', diagnostics: false }] },
};

// lib/ imports express only as types; tests import it at runtime, so remapping `express` runs the same suite on
// Express 5. `express5` is the devDependency alias `npm:express@^5`.
const express5Dir = path.dirname(require.resolve('express5/package.json'));

module.exports = {
  collectCoverageFrom: ['lib/**/*.ts'],
  coverageThreshold: { global: { lines: 90 } },
  coverageReporters: ['text-summary', 'lcov'],
  testTimeout: 20000,
  // Many suites mostly wait on sockets and child processes: two workers on two cores finish sooner.
  maxWorkers: 2,
  reporters: ['default', '<rootDir>/.ci/jest-summary-reporter.js'],
  projects: [
    { ...base, displayName: 'express4', globals: { EXPRESS_MAJOR: 4 } },
    {
      ...base,
      displayName: 'express5',
      globals: { EXPRESS_MAJOR: 5 },
      moduleNameMapper: {
        '^express$': express5Dir,
        '^express/(.*)$': `${express5Dir}/$1`,
      },
      // What `npm pack` ships, and whether the docs compile and agree, do not depend on the Express version: once is
      // enough.
      testPathIgnorePatterns: [
        '/node_modules/',
        '<rootDir>/__tests__/package\\.test\\.ts$',
        '<rootDir>/__tests__/docs/',
      ],
    },
  ],
};
