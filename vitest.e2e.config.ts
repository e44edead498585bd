import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/e2e/**/*.e2e.ts'],
    // One Prometheus at a time on a 2-core machine.
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 60_000,
    // expect.poll's own default is 1 s: too short for a browser or Prometheus on a busy machine.
    expect: { poll: { timeout: 10_000 } },
  },
});
