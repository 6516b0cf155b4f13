import {execa} from 'execa'
import {describe, expect, it} from 'vitest'
import {cliEnv, repoRoot} from '../../helpers/cli.js'

// CI runs every benchmark in a smoke size: the workload must still run end to end.
describe('bench/cli --smoke', () => {
  it('runs and prints its summary line', async () => {
    const result = await execa(process.execPath, ['--import', 'tsx', 'bench/cli/run.ts', '--smoke'], {
      cwd: repoRoot,
      env: cliEnv('/nonexistent'),
      extendEnv: false,
      reject: false,
      timeout: 180_000,
    })
    expect(result.exitCode, String(result.stderr)).toBe(0)
    expect(String(result.stdout)).toMatch(/^SUMMARY cli help=\d+ms ps=\d+ms up=\d+ms restart=\d+ms (REACHED|MISSED)$/m)
  }, 200_000)
})
