/** CI runs the flow benchmark in its smoke size: it checks its own figures and exits 1 on a miss. */
import {execa} from 'execa'
import {expect, it} from 'vitest'
import {repoRoot} from '../../helpers/cli.js'

it('bench/flow/restart.ts --smoke passes', async () => {
  const result = await execa('npx', ['tsx', 'bench/flow/restart.ts', '--smoke'], {cwd: repoRoot, reject: false, timeout: 240_000})
  expect(result.exitCode, `${result.stdout}\n${result.stderr}`).toBe(0)
  expect(result.stdout).toMatch(/^flow bench summary: .* ok$/m)
}, 250_000)
