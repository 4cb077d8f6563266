import { defineConfig } from 'vitest/config';

// The real-machine tests (test/e2e/): QEMU TCG boots, a real `packer build`, local mirrors on 127.0.0.1. One file
// at a time: the machine has two cores and a TCG guest wants both.
export default defineConfig({
  test: {
    include: ['test/e2e/**/*.test.ts'],
    testTimeout: 40 * 60_000,
    hookTimeout: 40 * 60_000,
    fileParallelism: false,
    maxWorkers: 1,
    // As in vitest.config.ts: a missing or changed golden file fails, in CI or not.
    update: 'none',
  },
});
