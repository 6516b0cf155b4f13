import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../../cli/base-command.js'
import {explainVia} from '../../cli/flow/flow-client.js'
import {renderExplanation} from '../../cli/flow/flow-render.js'

export default class FlowExplain extends BaseCommand {
  static summary = "Trace a packet from a port through the switch's flows: which tables it crosses, where it leaves or why it is dropped"
  static description = `Builds the packet PORT would send to --to (its MAC and address from the model, the destination's MAC too), and has
Open vSwitch trace it (ovs-appctl ofproto/trace) on the agent's switch. Prints each table it went through with the flow that
matched, then where the packet left (a port, a tunnel to another host, the wire) or the table that dropped it and why.
The first packet of a new connection by default; --established traces a reply in a connection the other side opened.`
  static examples = [
    '<%= config.bin %> flow explain web --to 10.0.0.12:5432',
    '<%= config.bin %> flow explain web --to [2001:db8::12]:443',
    '<%= config.bin %> flow explain web --to 10.0.0.12 --protocol icmp',
    "<%= config.bin %> flow explain web --to 10.0.0.12:22 --json | jq '.verdict, .drop'",
  ]
  static args = {port: Args.string({description: "a port of the model, on the agent's host", required: true})}
  static flags = {
    to: Flags.string({description: 'the destination: IP, IP:PORT or [IPv6]:PORT', required: true}),
    protocol: Flags.string({description: 'tcp or udp (with a port, default tcp), icmp (without)', options: ['tcp', 'udp', 'icmp']}),
    mac: Flags.string({description: "the destination's MAC, when the address is no port of the model"}),
    established: Flags.boolean({description: 'a reply in an established connection, not the first packet of a new one'}),
    instance: Flags.string({char: 'i', description: 'the flow-agent instance to ask (default: the only one running)'}),
  }

  async run() {
    const {args, flags} = await this.parse(FlowExplain)
    const explanation = await explainVia(this.home, flags.instance, {
      port: args.port,
      to: flags.to,
      protocol: flags.protocol as 'tcp' | 'udp' | 'icmp' | undefined,
      mac: flags.mac,
      established: flags.established,
    })
    this.log(renderExplanation(explanation))
    return explanation
  }
}
