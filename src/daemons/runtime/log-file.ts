import {createStream, type RotatingFileStream} from 'rotating-file-stream'
import {basename, dirname} from 'node:path'
import type {LogSink} from '../../lib/logger.js'

/** Size-rotated log file: NAME.log, then NAME.log.1 ... NAME.log.N (logrotate style). */
export function openRotatingLog(path: string, options: {size?: string; keep?: number} = {}): RotatingFileStream {
  return createStream(basename(path), {
    path: dirname(path),
    size: options.size ?? process.env.TEND_LOG_SIZE ?? '10M',
    rotate: options.keep ?? 5,
  })
}

export function streamSink(stream: NodeJS.WritableStream): LogSink {
  return {write: (line) => void stream.write(line)}
}

export async function closeStream(stream: RotatingFileStream): Promise<void> {
  await new Promise<void>((resolve) => {
    stream.once('finish', () => resolve())
    stream.once('error', () => resolve())
    stream.end()
  })
}
