import {defineDaemonKind} from '../runtime/contract.js'
import {masterConfig, type MasterConfig} from './ci-master-config.js'
import {startMaster} from './master.js'

export default defineDaemonKind<MasterConfig>({
  kind: 'ci-master',
  summary: 'CI master: builders, schedulers, build queue and log store; workers dial in over WebSocket',
  config: masterConfig as never,
  start: startMaster,
})
