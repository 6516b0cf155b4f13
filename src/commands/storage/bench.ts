import {Flags} from '@oclif/core'
import {BaseCommand} from '../../cli/base-command.js'
import {FailureError} from '../../lib/errors.js'
import {type BenchResult, runBench} from '../../cli/storage/bench.js'
import {clientFlags} from '../../cli/storage/storage-flags.js'
import {resolveAuthUrl} from '../../cli/storage/storage-client.js'
import {ProgressLine} from '../../cli/storage/progress.js'

export default class StorageBench extends BaseCommand {
  static summary = 'Benchmark the object store the way swift-bench does: PUT, GET, DELETE phases'
  static description = `N PUTs of --object-size bytes over --containers containers, N random GETs (each body
checked), then a DELETE of each, at --concurrency requests in flight. Exits 1 if any request failed.`
  static examples = [
    '<%= config.bin %> storage bench',
    '<%= config.bin %> storage bench -c 200 -n 50000 --json',
    '<%= config.bin %> storage bench --auth http://127.0.0.1:8480/auth/v1.0 -U test:tester -K testing -x',
  ]
  static flags = {
    ...clientFlags,
    concurrency: Flags.integer({char: 'c', description: 'requests in flight', default: 64, min: 1, max: 4096}),
    'object-size': Flags.integer({char: 's', description: 'bytes per object', default: 4096, min: 0}),
    objects: Flags.integer({char: 'n', description: 'objects to PUT', default: 20_000, min: 1}),
    gets: Flags.integer({char: 'g', description: 'GETs to do [default: as many as objects]', min: 0}),
    containers: Flags.integer({char: 'C', description: 'containers to spread objects over', default: 20, min: 1}),
    'no-delete': Flags.boolean({char: 'x', description: 'keep the objects (skip the DELETE phase)'}),
  }

  async run(): Promise<BenchResult> {
    const {flags} = await this.parse(StorageBench)
    const progress = new ProgressLine(!this.jsonEnabled())
    const result = await runBench(
      {
        authUrl: await resolveAuthUrl(this.home, flags),
        user: flags.user,
        key: flags.key,
        concurrency: flags.concurrency,
        objectSize: flags['object-size'],
        objects: flags.objects,
        gets: flags.gets ?? flags.objects,
        containers: flags.containers,
        delete: !flags['no-delete'],
      },
      (verb, done, total) => progress.update(verb, done, total),
    )
    progress.done()
    for (const p of result.phases) {
      this.log(
        `${p.verb.padEnd(6)} ${String(p.count).padStart(8)} in ${p.seconds.toFixed(2)}s  ${p.perSecond.toFixed(1).padStart(9)}/s  p50 ${p.p50Ms ?? '-'} ms  p99 ${p.p99Ms ?? '-'} ms  failures ${p.failures}`,
      )
      for (const e of p.errors) this.note(`  ${p.verb} failure: ${e}`)
    }
    const failed = result.phases.reduce((sum, p) => sum + p.failures, 0)
    if (failed > 0 && !this.jsonEnabled()) throw new FailureError(`${failed} requests failed`)
    if (failed > 0) process.exitCode = 1
    return result
  }
}
