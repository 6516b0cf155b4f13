/**
 * A forward-only JSON scanner over the bytes of a response. It reads only what a caller asks
 * for and skips everything else without building objects, so a 10,000-VM engine answer costs
 * a pass over its bytes instead of a tree of a million objects; and it hands numbers over as
 * their exact text (JSON.parse would round a total past 2^53).
 */

const QUOTE = 0x22
const BACKSLASH = 0x5c
const OPEN_OBJECT = 0x7b
const CLOSE_OBJECT = 0x7d
const OPEN_ARRAY = 0x5b
const CLOSE_ARRAY = 0x5d
const COMMA = 0x2c
const COLON = 0x3a
/** What ws() returns at the end of the buffer. */
const END = -1

export class JsonSyntaxError extends Error {
  constructor(message: string, at: number) {
    super(`invalid JSON at byte ${at}: ${message}`)
    this.name = 'JsonSyntaxError'
  }
}

/** Thrown by a scanner over a partial document when it reaches the end of what it has. */
export class NeedMoreData extends Error {
  constructor() {
    super('more data needed')
    this.name = 'NeedMoreData'
  }
}

/** One instance, thrown at every batch edge: no stack to capture each time. */
const NEED_MORE = new NeedMoreData()

/** A key or value the caller compares against, as bytes. */
export function bytes(text: string): Uint8Array {
  return Buffer.from(text, 'utf8')
}

export class JsonScanner {
  private keyStart = 0
  private keyEnd = 0
  private keyEscaped = false
  private stringEscaped = false

  /**
   * @param pos where to start reading
   * @param complete false when `buf` is only the first part of a document: reaching its end
   *   then throws NeedMoreData instead of a syntax error.
   */
  constructor(
    private readonly buf: Buffer,
    public pos = 0,
    private readonly complete = true,
  ) {}

  /** Enters an object; false if it is empty (already consumed). Then: do { key(); ... } while (next('}')). */
  openObject(): boolean {
    return this.open(OPEN_OBJECT, CLOSE_OBJECT, '{')
  }

  /** Enters an array; false if it is empty (already consumed). Then: do { ... } while (nextItem()). */
  openArray(): boolean {
    return this.open(OPEN_ARRAY, CLOSE_ARRAY, '[')
  }

  /** After a member: true if another follows, false at the closing brace (consumed). */
  nextMember(): boolean {
    return this.next(CLOSE_OBJECT, '}')
  }

  nextItem(): boolean {
    return this.next(CLOSE_ARRAY, ']')
  }

  /** Reads a member's key and its colon; compare it with keyIs(). */
  key(): void {
    if (this.ws() !== QUOTE) this.fail('expected a key')
    this.keyStart = this.pos + 1
    this.keyEnd = this.stringEnd()
    this.keyEscaped = this.stringEscaped
    this.pos = this.keyEnd + 1
    if (this.ws() !== COLON) this.fail('expected :')
    this.pos++
  }

  keyIs(expected: Uint8Array): boolean {
    if (this.keyEscaped)
      return JSON.parse(`"${this.buf.toString('utf8', this.keyStart, this.keyEnd)}"`) === Buffer.from(expected).toString('utf8')
    return equalBytes(this.buf, this.keyStart, this.keyEnd, expected)
  }

  /** True if the next value is null (consumed). */
  isNull(): boolean {
    if (this.ws() !== 0x6e) return false
    if (this.pos + 4 > this.buf.length) this.truncated()
    if (this.buf.toString('latin1', this.pos, this.pos + 4) !== 'null') return false
    this.pos += 4
    return true
  }

  /** Reads a string value. */
  string(): string {
    if (this.ws() !== QUOTE) this.fail('expected a string')
    const start = this.pos + 1
    const end = this.stringEnd()
    this.pos = end + 1
    return this.stringEscaped
      ? (JSON.parse(this.buf.toString('utf8', start - 1, end + 1)) as string)
      : this.buf.toString('utf8', start, end)
  }

  /**
   * Which of the candidates the next value is, as a string, or -1 (consumed either way).
   * Compares bytes: no string is made for the values that match nothing.
   */
  stringMatch(candidates: Uint8Array[]): number {
    if (this.ws() !== QUOTE) {
      this.skip()
      return -1
    }
    const start = this.pos + 1
    const end = this.stringEnd()
    this.pos = end + 1
    if (this.stringEscaped) {
      const text = JSON.parse(this.buf.toString('utf8', start - 1, end + 1)) as string
      return candidates.findIndex((c) => Buffer.from(c).toString('utf8') === text)
    }
    return candidates.findIndex((c) => equalBytes(this.buf, start, end, c))
  }

