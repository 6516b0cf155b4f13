import {defineConfig} from 'vitest/config'

// Two lanes of test files. Inside a lane files run one at a time: integration tests start real
// processes and a 2-core machine cannot take many at once. `npm test` runs the two lanes side by
// side (test/run-lanes.ts) because most integration time is waiting (reconnect delays, timeouts,
// a terminal redraw) rather than CPU; `npx vitest run PATH` still runs files one at a time.
// The lanes split the CPU-heavy families (storage, flow, the benchmarks' smoke runs) from the rest.
export const storageFlowLane = [
  'test/integration/storage/**/*.test.ts',
  'test/integration/flow/**/*.test.ts',
  'test/integration/bench/**/*.test.ts',
]

export default defineConfig({
  test: {
    // @oclif/test captures output itself; vitest's console interception hides it.
    disableConsoleIntercept: true,
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    teardownTimeout: 30_000,
    projects: [
      {extends: true, test: {name: 'storage-flow', include: storageFlowLane}},
      {extends: true, test: {name: 'others', include: ['test/**/*.test.ts', 'test/**/*.test.tsx'], exclude: storageFlowLane}},
    ],
  },
})
