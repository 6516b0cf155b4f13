import {Flags} from '@oclif/core'
import {UsageError} from '../../lib/errors.js'
import type {FlowTarget} from './flow-client.js'

/** How a `tend flow` command picks what it works on: a running agent, or a model and a switch. */
export const flowTargetFlags = {
  instance: Flags.string({char: 'i', description: 'the flow-agent instance to ask (default: the only one running)', exclusive: ['model']}),
  model: Flags.string({char: 'm', description: 'work directly on a model file instead of asking an agent'}),
  address: Flags.string({
    char: 'a',
    description: "with --model: a bridge's OpenFlow address, BRIDGE=ADDRESS or just ADDRESS for a one-bridge model (repeatable)",
    multiple: true,
    default: [],
  }),
  rundir: Flags.string({description: "with --model: where bridges' <bridge>.mgmt sockets are (default /var/run/openvswitch)"}),
  cookie: Flags.string({description: 'with --model: the owner tag in the top 16 bits of the cookie (default 0x7e4d)'}),
  host: Flags.string({description: "with --model: this host's name, in a model that declares hosts"}),
  'hosts-file': Flags.string({description: "with --model: a shared hosts file joined to the model's hosts"}),
}

export function flowTarget(
  home: string,
  flags: {instance?: string; model?: string; address: string[]; rundir?: string; cookie?: string; host?: string; 'hosts-file'?: string},
): FlowTarget {
  if (!flags.model) {
    const stray = flags.address.length
      ? '--address'
      : (['rundir', 'cookie', 'host', 'hosts-file'] as const).map((f) => flags[f] && `--${f}`).find(Boolean)
    if (stray) throw new UsageError(`${stray} goes with --model (without it, the command asks the running agent)`)
    return {home, instance: flags.instance}
  }
  return {
    model: flags.model,
    addresses: flags.address,
    rundir: flags.rundir ?? '/var/run/openvswitch',
    cookie: parseCookieTag(flags.cookie ?? '0x7e4d'),
    host: flags.host,
    hostsFile: flags['hosts-file'],
  }
}

export function parseCookieTag(text: string): number {
  const value = Number(text)
  if (!Number.isInteger(value) || value < 1 || value > 0xffff) throw new UsageError(`--cookie ${text}: expected a number from 1 to 0xffff`)
  return value
}
