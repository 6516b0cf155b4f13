/**
 * The in-memory index of one device: object key (16-byte MD5) -> where its newest version
 * lives. An open-addressing hash table in typed arrays, 40 bytes a slot, so a million
 * objects cost ~40-80 MB instead of the ~250 B a JS Map entry would (and the GC never
 * walks it). Keys are MD5s, so their bits are already uniform: no hashing needed.
 */

export interface IndexEntry {
  volume: number
  offset: number
  length: number
  flags: number
  partition: number
  timestamp: number
}

const USED = 0x80000000
const FLAGS_MASK = 0xff
const PARTITION_SHIFT = 8
const MIN_CAPACITY = 1024

export class IndexTable {
  private capacity: number
  private keys: Int32Array
  /** Per slot: volume, offset, length, USED | partition << 8 | flags. */
  private locs: Uint32Array
  private stamps: Float64Array
  private count = 0

  constructor(capacity = MIN_CAPACITY) {
    this.capacity = Math.max(MIN_CAPACITY, Math.ceil(capacity))
    this.keys = new Int32Array(this.capacity * 4)
    this.locs = new Uint32Array(this.capacity * 4)
    this.stamps = new Float64Array(this.capacity)
  }

  get size(): number {
    return this.count
  }

  /** Bytes held by the table's arrays. */
  get memoryBytes(): number {
    return this.keys.byteLength + this.locs.byteLength + this.stamps.byteLength
  }

  get(key: Uint8Array): IndexEntry | undefined {
    const slot = this.find(key)
    return slot < 0 ? undefined : this.entryAt(slot)
  }

  /** Sets the entry of a key; returns the one it replaced. */
  set(key: Uint8Array, entry: IndexEntry): IndexEntry | undefined {
    if ((this.count + 1) * 4 > this.capacity * 3) this.grow()
    const slot = this.probe(key)
    if (this.locs[slot * 4 + 3] & USED) {
      const previous = this.entryAt(slot)
      this.write(slot, entry)
      return previous
    }
    for (let i = 0; i < 4; i++) this.keys[slot * 4 + i] = readInt(key, i * 4)
    this.write(slot, entry)
    this.count++
    return undefined
  }

  /** Removes a key (backward-shift deletion keeps probe chains whole); returns what it held. */
  delete(key: Uint8Array): IndexEntry | undefined {
    let slot = this.find(key)
    if (slot < 0) return undefined
    const removed = this.entryAt(slot)
    this.count--
    for (;;) {
      this.locs[slot * 4 + 3] = 0
      let next = this.next(slot)
      for (;;) {
        if (!(this.locs[next * 4 + 3] & USED)) return removed
        const home = this.homeOf(this.keys[next * 4 + 3])
        // Move `next` back into the hole unless its home lies cyclically in (slot, next].
        const inRange = slot <= next ? slot < home && home <= next : slot < home || home <= next
        if (!inRange) break
        next = this.next(next)
      }
      this.keys.copyWithin(slot * 4, next * 4, next * 4 + 4)
      this.locs.copyWithin(slot * 4, next * 4, next * 4 + 4)
      this.stamps[slot] = this.stamps[next]
      slot = next
    }
  }

  /** Calls fn for every entry; the key buffer is reused between calls. */
  forEach(fn: (key: Buffer, entry: IndexEntry) => void): void {
    const key = Buffer.alloc(16)
    for (let slot = 0; slot < this.capacity; slot++) {
      if (!(this.locs[slot * 4 + 3] & USED)) continue
      this.keyAt(slot, key)
      fn(key, this.entryAt(slot))
    }
  }

  /**
   * Calls fn for the entries in slots [from, from + count) and returns where to go on from
   * (0 once past the end). For background walks (the auditor) that must not hold a list of
   * every key; a rehash in between may make a walk see an entry twice or miss one.
   */
  scanSlots(from: number, count: number, fn: (key: Buffer, entry: IndexEntry) => void): number {
    const key = Buffer.alloc(16)
    const end = Math.min(this.capacity, from + count)
    for (let slot = from; slot < end; slot++) {
      if (!(this.locs[slot * 4 + 3] & USED)) continue
      this.keyAt(slot, key)
      fn(key, this.entryAt(slot))
    }
    return end >= this.capacity ? 0 : end
  }

