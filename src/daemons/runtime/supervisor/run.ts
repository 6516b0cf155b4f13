import {Logger, type LogSink, parseLogLevel} from '../../../lib/logger.js'
import {closeStream, openRotatingLog, streamSink} from '../log-file.js'
import {StatePaths, keepFilesPrivate} from '../paths.js'
import {Supervisor} from './supervisor.js'

/** Runs the supervisor process for a state home; resolves with its exit code. */
export async function runSupervisor(home: string, options: {toStdout: boolean}): Promise<number> {
  keepFilesPrivate()
  const paths = new StatePaths(home).ensure()
  // In the background our stdout already is the supervisor log; in the foreground write both.
  const stream = options.toStdout ? openRotatingLog(paths.supervisorLog) : undefined
  const sinks: LogSink[] = stream ? [streamSink(stream), streamSink(process.stdout)] : [streamSink(process.stdout)]
  const log = new Logger(sinks, 'supervisor', parseLogLevel(process.env.TEND_LOG_LEVEL))
  try {
    const ran = await new Supervisor(paths, process.argv[1], log).run()
    if (!ran) log.info('another supervisor already runs for this state home; exiting')
    return 0
  } finally {
    if (stream) await closeStream(stream)
  }
}
