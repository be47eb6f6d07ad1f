import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Real QUIC over loopback: each file gets its own process so native state never leaks across suites.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 30_000,
    // Two cores: more parallel files only make every transfer slower and flakier.
    maxWorkers: 2,
  },
});
