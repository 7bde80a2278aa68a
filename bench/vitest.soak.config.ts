import { defineConfig } from 'vitest/config';

/** Soaks: long randomized runs outside `npm test` (they reuse the test harness to start Redis, brokers and controllers). */
export default defineConfig({
  test: {
    include: ['bench/**/*.soak.ts'],
    pool: 'forks',
    maxWorkers: 1,
    testTimeout: 24 * 3600_000,
    hookTimeout: 180_000,
    reporters: ['verbose'],
  },
});
