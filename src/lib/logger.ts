import {inspect} from 'node:util'

export type LogLevel = 'debug' | 'info' | 'warn' | 'error'
const LEVEL_RANK: Record<LogLevel, number> = {debug: 10, info: 20, warn: 30, error: 40}

export type LogFields = Record<string, unknown>

/** Where formatted lines go: a file stream, stdout, or both. */
export interface LogSink {
  write(line: string): void
}

/**
 * A small line logger: `2026-11-21T19:40:00.123Z INFO  ci-master: build started build=12 builder=unit`.
 * Plain text because operators read these with `tend logs` and grep; fields stay key=value.
 */
export class Logger {
  constructor(
    private readonly sinks: LogSink[],
    private readonly scope: string,
    private readonly minLevel: LogLevel = 'info',
    private readonly redact: (text: string) => string = (text) => text,
  ) {}

  child(scope: string): Logger {
    return new Logger(this.sinks, `${this.scope}/${scope}`, this.minLevel, this.redact)
  }

  /** A logger that scrubs the given secrets from every line it writes. */
  withRedaction(redact: (text: string) => string): Logger {
    return new Logger(this.sinks, this.scope, this.minLevel, (text) => redact(this.redact(text)))
  }

  debug(message: string, fields?: LogFields): void {
    this.write('debug', message, fields)
  }

  info(message: string, fields?: LogFields): void {
    this.write('info', message, fields)
  }

  warn(message: string, fields?: LogFields): void {
    this.write('warn', message, fields)
  }

  error(message: string, fields?: LogFields): void {
    this.write('error', message, fields)
  }

  private write(level: LogLevel, message: string, fields?: LogFields): void {
    if (LEVEL_RANK[level] < LEVEL_RANK[this.minLevel]) return
    const line = `${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} ${this.scope}: ${message}${formatFields(fields)}\n`
    const safe = this.redact(line)
    for (const sink of this.sinks) sink.write(safe)
  }
}

function formatFields(fields?: LogFields): string {
  if (!fields) return ''
  let out = ''
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue
    out += ` ${key}=${formatValue(value)}`
  }
  return out
}

function formatValue(value: unknown): string {
  if (value instanceof Error) return JSON.stringify(value.message)
  if (typeof value === 'string') return /^[\w./:@+-]*$/.test(value) && value !== '' ? value : JSON.stringify(value)
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value)
  return inspect(value, {breakLength: Infinity, depth: 4, compact: true})
}

export const nullLogger = new Logger([], 'null')

export function parseLogLevel(value: string | undefined): LogLevel {
  return value && value in LEVEL_RANK ? (value as LogLevel) : 'info'
}
