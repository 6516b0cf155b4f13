/** Human formatting shared by the usage reports, `tend usage top` and the dashboard panel. */

const UNITS = ['B', 'KB', 'MB', 'GB', 'TB', 'PB', 'EB']

/** 1536 → "1.5 KB" (powers of 1000, like vnStat's default). Exact integers stay exact below 1000. */
export function formatBytes(bytes: bigint | number | string): string {
  let value = Number(bytes)
  let unit = 0
  while (Math.abs(value) >= 1000 && unit < UNITS.length - 1) {
    value /= 1000
    unit++
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(value < 10 ? 2 : value < 100 ? 1 : 0)} ${UNITS[unit]}`
}

export function formatRate(bytesPerSecond: number): string {
  return `${formatBytes(Math.round(bytesPerSecond))}/s`
}

/** "12s ago", "3m ago", "2h ago" from an ISO time. */
export function formatAgo(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '-'
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000))
  if (seconds < 120) return `${seconds}s ago`
  if (seconds < 7200) return `${Math.round(seconds / 60)}m ago`
  return `${Math.round(seconds / 3600)}h ago`
}
