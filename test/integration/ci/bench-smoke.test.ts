import {execa} from 'execa'
import {expect, it} from 'vitest'
import {repoRoot} from '../../helpers/cli.js'

// CI runs the benchmark in its smoke size: real master, workers and followers, on SQLite and
// PostgreSQL, with every byte verified (it fails if any log is not stored exactly), and the
// follow at human rates from a stack file.
it('bench/ci-logs --smoke stores and serves every line exactly', async () => {
  const result = await execa(process.execPath, ['--import', 'tsx', 'bench/ci-logs/run.ts', '--smoke'], {
    cwd: repoRoot,
    reject: false,
    timeout: 240_000,
    all: true,
  })
  expect(result.exitCode, String(result.all)).toBe(0)
  expect(result.stdout).toMatch(
    /SUMMARY W=2 B=2 L=3000 sqlite: [\d,]+ lines\/s wall.*\| postgres: [\d,]+ lines\/s wall.*\| idle: 20 workers.*\| follow at 1\/s p99 [\d,]+ ms, 10\/s p99 [\d,]+ ms, 100\/s p99 [\d,]+ ms/,
  )
}, 300_000)
