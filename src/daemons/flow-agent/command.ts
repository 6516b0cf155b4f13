/** Runs the Open vSwitch and iproute2 tools the agent drives (ovs-vsctl, ovs-appctl, ip). */
import {execa} from 'execa'
import {FailureError} from '../../lib/errors.js'

/** Runs a command to completion; a non-zero exit is a FailureError with its first line of output. */
export async function runCommand(
  command: string,
  args: string[],
  options: {env?: Record<string, string>; timeoutMs?: number} = {},
): Promise<string> {
  const result = await execa(command, args, {reject: false, timeout: options.timeoutMs ?? 30_000, env: options.env, stdin: 'ignore'})
  if (result.exitCode !== 0) {
    if ((result as {code?: string}).code === 'ENOENT')
      throw new FailureError(`${command} is not installed`, {hint: 'apt-get install openvswitch-switch iproute2'})
    const detail = (result.stderr || result.stdout || String(result.message)).trim().split('\n')[0]
    throw new FailureError(`${command} ${args.slice(0, 3).join(' ')} failed: ${detail}`)
  }
  return result.stdout
}
