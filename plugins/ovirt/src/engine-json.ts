/**
 * Reads the engine's JSON documents with the scanner: VM lists (with followed NICs and
 * statistics), NIC lists, statistic lists and fault bodies. Only ids, names and the two
 * cumulative totals are kept; key order does not matter and everything else is skipped.
 */
import {bytes, JsonScanner, NeedMoreData} from './json-scan.js'

const K = {
  vm: bytes('vm'),
  nic: bytes('nic'),
  id: bytes('id'),
  name: bytes('name'),
  nics: bytes('nics'),
  statistics: bytes('statistics'),
  statistic: bytes('statistic'),
  values: bytes('values'),
  value: bytes('value'),
  datum: bytes('datum'),
}
/** The cumulative byte counters, in the order of their directions. */
const TOTALS = [bytes('data.total.rx'), bytes('data.total.tx')]

export interface NicTotals {
  id: string
  name: string
  /** The datum exactly as the engine wrote it (a number or a string); null without a value. */
  rx: string | null
  tx: string | null
}

export interface VmEntry {
  id: string
  name: string
  /** The followed NICs; null when the list was not followed. */
  nics: NicTotals[] | null
}

/** `{"vm": [ ... ]}`, or `{}` for an empty list, from one buffer. */
export function readVmList(body: Buffer): VmEntry[] {
  const reader = new VmListReader(Buffer.allocUnsafe(0))
  reader.push(body)
  return reader.end()
}

/** Bytes gathered before a parse attempt: VMs are ~16 KB, so a VM cut at the edge costs little. */
const BATCH_BYTES = 512 * 1024

/**
 * Reads a VM list while it arrives: each chunk is copied into one work buffer (so the socket's
 * chunks die young), VMs are parsed as soon as their bytes are in, and only the unfinished one
 * is kept. Memory stays flat however large the page, and the buffer can serve page after page.
 */
export class VmListReader {
  private readonly vms: VmEntry[] = []
  private buf: Buffer
  /** Bytes in buf; they start at a resume point of the current phase. */
  private length = 0
  /** 'start': before `[`; 'items': before a VM or `]`; 'tail': after `]`; 'done': after the root's `}`. */
  private phase: 'start' | 'items' | 'tail' | 'done' = 'start'

  /**
   * @param buffer a work buffer to reuse (it grows if a chunk does not fit)
   * @param batchBytes bytes to gather before each parse attempt
   */
  constructor(
    buffer?: Buffer,
    private readonly batchBytes = BATCH_BYTES,
  ) {
    this.buf = buffer ?? Buffer.allocUnsafe(batchBytes + 128 * 1024)
  }

  push(chunk: Buffer): void {
    if (this.length + chunk.length > this.buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.length + chunk.length))
      this.buf.copy(bigger, 0, 0, this.length)
      this.buf = bigger
    }
    this.length += chunk.copy(this.buf, this.length)
    if (this.length >= this.batchBytes) this.parse(false)
  }

  /** The whole list; throws JsonSyntaxError if the document is cut off or malformed. */
  end(): VmEntry[] {
    this.parse(true)
    return this.vms
  }

  private parse(complete: boolean): void {
    const s = new JsonScanner(this.buf.subarray(0, this.length), 0, complete)
    let resume = 0
    try {
      if (this.phase === 'start') {
        // { ... "vm" : [   (other members before it are skipped)
        let found = false
        if (s.openObject()) {
          for (;;) {
            s.key()
            if ((found = s.keyIs(K.vm))) break
            s.skip()
            if (!s.nextMember()) break
          }
        }
        this.phase = !found ? 'done' : s.openArray() ? 'items' : 'tail'
        resume = s.pos
      }
      while (this.phase === 'items') {
        const vm = readVm(s)
        const more = s.nextItem()
        this.vms.push(vm)
        if (!more) this.phase = 'tail'
        resume = s.pos
      }
      // After the list: the rest of the root object, read once everything is here.
      if (complete) {
        if (this.phase === 'tail') {
          while (s.nextMember()) {
            s.key()
            s.skip()
          }
        }
        s.end()
      }
    } catch (error) {
      if (!(error instanceof NeedMoreData)) throw error
    } finally {
      this.buf.copyWithin(0, resume, this.length)
      this.length -= resume
    }
  }
}

/** `{"nic": [ ... ]}` from /vms/{id}/nics (statistics if followed). */
export function readNicList(body: Buffer): NicTotals[] {
  const s = new JsonScanner(body)
  const nics = readNicsObject(s)
  s.end()
  return nics
}

