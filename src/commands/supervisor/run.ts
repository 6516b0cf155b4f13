import {Flags} from '@oclif/core'
import {BaseCommand} from '../../cli/base-command.js'
import {exitAfterGrace} from '../../lib/exit-guard.js'
import {runSupervisor} from '../../daemons/runtime/supervisor/run.js'

export default class SupervisorRun extends BaseCommand {
  static summary = 'Run the supervisor of this state home in the foreground'
  static description = `tend starts the supervisor on demand (tend up, tend daemon start), detached, so this is for
running it under systemd or by hand. It restarts crashed instances per their restart policy, adopts
instances a previous supervisor left running, and exits once it manages nothing. SIGTERM stops every
instance and keeps their records, so the next supervisor brings them back.`
  static examples = ['TEND_HOME=/var/lib/tend <%= config.bin %> supervisor run']
  static enableJsonFlag = false
  static flags = {
    background: Flags.boolean({hidden: true, description: 'started on demand by another tend command'}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(SupervisorRun)
    exitAfterGrace(await runSupervisor(this.home, {toStdout: !flags.background}))
  }
}
