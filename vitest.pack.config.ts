import { defineConfig } from 'vitest/config';

// `npm run test:pack`: packs the tarball and installs it into a fresh app (network or npm cache),
// so it stays out of `npm test`.
export default defineConfig({
  test: {
    include: ['test/pack/**/*.pack.ts'],
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 240_000,
  },
});
