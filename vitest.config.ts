import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The real-machine tests (QEMU boots, a real packer build) have their own config: vitest.e2e.config.ts.
    exclude: ['test/e2e/**', 'node_modules/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Golden files (toMatchFileSnapshot) are never written by a test run, in CI or not: a missing or changed one
    // fails. `update: false` is not enough: outside CI vitest then writes missing ones ("new"). Regenerate them
    // deliberately with `npm run test:update-golden` (vitest run -u); test/golden-snapshots.test.ts proves both.
    update: 'none',
  },
});
