import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Integration tests spawn servers and kill -9 them; child processes are
    // better contained in forks than in worker threads.
    pool: 'forks',
    // The CI machine has 2 cores.
    maxWorkers: 2,
    // Integration tests start real Redis, Mosquitto, registries and containers.
    testTimeout: 120_000,
    hookTimeout: 180_000,
    teardownTimeout: 60_000,
    globalSetup: ['test/helpers/global-setup.ts'],
  },
});