  /**
   * Calls fn for the entries of the partitions marked in `wanted` (indexed by partition):
   * one pass over the table that skips other partitions without touching their entries.
   */
  forEachInPartitions(wanted: Uint8Array, fn: (key: Buffer, entry: IndexEntry) => void): void {
    const key = Buffer.alloc(16)
    for (let slot = 0; slot < this.capacity; slot++) {
      const word = this.locs[slot * 4 + 3]
      if (!(word & USED) || !wanted[(word & ~USED) >>> PARTITION_SHIFT]) continue
      this.keyAt(slot, key)
      fn(key, this.entryAt(slot))
    }
  }

  private find(key: Uint8Array): number {
    const slot = this.probe(key)
    return this.locs[slot * 4 + 3] & USED ? slot : -1
  }

  /** The slot holding the key, or the empty slot where it would go. */
  private probe(key: Uint8Array): number {
    let slot = this.home(key)
    const k0 = readInt(key, 0)
    const k1 = readInt(key, 4)
    const k2 = readInt(key, 8)
    const k3 = readInt(key, 12)
    for (;;) {
      const base = slot * 4
      if (!(this.locs[base + 3] & USED)) return slot
      if (this.keys[base] === k0 && this.keys[base + 1] === k1 && this.keys[base + 2] === k2 && this.keys[base + 3] === k3) return slot
      slot = this.next(slot)
    }
  }

  private home(key: Uint8Array): number {
    return this.homeOf(readInt(key, 12))
  }

  /** Maps a key word onto [0, capacity) by multiply-shift, so the capacity need not be a power of 2. */
  private homeOf(word: number): number {
    return Math.floor(((word >>> 0) * this.capacity) / 4_294_967_296)
  }

  private next(slot: number): number {
    return slot + 1 === this.capacity ? 0 : slot + 1
  }

  private write(slot: number, entry: IndexEntry): void {
    const base = slot * 4
    this.locs[base] = entry.volume
    this.locs[base + 1] = entry.offset
    this.locs[base + 2] = entry.length
    this.locs[base + 3] = (USED | (entry.partition << PARTITION_SHIFT) | (entry.flags & FLAGS_MASK)) >>> 0
    this.stamps[slot] = entry.timestamp
  }

  private entryAt(slot: number): IndexEntry {
    const base = slot * 4
    const word = this.locs[base + 3]
    return {
      volume: this.locs[base],
      offset: this.locs[base + 1],
      length: this.locs[base + 2],
      flags: word & FLAGS_MASK,
      partition: (word & ~USED) >>> PARTITION_SHIFT,
      timestamp: this.stamps[slot],
    }
  }

  private keyAt(slot: number, out: Buffer): void {
    for (let i = 0; i < 4; i++) out.writeInt32LE(this.keys[slot * 4 + i], i * 4)
  }

  private grow(): void {
    const old = {capacity: this.capacity, keys: this.keys, locs: this.locs, stamps: this.stamps}
    // ×1.5, not ×2: at most a third of the slots sit empty right after growing.
    this.capacity = Math.ceil(this.capacity * 1.5)
    this.keys = new Int32Array(this.capacity * 4)
    this.locs = new Uint32Array(this.capacity * 4)
    this.stamps = new Float64Array(this.capacity)
    for (let from = 0; from < old.capacity; from++) {
      if (!(old.locs[from * 4 + 3] & USED)) continue
      let slot = this.homeOf(old.keys[from * 4 + 3])
      while (this.locs[slot * 4 + 3] & USED) slot = this.next(slot)
      this.keys.set(old.keys.subarray(from * 4, from * 4 + 4), slot * 4)
      this.locs.set(old.locs.subarray(from * 4, from * 4 + 4), slot * 4)
      this.stamps[slot] = old.stamps[from]
    }
  }
}

function readInt(bytes: Uint8Array, at: number): number {
  return bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16) | (bytes[at + 3] << 24)
}
