import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Golden files are never rewritten by CI: `vitest -u` is a deliberate local act.
    update: false,
  },
});
