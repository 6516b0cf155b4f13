import {Config} from '@oclif/core'
import {afterEach, describe, expect, it, vi} from 'vitest'
import {BaseCommand} from '../../../src/cli/base-command.js'
import {NotFoundError} from '../../../src/lib/errors.js'
import {warn} from '../../../src/lib/warnings.js'
import {repoRoot} from '../../helpers/cli.js'

class Warns extends BaseCommand {
  static enableJsonFlag = true
  async run() {
    await this.parse(Warns)
    warn('plugin x failed in hook tend:daemon-kinds: boom')
    return {done: true}
  }
}

class Fails extends BaseCommand {
  static enableJsonFlag = true
  async run(): Promise<never> {
    await this.parse(Fails)
    warn('something to know first')
    throw new NotFoundError('no instance named nope here', {hint: 'see: tend ps'})
  }
}

/** Runs a command in this process and returns what it wrote to stdout and stderr. */
async function run(command: typeof Warns | typeof Fails, argv: string[]) {
  const config = await Config.load(repoRoot)
  const out: string[] = []
  const err: string[] = []
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => out.push(String(chunk)) > 0)
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => err.push(String(chunk)) > 0)
  try {
    await command.run(argv, config)
  } finally {
    vi.restoreAllMocks()
  }
  return {stdout: out.join(''), stderr: err.join('')}
}

describe('the base command', () => {
  afterEach(() => {
    process.exitCode = undefined
  })

  it('puts warnings into the JSON document under --json, and on stderr otherwise', async () => {
    const json = await run(Warns, ['--json'])
    expect(JSON.parse(json.stdout)).toEqual({done: true, warnings: ['plugin x failed in hook tend:daemon-kinds: boom']})
    expect(json.stderr).toBe('')
    const text = await run(Warns, [])
    expect(text.stderr).toBe('Warning: plugin x failed in hook tend:daemon-kinds: boom\n')
  })

  it('reports an error with its code and exit code, warnings beside it', async () => {
    const json = await run(Fails, ['--json'])
    expect(JSON.parse(json.stdout)).toEqual({
      error: {message: 'no instance named nope here', hint: 'see: tend ps', exitCode: 1, code: 'NOT_FOUND'},
      warnings: ['something to know first'],
    })
    expect(process.exitCode).toBe(1)
  })
})
