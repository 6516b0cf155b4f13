import type {ContainerCache} from '../container-cache.js'
import type {SwiftRequest} from '../request.js'
import {type Answer, discard, headerText, readBody, sendAnswer} from './exchange.js'
import {headerString, quote} from './names.js'
import {type Authorizer, type Middleware, type Stage, bodyAnswer, stockAnswer} from './pipeline.js'

/**
 * Static web sites from containers (Swift's staticweb), for anonymous requests (or any with
 * `X-Web-Mode: true`) to a container whose ACL lets them read (`.r:*`): with
 * X-Container-Meta-Web-Index a directory path serves its index object; with -Web-Listings:
 * true one without an index gets an HTML listing (styled by -Web-Listings-CSS, titled by
 * -Web-Listings-Label); with -Web-Error a 404 or 401 serves `<status><suffix>` (404error.html);
 * 0-byte objects of -Web-Directory-Type (application/directory) are directories.
 */

interface Site {
  index: string
  error: string
  listings: string
  listingsCss: string
  label: string
  dirType: string
}

const isTrue = (value: string) => ['true', '1', 'yes', 'on', 't', 'y'].includes(value.toLowerCase())
const ok = (status: number) => status >= 200 && status < 400

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#x27;'})[c]!)
}

/** Swift's human_readable: 1023, 1Ki, 5Mi. */
function humanReadable(value: number): string {
  const suffixes = 'KMGTPEZY'
  let index = -1
  while (value >= 1024 && index + 1 < suffixes.length) {
    index++
    value = Math.round(value / 1024)
  }
  return index === -1 ? String(value) : `${Math.round(value)}${suffixes[index]}i`
}

export function staticWeb(containers: ContainerCache, authorize: Authorizer): Middleware {
  return {
    name: 'staticweb',
    info: () => ({staticweb: {}}),
    handle(r, stage) {
      if ((r.method !== 'GET' && r.method !== 'HEAD') || r.container === undefined) return stage.next(r)
      const webMode = isTrue(headerText(r.req.headers, 'x-web-mode') ?? 'f')
      if (r.identity && !webMode) return stage.next(r)
      return new StaticSite(r, stage, containers, authorize, webMode).serve()
    },
  }
}

class StaticSite {
  private site: Site = {index: '', error: '', listings: '', listingsCss: '', label: '', dirType: ''}
  private readonly path: string

  constructor(
    private readonly r: SwiftRequest,
    private readonly stage: Stage,
    private readonly containers: ContainerCache,
    private readonly authorize: Authorizer,
    private readonly webMode: boolean,
  ) {
    this.path = `/v1/${r.account}/${r.container}${r.object !== undefined ? `/${r.object}` : ''}`
  }

  async serve(): Promise<void> {
    const state = await this.containers.get(this.r.account, this.r.container)
    if (state.exists) {
      const meta = (name: string) => headerString(headerText(state.headers, `x-container-meta-web-${name}`) ?? '').trim()
      this.site = {
        index: meta('index'),
        error: meta('error'),
        listings: meta('listings'),
        listingsCss: meta('listings-css'),
        label: meta('listings-label'),
        dirType: meta('directory-type'),
      }
    }
    // A container that is no web site is left to the API (the common case for public reads).
    if (!this.site.index && !this.site.listings && !this.site.error && !this.webMode) return this.stage.next(this.r)
    return this.send(this.r.object === undefined ? await this.container() : await this.object())
  }

  private send(answer: Answer): Promise<void> {
    this.r.req.resume()
    return sendAnswer(this.r.res, answer, this.r.head)
  }

  private get(object: string, query: Record<string, string> = {}): Promise<Answer> {
    return this.stage.subrequest(this.r, {
      method: this.r.method,
      container: this.r.container,
      object,
      query,
      headers: this.r.req.headers,
      source: 'SW',
    })
  }

  /** An error answer, or the site's own page for it (404error.html) when there is one. */
  private async error(answer: Answer): Promise<Answer> {
    if (!this.site.error) return answer
    const page = await this.stage.subrequest(this.r, {
      method: 'GET',
      container: this.r.container,
      object: `${answer.status}${this.site.error}`,
      source: 'SW',
    })
    if (page.status >= 200 && page.status < 300) {
      discard(answer.body)
      return {...page, status: answer.status}
    }
    discard(page.body)
    return answer
  }

  private redirectWithSlash(): Answer {
    return bodyAnswer(301, '', {location: `${this.r.baseUrl}${quote(this.path)}/`})
  }

  private async container(): Promise<Answer> {
    const denied = await this.authorize(this.r)
    if (denied) return this.error(await stockAnswer(denied))
    if (!this.site.listings && !this.site.index) {
      if (this.webMode) return stockAnswer(404)
      return this.stage.capture(this.r)
    }
    // A container is a directory: its pages' links are relative to it.
    if (!rawPathEndsWithSlash(this.r)) return this.redirectWithSlash()
    if (!this.site.index) return this.listing('')
    const index = await this.get(this.site.index)
    if (index.status === 404) {
      discard(index.body)
      return this.listing('')
    }
    if (!ok(index.status)) return this.error(index)
    return index
  }

