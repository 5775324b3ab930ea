/**
 * Jest 30 in native ESM mode (NODE_OPTIONS=--experimental-vm-modules is set by
 * the npm script). ts-jest compiles TypeScript as ESM; the mapper strips the
 * `.js` suffix NodeNext requires on relative imports so Jest finds the `.ts`.
 * @type {import('jest').Config}
 */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: {
    '^(\\.{1,2}/.*)\\.js$': '$1',
    // The library from its sources (one copy of every class, no build needed).
    '^nestjs-wechat-token$': '<rootDir>/packages/nestjs-wechat-token/src/index.ts',
    '^nestjs-wechat-token/testing$': '<rootDir>/packages/nestjs-wechat-token/src/testing/index.ts',
  },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }],
  },
  testMatch: [
    '<rootDir>/src/**/*.spec.ts',
    '<rootDir>/packages/*/src/**/*.spec.ts',
    '<rootDir>/test/**/*.e2e-spec.ts',
    '<rootDir>/examples/**/*.e2e-spec.ts',
    '<rootDir>/soak/**/*.spec.ts',
  ],
  globalSetup: '<rootDir>/test/global-setup.ts',
  globalTeardown: '<rootDir>/test/global-teardown.ts',
  testTimeout: 60000,
  maxWorkers: 2,
  // In CI a leaked handle must not hang the run until its time limit; locally Jest reports it.
  forceExit: process.env.CI === 'true',
};
