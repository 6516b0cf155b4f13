import {defineConfig} from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'test/**/*.test.tsx'],
    // @oclif/test captures output itself; vitest's console interception hides it.
    disableConsoleIntercept: true,
    // Integration tests start real processes; on a 2-core machine they must not all run at once.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    teardownTimeout: 30_000,
  },
})
