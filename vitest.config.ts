import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The real-machine tests (QEMU boots, a real packer build) have their own config: vitest.e2e.config.ts.
    exclude: ['test/e2e/**', 'node_modules/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Golden files are never rewritten by CI: `vitest -u` is a deliberate local act.
    update: false,
  },
});