  /** A scalar's text: a number exactly as written, or a string's contents; null for null. */
  scalarText(): string | null {
    const c = this.ws()
    if (c === QUOTE) return this.string()
    if (c === OPEN_OBJECT || c === OPEN_ARRAY) this.fail('expected a scalar')
    if (this.isNull()) return null
    const start = this.pos
    this.skipScalar()
    return this.buf.toString('latin1', start, this.pos)
  }

  /** Skips one value of any kind. */
  skip(): void {
    const c = this.ws()
    if (c === QUOTE) {
      this.pos = this.stringEnd() + 1
      return
    }
    if (c !== OPEN_OBJECT && c !== OPEN_ARRAY) {
      this.skipScalar()
      return
    }
    this.skipNested(0)
  }

  /**
   * Skips the remaining members of the object being read, its closing brace included: for a
   * caller that has seen enough of it (nextMember() must not follow).
   */
  skipRestOfObject(): void {
    this.skipNested(1)
  }

  /** Scans to where `depth` levels of nesting close (strings are stepped over whole). */
  private skipNested(depth: number): void {
    const buf = this.buf
    const end = buf.length
    let p = this.pos
    while (p < end) {
      const b = buf[p]
      if (b === QUOTE) {
        p++
        while (p < end) {
          const s = buf[p]
          if (s === QUOTE) break
          p += s === BACKSLASH ? 2 : 1
        }
      } else if (b === OPEN_OBJECT || b === OPEN_ARRAY) depth++
      else if (b === CLOSE_OBJECT || b === CLOSE_ARRAY) {
        if (--depth === 0) {
          this.pos = p + 1
          return
        }
      }
      p++
    }
    this.truncated()
  }

  /** Checks that nothing but whitespace is left. */
  end(): void {
    if (this.ws() !== END) this.fail('unexpected data after the document')
  }

  private open(open: number, close: number, what: string): boolean {
    if (this.ws() !== open) this.fail(`expected ${what}`)
    this.pos++
    const next = this.ws()
    // Empty or not is only known once the next character is here.
    if (next === END) this.truncated()
    if (next === close) {
      this.pos++
      return false
    }
    return true
  }

  private next(close: number, what: string): boolean {
    const c = this.ws()
    this.pos++
    if (c === COMMA) return true
    if (c === close) return false
    this.pos--
    return this.fail(`expected , or ${what}`)
  }

  /** Skips whitespace; the next byte, or END. Loops check bounds: reading past a typed array's end deoptimizes them. */
  private ws(): number {
    const buf = this.buf
    const end = buf.length
    let p = this.pos
    while (p < end) {
      const c = buf[p]
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) {
        this.pos = p
        return c
      }
      p++
    }
    this.pos = p
    return END
  }

  /** From an opening quote at pos: the index of the closing quote (notes escapes). */
  private stringEnd(): number {
    const buf = this.buf
    const end = buf.length
    let p = this.pos + 1
    let escaped = false
    for (;;) {
      if (p >= end) this.truncated()
      const c = buf[p]
      if (c === QUOTE) break
      if (c === BACKSLASH) {
        escaped = true
        p += 2
      } else p++
    }
    this.stringEscaped = escaped
    return p
  }

  private skipScalar(): void {
    const buf = this.buf
    const end = buf.length
    const start = this.pos
    let p = start
    while (p < end) {
      const c = buf[p]
      if (c === COMMA || c === CLOSE_OBJECT || c === CLOSE_ARRAY || c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) break
      p++
    }
    // A number cut by the end of a partial buffer may go on in the next part.
    if (p === end && !this.complete) this.truncated()
    if (p === start) this.fail('expected a value')
    this.pos = p
  }

  private fail(message: string): never {
    if (this.pos >= this.buf.length) this.truncated()
    throw new JsonSyntaxError(message, this.pos)
  }

  private truncated(): never {
    if (!this.complete) throw NEED_MORE
    throw new JsonSyntaxError('unexpected end of data', this.buf.length)
  }
}

function equalBytes(buf: Buffer, start: number, end: number, expected: Uint8Array): boolean {
  if (end - start !== expected.length) return false
  for (let i = 0; i < expected.length; i++) if (buf[start + i] !== expected[i]) return false
  return true
}
