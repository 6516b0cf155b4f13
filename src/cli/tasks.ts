import {Listr, ListrLogger, ProcessOutput, type ListrTask} from 'listr2'

export interface TaskListOptions {
  /** Nothing is drawn (a --json run, where stdout is the result). */
  silent?: boolean
  concurrent?: boolean
}

/**
 * A listr2 task list drawn on stderr, so stdout stays for data. On a TTY it is the live
 * renderer; otherwise listr2 falls back to plain lines by itself. Failed tasks do not stop
 * the others; the caller looks at what each task recorded.
 */
export function taskList<Ctx = object>(tasks: ListrTask<Ctx>[], options: TaskListOptions = {}): Listr<Ctx> {
  const logger = new ListrLogger({processOutput: new ProcessOutput(process.stderr, process.stderr)})
  return new Listr<Ctx>(tasks, {
    concurrent: options.concurrent ?? false,
    exitOnError: false,
    collectErrors: 'minimal',
    renderer: (options.silent ? 'silent' : 'default') as 'default',
    rendererOptions: {logger, collapseErrors: false},
    fallbackRenderer: 'simple',
    fallbackRendererOptions: {logger},
  })
}
