import type {IncomingMessage} from 'node:http'
import {constraints} from '../../protocols/storage/constraints.js'
import {titleCase} from './respond.js'

/**
 * What every request is checked for before it is routed, as Swift's proxy does: no header
 * longer than max_header_size, and no transfer coding but chunked (swob's is_chunked). The
 * status and the reason to refuse it with, or undefined.
 */
export function requestProblem(req: IncomingMessage): {status: number; detail: string} | undefined {
  const raw = req.rawHeaders
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i + 1].length > constraints.max_header_size)
      return {status: 400, detail: `Header value too long: ${titleCase(raw[i]).slice(0, constraints.max_meta_name_length)}`}
  }
  const te = req.headers['transfer-encoding']
  if (te !== undefined) {
    const codings = te.split(',')
    if (codings.length > 1) return {status: 501, detail: 'Unsupported Transfer-Coding header value specified in Transfer-Encoding header'}
    if (codings[0].trim().toLowerCase() !== 'chunked') return {status: 400, detail: 'Invalid Transfer-Encoding header value'}
  }
  return undefined
}
