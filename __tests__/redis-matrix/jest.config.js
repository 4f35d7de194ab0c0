const path = require('node:path');

// The Redis matrix (npm run test:redis-matrix): every supported client (node-redis 5 and 6, ioredis 5 and 6) on one
// Redis and on a three-master Cluster that cluster.test.ts starts from redis-server, with two forked app instances
// per combination. Not part of `npm test`. On Node 22 or later it also runs connect-redis 10 and 11 (they need it):
//   npm i --prefix /tmp/node22 node@22 && PATH=/tmp/node22/node_modules/.bin:$PATH npm run test:redis-matrix
/** @type {import('jest').Config} */
module.exports = {
  rootDir: path.resolve(__dirname, '../..'),
  preset: 'ts-jest',
  testEnvironment: 'node',
  roots: ['<rootDir>/__tests__/redis-matrix'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json', diagnostics: false }] },
  // Finds a running Redis on 127.0.0.1:6379 when REDIS_URL is unset.
  globalSetup: '<rootDir>/__tests__/global-setup.js',
  testTimeout: 30_000,
  // One worker per topology.
  maxWorkers: 2,
};