/** `{"statistic": [ ... ]}` from /vms/{id}/nics/{id}/statistics. */
export function readStatisticList(body: Buffer): {rx: string | null; tx: string | null} {
  const s = new JsonScanner(body)
  const totals = {rx: null as string | null, tx: null as string | null}
  readStatisticsObject(s, totals)
  s.end()
  return totals
}

function readVm(s: JsonScanner): VmEntry {
  const vm: VmEntry = {id: '', name: '', nics: null}
  if (s.openObject()) {
    do {
      s.key()
      if (s.keyIs(K.id)) vm.id = s.string()
      else if (s.keyIs(K.name)) vm.name = s.string()
      else if (s.keyIs(K.nics)) vm.nics = readNicsObject(s)
      else s.skip()
    } while (s.nextMember())
  }
  return vm
}

function readNicsObject(s: JsonScanner): NicTotals[] {
  const nics: NicTotals[] = []
  if (s.openObject()) {
    do {
      s.key()
      if (s.keyIs(K.nic) && s.openArray()) {
        do nics.push(readNic(s))
        while (s.nextItem())
      } else if (!s.keyIs(K.nic)) s.skip()
    } while (s.nextMember())
  }
  return nics
}

function readNic(s: JsonScanner): NicTotals {
  const nic: NicTotals = {id: '', name: '', rx: null, tx: null}
  if (s.openObject()) {
    do {
      s.key()
      if (s.keyIs(K.id)) nic.id = s.string()
      else if (s.keyIs(K.name)) nic.name = s.string()
      else if (s.keyIs(K.statistics)) readStatisticsObject(s, nic)
      else s.skip()
    } while (s.nextMember())
  }
  return nic
}

function readStatisticsObject(s: JsonScanner, totals: {rx: string | null; tx: string | null}): void {
  if (!s.openObject()) return
  do {
    s.key()
    if (!s.keyIs(K.statistic)) {
      s.skip()
      continue
    }
    if (!s.openArray()) continue
    do {
      const stat = readStatistic(s)
      if (stat.which) totals[stat.which] = stat.datum
    } while (s.nextItem())
  } while (s.nextMember())
}

function readStatistic(s: JsonScanner): {which: 'rx' | 'tx' | null; datum: string | null} {
  let which: 'rx' | 'tx' | null = null
  let datum: string | null = null
  if (s.openObject()) {
    do {
      s.key()
      if (s.keyIs(K.name)) {
        const index = s.stringMatch(TOTALS)
        which = index === 0 ? 'rx' : index === 1 ? 'tx' : null
        if (which === null) {
          // Six of a NIC's eight statistics are rates and drops: done with this one.
          s.skipRestOfObject()
          return {which, datum: null}
        }
      } else if (s.keyIs(K.values)) {
        datum = readFirstDatum(s)
        // A total with its value: the links after it (nic, href, id) are not needed.
        if (which !== null) {
          s.skipRestOfObject()
          return {which, datum}
        }
      } else s.skip()
    } while (s.nextMember())
  }
  return {which, datum}
}

/** `{"value": [{"datum": X}]}` → X's text; `{}` (no value reported) → null. */
function readFirstDatum(s: JsonScanner): string | null {
  let datum: string | null = null
  if (!s.openObject()) return null
  do {
    s.key()
    if (!s.keyIs(K.value)) {
      s.skip()
      continue
    }
    if (!s.openArray()) continue
    do {
      if (!s.openObject()) continue
      do {
        s.key()
        if (s.keyIs(K.datum) && datum === null) datum = s.scalarText()
        else s.skip()
      } while (s.nextMember())
    } while (s.nextItem())
  } while (s.nextMember())
  return datum
}

/**
 * A datum as an exact non-negative integer: "48213957421", 48213957421, 4.8213957421E+10 all
 * give 48213957421n. Anything else (a fraction, a negative, garbage) is undefined.
 */
export function exactInteger(text: string): bigint | undefined {
  if (/^\d+$/.test(text)) return BigInt(text)
  const m = /^(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(text)
  if (!m) return undefined
  const fraction = m[2] ?? ''
  const shift = Number(m[3] ?? 0) - fraction.length
  const digits = BigInt(m[1] + fraction)
  if (shift >= 0) return digits * 10n ** BigInt(shift)
  const divisor = 10n ** BigInt(-shift)
  return digits % divisor === 0n ? digits / divisor : undefined
}
