import {once} from 'node:events'
import type {Writable} from 'node:stream'
import {finished} from 'node:stream/promises'
import {openOutputFile} from '../output-file.js'
import {locateUsageDb} from './locate.js'
import {jsonInteger, UsageReader} from './reports.js'

export interface ExportSummary {
  db: string
  output: string
  records: Record<string, number>
}

/**
 * Writes the whole history as NDJSON, one record per line: meta, series, poll, sample, rollup,
 * event. Exact integers beyond 2^53 are strings. Streams from SQLite, so memory stays flat.
 */
export async function exportUsage(home: string, options: {db?: string; instance?: string; output?: string}): Promise<ExportSummary> {
  const db = await locateUsageDb(home, options)
  const out: Writable = options.output ? openOutputFile(options.output) : process.stdout
  const reader = UsageReader.open(db)
  const records: Record<string, number> = {}
  try {
    for (const record of reader.exportRecords()) {
      records[record.type as string] = (records[record.type as string] ?? 0) + 1
      if (!out.write(`${JSON.stringify(record, (_key, value) => (typeof value === 'bigint' ? jsonInteger(value) : value))}\n`))
        await once(out, 'drain')
    }
  } finally {
    reader.close()
    if (options.output) {
      out.end()
      await finished(out)
    }
  }
  return {db, output: options.output ?? '-', records}
}