  private async object(): Promise<Answer> {
    const object = this.r.object!
    const found = await this.stage.capture(this.r)
    let status = found.status
    if (ok(status)) {
      const dirType = this.site.dirType || 'application/directory'
      const length = Number(headerText(found.headers, 'content-length') ?? 0)
      if (headerText(found.headers, 'content-type') !== dirType || length > 1) return found
      status = 404
    }
    if (status !== 404) {
      this.site.error = ''
      return found
    }
    if (!this.site.listings && !this.site.index) return found
    discard(found.body)
    if (this.site.index) {
      const index = await this.get(`${object.endsWith('/') ? object : `${object}/`}${this.site.index}`)
      if (ok(index.status)) {
        if (!rawPathEndsWithSlash(this.r)) {
          discard(index.body)
          return this.redirectWithSlash()
        }
        return index
      }
      discard(index.body)
      if (index.status !== 404) return this.error(index)
    }
    if (!rawPathEndsWithSlash(this.r)) {
      const probe = await this.stage.subrequest(this.r, {
        method: 'GET',
        container: this.r.container,
        query: {limit: '1', delimiter: '/', prefix: `${object}/`, format: 'json'},
        source: 'SW',
      })
      const body = probe.status === 200 ? JSON.parse((await readBody(probe.body))?.toString('utf8') ?? '[]') : (discard(probe.body), [])
      if (!Array.isArray(body) || body.length === 0) return this.error(await stockAnswer(404))
      return this.redirectWithSlash()
    }
    return this.listing(object)
  }

  private async listing(prefix: string): Promise<Answer> {
    const path = rawPath(this.r) ?? this.path
    const label = this.site.label ? `${this.site.label}/${path.split('/').slice(4).join('/')}` : path
    const css = this.site.listingsCss
      ? `  <link rel="stylesheet" type="text/css" href="${/^(\/|https?:\/\/)/.test(this.site.listingsCss) ? quote(this.site.listingsCss) : '../'.repeat((prefix.match(/\//g) ?? []).length) + quote(this.site.listingsCss)}" />\n`
      : ''
    const head = `<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN" "http://www.w3.org/TR/html4/loose.dtd">\n<html>\n`
    if (!isTrue(this.site.listings)) {
      const style = css || '  <style type="text/css">\n   h1 {font-size: 1em; font-weight: bold;}\n   p {font-size: 2}\n  </style>\n'
      let body = `${head}<head>\n<title>Listing of ${escapeHtml(label)}</title>\n${style}</head>\n<body>  <h1>Web Listing Disabled</h1>   <p>The owner of this web site has disabled web listing.   <p>If you are the owner of this web site, you can enable   web listing by setting X-Container-Meta-Web-Listings.</p>`
      if (this.site.index)
        body += `<h1>Index File Not Found</h1> <p>The owner of this web site has set  <b>X-Container-Meta-Web-Index: ${escapeHtml(this.site.index)}</b>.  However, this file is not found.</p>`
      return this.error(bodyAnswer(404, `${body} </body>\n</html>\n`, {'content-type': 'text/html; charset=UTF-8'}))
    }
    const query: Record<string, string> = {delimiter: '/', format: 'json'}
    if (prefix) query.prefix = prefix
    const answer = await this.stage.subrequest(this.r, {method: 'GET', container: this.r.container, query, source: 'SW'})
    if (!ok(answer.status)) return this.error(answer)
    const text = answer.status === 204 ? (discard(answer.body), '') : ((await readBody(answer.body))?.toString('utf8') ?? '')
    const items = (text ? JSON.parse(text) : []) as {
      name?: string
      subdir?: string
      bytes?: number
      content_type?: string
      last_modified?: string
    }[]
    if (prefix && items.length === 0) return this.error(await stockAnswer(404))
    const style =
      css ||
      '  <style type="text/css">\n   h1 {font-size: 1em; font-weight: bold;}\n   th {text-align: left; padding: 0px 1em 0px 1em;}\n   td {padding: 0px 1em 0px 1em;}\n   a {text-decoration: none;}\n  </style>\n'
    let body = `${head} <head>\n  <title>Listing of ${escapeHtml(label)}</title>\n${style} </head>\n <body>\n  <h1 id="title">Listing of ${escapeHtml(label)}</h1>\n  <table id="listing">\n   <tr id="heading">\n    <th class="colname">Name</th>\n    <th class="colsize">Size</th>\n    <th class="coldate">Date</th>\n   </tr>\n`
    if (prefix)
      body +=
        '   <tr id="parent" class="item">\n    <td class="colname"><a href="../">../</a></td>\n    <td class="colsize">&nbsp;</td>\n    <td class="coldate">&nbsp;</td>\n   </tr>\n'
    for (const item of items) {
      if (item.subdir === undefined) continue
      const subdir = item.subdir.slice(prefix.length)
      body += `   <tr class="item subdir">\n    <td class="colname"><a href="${quote(subdir)}">${escapeHtml(subdir)}</a></td>\n    <td class="colsize">&nbsp;</td>\n    <td class="coldate">&nbsp;</td>\n   </tr>\n`
    }
    for (const item of items) {
      if (item.name === undefined) continue
      const name = item.name.slice(prefix.length)
      const types = (item.content_type ?? '')
        .split('/')
        .map((t) => `type-${escapeHtml(t.toLowerCase())}`)
        .join(' ')
      const date = escapeHtml(item.last_modified ?? '')
        .split('.')[0]
        .replace('T', ' ')
      body += `   <tr class="item ${types}">\n    <td class="colname"><a href="${quote(name)}">${escapeHtml(name)}</a></td>\n    <td class="colsize">${humanReadable(item.bytes ?? 0)}</td>\n    <td class="coldate">${date}</td>\n   </tr>\n`
    }
    body += '  </table>\n </body>\n</html>\n'
    return bodyAnswer(200, body, {'content-type': 'text/html; charset=UTF-8'})
  }
}

/** The path the client asked for, decoded (the parsed names drop a container's trailing slash). */
function rawPath(r: SwiftRequest): string | undefined {
  const url = (r.req as {url?: string}).url
  if (url === undefined) return undefined
  try {
    return decodeURIComponent(url.split('?')[0])
  } catch {
    return undefined
  }
}

function rawPathEndsWithSlash(r: SwiftRequest): boolean {
  return (rawPath(r) ?? '').endsWith('/')
}
