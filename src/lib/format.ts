import {styleText} from 'node:util'

export type Color = 'green' | 'yellow' | 'red' | 'gray' | 'cyan' | 'magenta' | 'blue' | 'bold' | 'dim'

/** Colour only for a terminal that wants it (NO_COLOR, pipes and CI get plain text). */
export function useColor(stream: NodeJS.WriteStream = process.stdout): boolean {
  return Boolean(stream.isTTY) && !process.env.NO_COLOR && process.env.TERM !== 'dumb'
}

export function paint(text: string, color: Color | undefined, enabled: boolean): string {
  return enabled && color ? styleText(color, text) : text
}

/** Cuts text to `width` characters, marking the cut with an ellipsis. */
export function truncate(text: string, width: number): string {
  return text.length > width ? `${text.slice(0, Math.max(0, width - 1))}…` : text
}

/** 42s, 5m, 3h12m, 4d2h: as short as an operator reads at a glance. */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '-'
  const s = Math.max(0, Math.floor(seconds))
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60 ? `${s % 60}s` : ''}`
  if (s < 86400) return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`
  return `${Math.floor(s / 86400)}d${Math.floor((s % 86400) / 3600)}h`
}

/** How long ago a time was (epoch ms or ISO text), as formatDuration writes it; '-' for none. */
export function formatAge(at: number | string | null | undefined, now = Date.now()): string {
  if (at === null || at === undefined) return '-'
  return formatDuration((now - (typeof at === 'string' ? Date.parse(at) : at)) / 1000)
}

export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) return '-'
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']
  let value = bytes
  let unit = 0
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${unit === 0 ? value : value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`
}

/** A rate for people: "1.5 MiB/s". */
export function formatRate(bytesPerSecond: number): string {
  return `${formatBytes(bytesPerSecond)}/s`
}

export interface Column<Row> {
  header: string
  value: (row: Row) => string
  color?: (row: Row) => Color | undefined
  align?: 'left' | 'right'
  /** The last column may be cut to fit the terminal. */
  max?: number
}

/**
 * A plain fixed-width table (pm2's `ls` without the box). With `width` (a terminal's), each line
 * is cut to it, coloured or not, so a narrow terminal never wraps a row onto the next line.
 */
export function renderTable<Row>(columns: Column<Row>[], rows: Row[], options: {color?: boolean; width?: number} = {}): string {
  const cells = rows.map((row) => columns.map((c) => c.value(row)))
  const widths = columns.map((c, i) => Math.min(c.max ?? Infinity, Math.max(c.header.length, ...cells.map((r) => r[i].length))))
  const fit = (text: string, i: number) => {
    const cut = truncate(text, widths[i])
    return columns[i].align === 'right' ? cut.padStart(widths[i]) : cut.padEnd(widths[i])
  }
  // Cells are cut to the room left on the line before they are painted: never inside a colour.
  const line = (texts: string[], colors: Array<Color | undefined>) => {
    let room = options.width || Infinity
    const parts: string[] = []
    for (const [i, text] of texts.entries()) {
      const separator = i === 0 ? '' : '  '
      if (room <= separator.length) break
      room -= separator.length
      const cell = fit(text, i)
      // A cell whose padding alone does not fit is not cut: it ends the line.
      const kept = cell.length <= room ? cell : truncate(cell.trimEnd(), room)
      room -= kept.length
      parts.push(separator + paint(kept, colors[i], options.color ?? false))
    }
    return parts.join('').trimEnd()
  }
  return [
    line(
      columns.map((c) => c.header),
      columns.map(() => 'bold'),
    ),
    ...rows.map((row, r) =>
      line(
        cells[r],
        columns.map((c) => c.color?.(row)),
      ),
    ),
  ].join('\n')
}
