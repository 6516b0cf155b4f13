/**
 * The compiled-model cache: what a model compiled to, kept in the agent's data dir, so a
 * restart with an unchanged model skips validating and compiling it (at 100k flows, most of
 * the CPU a restart spends). It holds each bridge's desired flows as dump lines, in the order
 * the switch last dumped them when it was right (see DesiredFlows.knownDump).
 *
 * It is never trusted blindly. Its key is a hash of everything the result depends on: the
 * model's bytes, the cookie tag, this agent's code, and the ovs-ofctl that canonicalised raw
 * flows; its content carries a checksum. Any mismatch, or a file that cannot be read or
 * parsed, is a miss, and the agent compiles the model as if there were no cache.
 */
import {createHash} from 'node:crypto'
import {readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {delimiter, dirname, extname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import type {CompiledBridge} from './desired.js'
import {DesiredFlows, flowLines} from './desired-flows.js'
import {RecordIndex} from './flow-records.js'
import type {Infrastructure} from './topology.js'

const FORMAT = 'tend flow-agent compiled model 2'

interface Header {
  format: string
  key: string
  /** Caller data kept with the entry (the agent: which last-good file it wrote). */
  note: string
  infrastructure: Infrastructure
  bridges: Array<{
    name: string
    interfaces: string[]
    signature: string
    unresolved: string[]
    flows: number
    /** Lengths of the body's parts for this bridge: the known dump's slices, or one part of lines. */
    parts: number[]
    dumpOrder: boolean
    /** DesiredFlows.knownDigest. */
    digest?: string
    /** DesiredFlows.knownRecords, base64 (with a dump order only). */
    records?: string
  }>
}

export interface CacheEntry {
  bridges: CompiledBridge[]
  infrastructure: Infrastructure
  note: string
}

export class CompiledModelCache {
  constructor(readonly path: string) {}

  /**
   * The key of a model's compiled form: its bytes, what else the agent compiles it with (the
   * cookie tag, the host), the code and the ovs-ofctl in use.
   */
  static key(modelText: Buffer, compiledWith: string): string {
    return createHash('sha256')
      .update(`${FORMAT}\0${codeVersion()}\0${ovsOfctlIdentity()}\0${compiledWith}\0`)
      .update(modelText)
      .digest('hex')
  }

  /** The entry for `key`, or undefined if there is none, it is for another key, or it is damaged. */
  async read(key: string): Promise<CacheEntry | undefined> {
    return this.open(key)?.entry()
  }

  /**
   * The entry for `key` in two steps: its header names the bridges at once (a few ms), so the
   * agent starts reading them from the switch while entry() checks the whole file and parses
   * its flows (0.15-0.35 s of CPU at 100k flows), in steps that let the reads go on. Undefined
   * if there is no entry for this key; entry() resolves undefined if the file turns out damaged.
   */
  open(key: string): {bridges: Array<{name: string; digestKnown: boolean}>; entry: () => Promise<CacheEntry | undefined>} | undefined {
    let bytes: Buffer
    try {
      bytes = readFileSync(this.path)
    } catch {
      return undefined
    }
    const checksumEnd = bytes.indexOf(10)
    const headerEnd = bytes.indexOf(10, checksumEnd + 1)
    if (checksumEnd !== 64 || headerEnd < 0) return undefined
    let header: Header
    let bridges: Array<{name: string; digestKnown: boolean}>
    try {
      header = JSON.parse(bytes.toString('utf8', checksumEnd + 1, headerEnd)) as Header
      if (header.format !== FORMAT || header.key !== key) return undefined
      bridges = header.bridges.map((b) => ({name: String(b.name), digestKnown: typeof b.digest === 'string'}))
    } catch {
      // A header of another shape, or a damaged one.
      return undefined
    }
    const entry = async () => {
      const hash = createHash('sha256')
      for (let at = checksumEnd + 1; at < bytes.length; at += STEP_BYTES) {
        hash.update(bytes.subarray(at, at + STEP_BYTES))
        await turn()
      }
      if (hash.digest('hex') !== bytes.toString('latin1', 0, checksumEnd)) return undefined
      const text = bytes.toString('utf8', headerEnd + 1)
      await turn()
      try {
        return await entryOf(header, text, 0)
      } catch {
        // A header of another shape (the checksum only says the file is as written).
        return undefined
      }
    }
    return {bridges, entry}
  }

  /** Replaces the cache with one entry; a crash midway leaves a file the checksum rejects, or none. */
  write(key: string, entry: CacheEntry): void {
    const parts: string[] = []
    const header: Header = {
      format: FORMAT,
      key,
      note: entry.note,
      infrastructure: entry.infrastructure,
      bridges: entry.bridges.map((b) => {
        const own = b.flows.knownDump ?? [b.flows.lines.length ? `${b.flows.lines.join('\n')}\n` : '']
        parts.push(...own)
        return {
          name: b.name,
          interfaces: b.interfaces,
          signature: b.signature,
          unresolved: b.unresolved,
          flows: b.flows.size,
          parts: own.map((part) => part.length),
          dumpOrder: b.flows.knownDump !== undefined,
          digest: b.flows.knownDigest,
          records: b.flows.knownDump && b.flows.knownRecords?.toBase64(),
        }
      }),
    }
    const content = `${JSON.stringify(header)}\n${parts.join('')}`
    const tmp = `${this.path}.tmp`
    writeFileSync(tmp, `${checksum(content)}\n${content}`)
    renameSync(tmp, this.path)
  }

  clear(): void {
    rmSync(this.path, {force: true})
  }
}

/** The entry a header describes, its parts read from `text` at `at`; undefined if they do not add up. */
async function entryOf(header: Header, text: string, at: number): Promise<CacheEntry | undefined> {
  const bridges: CompiledBridge[] = []
  for (const b of header.bridges) {
    const parts = b.parts.map((length) => {
      const part = text.slice(at, at + length)
      at += length
      return part
    })
    const flows = b.dumpOrder ? DesiredFlows.fromDump(parts) : new DesiredFlows(parts.flatMap(flowLines))
    if (flows.size !== b.flows) return undefined
    flows.knownDigest = typeof b.digest === 'string' ? b.digest : undefined
    flows.knownRecords = b.dumpOrder && typeof b.records === 'string' ? RecordIndex.fromBase64(b.records, flows.size) : undefined
    bridges.push({name: b.name, interfaces: b.interfaces, signature: b.signature, unresolved: b.unresolved, flows})
    await turn()
  }
  return at === text.length ? {bridges, infrastructure: header.infrastructure, note: header.note} : undefined
}

/** How much of the file is hashed between turns of the event loop (a few ms). */
const STEP_BYTES = 1 << 21

/** Lets the event loop run (the switch reads started meanwhile) between steps of a long parse. */
function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}

function checksum(text: string): string {
  return createHash('sha256').update(text).digest('hex')
}

let code: string | undefined

/** A hash of this agent's code: the modules of this folder (any change may change what a model compiles to). */
function codeVersion(): string {
  if (code === undefined) {
    const here = fileURLToPath(import.meta.url)
    const hash = createHash('sha256')
    for (const file of readdirSync(dirname(here)).sort()) {
      if (extname(file) === extname(here)) hash.update(file).update(readFileSync(join(dirname(here), file)))
    }
    code = hash.digest('hex')
  }
  return code
}

/** Which ovs-ofctl is on the PATH (it puts raw flows in canonical form): path, size and mtime. */
function ovsOfctlIdentity(): string {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue
    try {
      const s = statSync(join(dir, 'ovs-ofctl'))
      if (s.isFile()) return `${join(dir, 'ovs-ofctl')} ${s.size} ${s.mtimeMs}`
    } catch {
      // not in this folder
    }
  }
  return 'none'
}
