import {type Command, Help} from '@oclif/core'

/**
 * `--help` as oclif renders it, with descriptions reflowed to the terminal: they are written
 * with line breaks at ~100 columns, which oclif keeps and then wraps again at the terminal's
 * width, giving ragged lines in an 80-column terminal.
 */
export default class TendHelp extends Help {
  protected formatCommand(command: Command.Loadable): string {
    return super.formatCommand({...command, description: command.description && reflow(command.description, !command.summary)})
  }
}

/**
 * Joins the lines of each paragraph (paragraphs are separated by a blank line) into one, for the
 * help to wrap; lines that start indented or with a list marker stay on their own. With
 * `keepFirstLine`, the first line (the summary of a command without one) stays apart.
 */
export function reflow(text: string, keepFirstLine = false): string {
  const [first, rest] = keepFirstLine ? [`${text.split('\n')[0]}\n`, text.slice(text.indexOf('\n') + 1)] : ['', text]
  if (keepFirstLine && !text.includes('\n')) return text
  return first + rest.replace(/([^\n])\n(?=[^\n\s\-*|>$#`\d])/g, '$1 ')
}
