import {execa} from 'execa'
import {describe, expect, it} from 'vitest'
import {repoRoot} from '../../helpers/cli.js'

// CI runs every benchmark in a smoke size: the workload must still run end to end, through
// `tend storage bench` and Debian's swift-bench, with zero failures.
describe('bench/storage --smoke', () => {
  it('runs both drivers and prints its summary line', async () => {
    const result = await execa(process.execPath, ['--import', 'tsx', 'bench/storage/run.ts', '--smoke'], {
      cwd: repoRoot,
      reject: false,
      timeout: 240_000,
    })
    expect(result.exitCode, `${result.stdout}\n${result.stderr}`).toBe(0)
    expect(String(result.stdout)).toMatch(
      /^SUMMARY storage put=\d+\/s get=\d+\/s delete=\d+\/s put_p99=[\d.]+ms failures=0 swift-bench=\d+\/\d+\/\d+ (REACHED|MISSED)/m,
    )
  }, 260_000)
})
