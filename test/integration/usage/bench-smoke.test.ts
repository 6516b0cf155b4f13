import {execa} from 'execa'
import {describe, expect, it} from 'vitest'
import {repoRoot} from '../../helpers/cli.js'

/** CI runs the usage benchmark in its smoke size: it must finish and find every total exact. */
describe('bench/usage smoke', () => {
  it('runs the scale, fault and veth parts and finds every total exact', async () => {
    const run = await execa(process.execPath, ['--import', 'tsx', 'bench/usage/run.ts', '--smoke'], {
      cwd: repoRoot,
      reject: false,
      timeout: 240_000,
    })
    expect(run.exitCode, `${run.stdout}\n${run.stderr}`).toBe(0)
    expect(String(run.stdout)).toMatch(/collector booked [\d,]+ B, 0 vNICs off: EXACT to the byte/)
    expect(String(run.stdout)).toMatch(/sent 1,500,000 B; collector booked 1,500,000 B: EXACT/)
    expect(String(run.stdout)).toMatch(/^SUMMARY usage: .*all totals exact$/m)
  }, 300_000)
})
