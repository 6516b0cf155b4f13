import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../../cli/base-command.js'
import {parseCookieTag} from '../../cli/flow/flow-flags.js'
import {compileFile} from '../../cli/flow/flow-client.js'

export default class FlowCompile extends BaseCommand {
  static summary = 'Print the OpenFlow flows a network model compiles to'
  static description = `One flow per line in ovs-ofctl syntax (add-flows takes it), each stamped with the agent's cookie.
Ports named by interface need --address to look their OpenFlow port numbers up on the switch; without it they are left out and listed on stderr.`
  static examples = [
    '<%= config.bin %> flow compile model.yaml',
    "<%= config.bin %> flow compile model.yaml --json | jq '.bridges.br0.flows | length'",
    '<%= config.bin %> flow compile model.yaml --address unix:/var/run/openvswitch/br0.mgmt',
    '<%= config.bin %> flow compile cloud.yaml --host compute-2',
  ]
  static args = {model: Args.string({description: 'the network model file (YAML or JSON)', required: true})}
  static flags = {
    address: Flags.string({
      char: 'a',
      description: 'resolve interface names on this switch: BRIDGE=ADDRESS or ADDRESS (repeatable)',
      multiple: true,
      default: [],
    }),
    cookie: Flags.string({description: 'the owner tag in the top 16 bits of the cookie', default: '0x7e4d'}),
    host: Flags.string({description: 'compile for this host, in a model that declares hosts'}),
    'hosts-file': Flags.string({description: "a shared hosts file joined to the model's hosts"}),
  }

  async run() {
    const {args, flags} = await this.parse(FlowCompile)
    const result = await compileFile(args.model, {
      cookie: parseCookieTag(flags.cookie),
      addresses: flags.address,
      host: flags.host,
      hostsFile: flags['hosts-file'],
    })
    for (const [bridge, {flows, missingInterfaces}] of Object.entries(result.bridges)) {
      this.log(flows.join('\n'))
      if (missingInterfaces.length)
        this.note(`${bridge}: interfaces without an OpenFlow number (their flows left out): ${missingInterfaces.join(', ')}`)
    }
    return result
  }
}
