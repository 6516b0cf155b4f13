import {Flags} from '@oclif/core'
import {BaseCommand} from '../cli/base-command.js'
import {up, type UpResult} from '../cli/stack/stack-runner.js'

export default class Up extends BaseCommand {
  static summary = 'Start the instances a stack file declares and wait until they are healthy'
  static description = `Reads -f FILE, else ./tend.yaml, else the embedded default stack (every family on this machine,
SQLite everywhere). The whole file is validated first: a bad file starts nothing (exit 2). Instances start
once those they depend on are healthy; up exits 0 only when all are healthy, else 1 with each failure's
last log lines. Running it again changes only what changed; instances removed from the file are stopped.`
  static examples = [
    '<%= config.bin %> up',
    '<%= config.bin %> up -f tend.yaml --timeout 120',
    'TEND_HOME=/tmp/t <%= config.bin %> up --json',
  ]
  static flags = {
    file: Flags.string({char: 'f', description: 'stack file (YAML)', env: 'TEND_STACK'}),
    timeout: Flags.integer({description: 'seconds to wait for each instance to be healthy', default: 60, min: 1}),
  }

  async run(): Promise<UpResult> {
    const {flags} = await this.parse(Up)
    const result = await up({
      oclif: this.config,
      home: this.home,
      file: flags.file,
      timeoutMs: flags.timeout * 1000,
      silent: this.jsonEnabled(),
    })
    for (const failure of result.failures) {
      this.note(`Error: ${failure.name} ${failure.started ? 'did not become healthy' : 'was not started'}: ${failure.error}`)
      if (failure.log.length > 0) this.note(`  last log lines of ${failure.name}:\n${failure.log.map((l) => `    ${l}`).join('\n')}`)
    }
    if (!result.ok) process.exitCode = 1
    return result
  }
}
