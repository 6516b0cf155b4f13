/**
 * Reads the engine's JSON documents with the scanner: VM lists (with followed NICs and
 * statistics), NIC lists, statistic lists and fault bodies. Only ids, names and the two
 * cumulative totals are kept; key order does not matter and everything else is skipped.
 */
import {bytes, JsonScanner} from './json-scan.js'

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

/** `{"vm": [ ... ]}`, or `{}` for an empty list. */
export function readVmList(body: Buffer): VmEntry[] {
  const s = new JsonScanner(body)
  const vms: VmEntry[] = []
  if (s.openObject()) {
    do {
      s.key()
      if (s.keyIs(K.vm) && s.openArray()) {
        do vms.push(readVm(s))
        while (s.nextItem())
      } else if (!s.keyIs(K.vm)) s.skip()
    } while (s.nextMember())
  }
  s.end()
  return vms
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
      }
      else if (s.keyIs(K.values)) datum = readFirstDatum(s)
      else s.skip()
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
