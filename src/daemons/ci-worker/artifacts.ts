import {createHash} from 'node:crypto'
import {createReadStream, lstatSync, readdirSync, realpathSync, type Stats, statSync} from 'node:fs'
import {request as httpRequest} from 'node:http'
import {request as httpsRequest} from 'node:https'
import {join, relative, sep} from 'node:path'
import {errorMessage} from '../../lib/errors.js'
import {artifactPath, HEADER_PROTOCOL, HEADER_SECRET, HEADER_WORKER, PROTOCOL_VERSION} from '../../protocols/ci/worker-protocol.js'

/** A file a step declared, found in its build dir. */
export interface FoundArtifact {
  /** Its name: the path relative to the build dir. */
  path: string
  file: string
  size: number
}

// A runaway pattern (** over a huge tree) must not stall the worker.
const MAX_ENTRIES_WALKED = 100_000
export const MAX_ARTIFACTS_PER_BUILD = 1000

/**
 * The files matching a step's artifact patterns (relative to its workdir; `*` and `?` within a
 * name, `**` for any depth; a directory stands for the files under it). Only regular files
 * inside the build dir count: a symlink leading out of it is a problem, as is a pattern the
 * config validated but the disk makes odd. Patterns matching nothing are reported, not fatal.
 */
export function findArtifacts(
  buildDir: string,
  workdir: string,
  patterns: string[],
): {found: FoundArtifact[]; unmatched: string[]; problems: string[]} {
  const root = realpathSync(buildDir)
  const found = new Map<string, FoundArtifact>()
  const unmatched: string[] = []
  const problems: string[] = []
  let walked = 0
  const addFile = (file: string) => {
    let real: string
    try {
      real = realpathSync(file)
    } catch (error) {
      problems.push(`${relative(buildDir, file)}: ${errorMessage(error)}`)
      return
    }
    if (real !== root && !real.startsWith(root + sep)) {
      problems.push(`${relative(buildDir, file)} leads outside the build dir`)
      return
    }
    const stats = statSync(real)
    if (!stats.isFile()) return
    const path = relative(buildDir, file).split(sep).join('/')
    found.set(path, {path, file: real, size: stats.size})
  }
  const addTree = (path: string, stats: Stats) => {
    if (stats.isDirectory()) {
      for (const entry of readdirSync(path)) {
        if (++walked > MAX_ENTRIES_WALKED) throw new Error(`more than ${MAX_ENTRIES_WALKED} files under the artifact paths`)
        const child = join(path, entry)
        addTree(child, lstatSync(child))
      }
    } else if (stats.isFile() || stats.isSymbolicLink()) addFile(path)
  }
  for (const pattern of patterns) {
    const before = found.size + problems.length
    for (const path of expand(workdir, pattern.split('/'), () => {
      if (++walked > MAX_ENTRIES_WALKED) throw new Error(`more than ${MAX_ENTRIES_WALKED} files under the artifact paths`)
    })) {
      addTree(path, lstatSync(path))
    }
    if (found.size + problems.length === before) unmatched.push(pattern)
  }
  return {found: [...found.values()].sort((a, b) => a.path.localeCompare(b.path)), unmatched, problems}
}

/** Paths under `dir` matching the pattern's parts (a `**` part matches any number of dirs). */
function* expand(dir: string, parts: string[], count: () => void): Generator<string> {
  if (parts.length === 0) {
    yield dir
    return
  }
  const [part, ...rest] = parts
  if (part === '**') {
    yield* expand(dir, rest, count)
    for (const entry of entries(dir)) {
      count()
      if (entry.isDirectory()) yield* expand(join(dir, entry.name), parts, count)
    }
    return
  }
  if (!/[*?]/.test(part)) {
    const path = join(dir, part)
    if (exists(path)) yield* expand(path, rest, count)
    return
  }
  const matcher = new RegExp(
    `^${part
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '[^/]*')
      .replace(/\?/g, '[^/]')}$`,
  )
  for (const entry of entries(dir)) {
    count()
    if (matcher.test(entry.name)) yield* expand(join(dir, entry.name), rest, count)
  }
}

function entries(dir: string) {
  try {
    return readdirSync(dir, {withFileTypes: true}).sort((a, b) => a.name.localeCompare(b.name))
  } catch {
    return []
  }
}

function exists(path: string): boolean {
  try {
    lstatSync(path)
    return true
  } catch {
    return false
  }
}

export interface UploadTarget {
  /** ws(s)://host:port of the master the worker is connected to. */
  master: string
  worker: string
  secret: string
}

/**
 * Uploads one artifact to the master (PUT, streamed from the file) and checks that what the
 * master stored is what was read: its size and SHA-256 against those computed while sending.
 */
export async function uploadArtifact(
  target: UploadTarget,
  build: number,
  step: number,
  artifact: FoundArtifact,
): Promise<{sha256: string}> {
  const url = new URL(target.master)
  url.protocol = url.protocol === 'wss:' ? 'https:' : 'http:'
  url.pathname = artifactPath(build, artifact.path)
  url.search = `step=${step}`
  const hash = createHash('sha256')
  let sent = 0
  const answer = await new Promise<{status: number; body: string}>((resolve, reject) => {
    const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(
      url,
      {
        method: 'PUT',
        headers: {
          'content-type': 'application/octet-stream',
          'content-length': artifact.size,
          [HEADER_WORKER]: target.worker,
          [HEADER_SECRET]: target.secret,
          [HEADER_PROTOCOL]: String(PROTOCOL_VERSION),
        },
      },
      (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => (body = (body + chunk).slice(0, 4096)))
        res.on('end', () => resolve({status: res.statusCode ?? 0, body}))
        res.on('error', reject)
      },
    )
    req.on('error', reject)
    const file = createReadStream(artifact.file)
    file.on('data', (chunk) => {
      hash.update(chunk)
      sent += chunk.length
    })
    file.on('error', (error) => req.destroy(error))
    file.pipe(req)
  })
  let reply: {sha256?: string; size?: number; error?: string}
  try {
    reply = JSON.parse(answer.body)
  } catch {
    reply = {error: answer.body.trim() || `HTTP ${answer.status}`}
  }
  if (answer.status !== 201) throw new Error(`the master refused it: ${reply.error ?? `HTTP ${answer.status}`}`)
  const sha256 = hash.digest('hex')
  if (sent !== artifact.size) throw new Error(`the file changed while it was read (${sent} bytes, ${artifact.size} expected)`)
  if (reply.sha256 !== sha256 || reply.size !== sent) throw new Error('the master stored something other than what was sent')
  return {sha256}
}
