import {type Hook, toConfiguredId} from '@oclif/core'
import {closest} from '../lib/closest.js'
import {UsageError} from '../lib/errors.js'
import {printReport, reportOf} from '../cli/error-report.js'

/**
 * `tend bogus`: a usage error (exit 2) with the nearest command as a hint, the same in a
 * terminal, a pipe and under --json (oclif's plugin-not-found exits 127, prints no JSON and
 * suggests only in a terminal, by prompting). `tend ps extra` reaches here too, since oclif
 * reads `ps extra` as a command id: that is an unexpected argument of `tend ps`.
 */
const hook: Hook<'command_not_found'> = async function ({argv, config, id}) {
  const words = id.split(':')
  const json = (argv ?? []).includes('--json')
  let error: UsageError
  const known = words.findLastIndex((_, n) => n > 0 && config.findCommand(words.slice(0, n).join(':')) !== undefined)
  if (known > 0) {
    const command = toConfiguredId(words.slice(0, known).join(':'), config)
    const extra = words.slice(known)
    error = new UsageError(`Unexpected argument${extra.length === 1 ? '' : 's'} to ${config.bin} ${command}: ${extra.join(' ')}`, {
      hint: `see: ${config.bin} ${command} --help`,
    })
  } else {
    const visible = config.commands.filter((c) => !c.hidden).flatMap((c) => [c.id, ...c.aliases])
    const suggestion = closest(id, [...visible, ...config.topics.map((t) => t.name)])
    error = new UsageError(`unknown command: ${config.bin} ${toConfiguredId(id, config)}`, {
      code: 'UNKNOWN_COMMAND',
      hint: `${suggestion ? `did you mean: ${config.bin} ${toConfiguredId(suggestion, config)}? ` : ''}see: ${config.bin} --help`,
    })
  }
  printReport(reportOf(error), {json})
  // Printed already: oclif only has to exit with the code.
  throw Object.assign(new Error(error.message), {skipOclifErrorHandling: true, oclif: {exit: error.exitCode}})
}

export default hook
