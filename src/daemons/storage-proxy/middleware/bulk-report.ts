import type {IncomingHttpHeaders} from 'node:http'
import {headerText} from './exchange.js'

/**
 * The report bulk operations answer with (bulk delete, archive extract, SLO's manifest
 * upload and delete), as Swift's bulk middleware writes it: text/plain, JSON or XML by the
 * Accept header, always after a 200 head so the connection can be kept alive with spaces.
 */

export const REPORT_FORMATS = ['text/plain', 'application/json', 'application/xml', 'text/xml']

/** The offer an Accept header prefers (as WebOb's best_match); the first offer without one. */
export function bestMatch(headers: IncomingHttpHeaders, offers: string[] = REPORT_FORMATS): string | undefined {
  const accept = headerText(headers, 'accept')
  if (accept === undefined || accept.trim() === '') return offers[0]
  let best: string | undefined
  let bestQ = 0
  for (const part of accept.split(',')) {
    const [range, ...params] = part.trim().split(';')
    const q = Number(params.map((p) => /^\s*q=([\d.]+)\s*$/.exec(p)?.[1]).find(Boolean) ?? 1)
    const [type, sub] = range.trim().toLowerCase().split('/')
    for (const offer of offers) {
      const [offerType, offerSub] = offer.split('/')
      const matches = (type === '*' || type === offerType) && (sub === '*' || sub === offerSub)
      if (matches && q > bestQ) {
        best = offer
        bestQ = q
      }
    }
  }
  return best
}

/** Swift's status lines ("201 Created"), as the report shows them. */
export const STATUS_LINES: Record<number, string> = {
  200: '200 OK',
  201: '201 Created',
  202: '202 Accepted',
  204: '204 No Content',
  400: '400 Bad Request',
  401: '401 Unauthorized',
  403: '403 Forbidden',
  404: '404 Not Found',
  406: '406 Not Acceptable',
  409: '409 Conflict',
  411: '411 Length Required',
  412: '412 Precondition Failed',
  413: '413 Request Entity Too Large',
  416: '416 Requested Range Not Satisfiable',
  422: '422 Unprocessable Entity',
  500: '500 Internal Error',
  502: '502 Bad Gateway',
  503: '503 Service Unavailable',
}

export function statusLine(status: number): string {
  return STATUS_LINES[status] ?? String(status)
}

/** The report body: the fields, then the failures as [name, status]. */
export function reportBody(format: string | undefined, fields: Record<string, unknown>, errors: [string, string][], root: string): string {
  if (format === 'application/json') return JSON.stringify({...fields, Errors: errors})
  const keys = Object.keys(fields).sort()
  if (format?.endsWith('/xml')) {
    const rows = keys.map((key) => {
      const tag = key.replace(/ /g, '_').toLowerCase()
      return `<${tag}>${escapeXml(String(fields[key]))}</${tag}>\n`
    })
    const failures = errors.map(
      ([name, status]) => `<object><name>${escapeXml(name)}</name><status>${escapeXml(status)}</status></object>\n`,
    )
    return `<${root}>\n${rows.join('')}<errors>\n${failures.join('')}</errors>\n</${root}>\n`
  }
  return `${keys.map((key) => `${key}: ${fields[key]}\n`).join('')}Errors:\n${errors.map(([name, status]) => `${name}, ${status}\n`).join('')}`
}

function escapeXml(text: string): string {
  return text.replace(/[&<>]/g, (c) => ({'&': '&amp;', '<': '&lt;', '>': '&gt;'})[c]!)
}
