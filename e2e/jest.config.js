/** @type {import('jest').Config} The browser end-to-end suite: `npm run test:e2e` (builds first). */
module.exports = {
  rootDir: '..',
  roots: ['<rootDir>/e2e'],
  testMatch: ['<rootDir>/e2e/**/*.e2e.test.[jt]s'],
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json', diagnostics: false }] },
  testTimeout: 60000,
  reporters: ['default', '<rootDir>/.ci/jest-summary-reporter.js'],
};
