/**
 * How the simulated engine writes resources, as the real one does:
 * - JSON like Jackson's default pretty printer over the JAXB classes: `"key" : value`, objects
 *   indented two spaces per object level, arrays inline (`[ {`, `}, {`, `} ]`), `{ }` when empty;
 * - XML like JAXB's formatted output: four-space indentation, `href`/`id`/`rel` as attributes,
 *   a JSON array as repeated elements.
 * Integers and booleans outside statistics are strings (the xjb binds them with adapters);
 * dates are epoch-ms numbers; a statistic datum is a BigDecimal, written by Jackson with
 * toString() (`1.3E+6`) and by JAXB with toPlainString() (`1300000`).
 *
 * Resources are trees of plain values. A `Slot` leaf is read at render time: `compile` renders
 * a tree once into fixed text around its slots, so a 10,000-VM page costs a few string joins.
 */
import {createHash} from 'node:crypto'

/** A number as the engine writes it: the JSON text and the XML text. */
export class Num {
  constructor(
    readonly json: string,
    readonly xml: string = json,
  ) {}
}

/** A value read when the resource is written (a counter, a status). */
export class Slot {
  constructor(readonly read: () => Leaf) {}
}

export type Leaf = string | Num
export type Node = Leaf | Slot | Tree | Node[]
export interface Tree {
  [key: string]: Node | undefined
}

export type Format = 'json' | 'xml'

/** A rendered resource: fixed text around slots. */
export interface Template {
  format: Format
  parts: string[]
  /** The parts as bytes, for BodyBuilder. */
  bytes: Buffer[]
  slots: Slot[]
}

const XML_ATTRIBUTES = new Set(['href', 'id', 'rel'])

export function compile(root: Tree, format: Format, nesting: number, name?: string): Template {
  const writer = new Writer(format)
  if (format === 'json') writeJsonObject(writer, root, nesting)
  else writeXmlElement(writer, name ?? 'root', root, nesting)
  return writer.finish()
}

export function fill(template: Template): string {
  const {parts, slots} = template
  let out = parts[0]
  for (let i = 0; i < slots.length; i++) out += leafText(slots[i].read(), template.format) + parts[i + 1]
  return out
}

/**
 * Builds a large response body straight into bytes: fixed parts are copied, slots written in
 * place, so a 10,000-VM answer makes no giant string to flatten and encode.
 */
export class BodyBuilder {
  private buf: Buffer
  private length = 0

  constructor(expectedBytes: number) {
    this.buf = Buffer.allocUnsafe(Math.max(1024, expectedBytes))
  }

  text(text: string): void {
    this.reserve(Buffer.byteLength(text))
    this.length += this.buf.write(text, this.length)
  }

  template(template: Template): void {
    const {bytes, slots} = template
    this.copy(bytes[0])
    for (let i = 0; i < slots.length; i++) {
      this.text(leafText(slots[i].read(), template.format))
      this.copy(bytes[i + 1])
    }
  }

  /** The body; the builder is done with it. */
  finish(): Buffer {
    return this.buf.subarray(0, this.length)
  }

  private copy(part: Buffer): void {
    this.reserve(part.length)
    this.length += part.copy(this.buf, this.length)
  }

  private reserve(bytes: number): void {
    if (this.length + bytes <= this.buf.length) return
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.length + bytes))
    this.buf.copy(bigger, 0, 0, this.length)
    this.buf = bigger
  }
}

/** Renders a whole document: `{...}` for JSON, `<?xml ...?><name>...</name>` for XML. */
export function renderDocument(root: Tree, format: Format, name: string): string {
  return wrapDocument(fill(compile(root, format, 0, name)), format)
}

/** A rendered root element as a response body (XML gets its declaration). */
export function wrapDocument(body: string, format: Format): string {
  return format === 'json' ? `${body}\n` : `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n${body}\n`
}

class Writer {
  private current = ''
  private readonly parts: string[] = []
  private readonly slots: Slot[] = []

  constructor(private readonly format: Format) {}

  text(s: string): void {
    this.current += s
  }

  slot(slot: Slot): void {
    this.parts.push(this.current)
    this.current = ''
    this.slots.push(slot)
  }

  finish(): Template {
    const parts = [...this.parts, this.current]
    return {format: this.format, parts, bytes: parts.map((part) => Buffer.from(part)), slots: this.slots}
  }
}

function leafText(leaf: Leaf, format: Format): string {
  if (leaf instanceof Num) return format === 'json' ? leaf.json : leaf.xml
  return format === 'json' ? JSON.stringify(leaf) : escapeXml(leaf)
}

const pad = (level: number) => '  '.repeat(level)

function writeJsonValue(w: Writer, value: Node, nesting: number): void {
  if (value instanceof Slot) w.slot(value)
  else if (value instanceof Num) w.text(value.json)
  else if (typeof value === 'string') w.text(JSON.stringify(value))
  else if (Array.isArray(value)) {
    if (value.length === 0) {
      w.text('[ ]')
      return
    }
    w.text('[ ')
    value.forEach((item, i) => {
      if (i > 0) w.text(', ')
      writeJsonValue(w, item, nesting)
    })
    w.text(' ]')
  } else writeJsonObject(w, value, nesting)
}

function writeJsonObject(w: Writer, tree: Tree, nesting: number): void {
  const entries = Object.entries(tree).filter((e): e is [string, Node] => e[1] !== undefined)
  if (entries.length === 0) {
    w.text('{ }')
    return
  }
  w.text('{')
  entries.forEach(([key, value], i) => {
    w.text(`${i > 0 ? ',' : ''}\n${pad(nesting + 1)}${JSON.stringify(key)} : `)
    writeJsonValue(w, value, nesting + 1)
  })
  w.text(`\n${pad(nesting)}}`)
}

const xmlPad = (level: number) => '    '.repeat(level)

function writeXmlElement(w: Writer, name: string, value: Node, level: number): void {
  if (value instanceof Slot || value instanceof Num || typeof value === 'string') {
    w.text(`${xmlPad(level)}<${name}>`)
    if (value instanceof Slot) w.slot(value)
    else w.text(value instanceof Num ? value.xml : escapeXml(value))
    w.text(`</${name}>`)
    return
  }
  if (Array.isArray(value)) {
    value.forEach((item, i) => {
      if (i > 0) w.text('\n')
      writeXmlElement(w, name, item, level)
    })
    return
  }
  const attributes = Object.entries(value).filter(([k, v]) => XML_ATTRIBUTES.has(k) && typeof v === 'string')
  const children = Object.entries(value).filter(
    (e): e is [string, Node] =>
      e[1] !== undefined && !(XML_ATTRIBUTES.has(e[0]) && typeof e[1] === 'string') && !(Array.isArray(e[1]) && e[1].length === 0),
  )
  const attrs = attributes.map(([k, v]) => ` ${k}="${escapeXml(v as string)}"`).join('')
  if (children.length === 0) {
    w.text(`${xmlPad(level)}<${name}${attrs}/>`)
    return
  }
  w.text(`${xmlPad(level)}<${name}${attrs}>`)
  for (const [key, child] of children) {
    w.text('\n')
    writeXmlElement(w, key, child, level + 1)
  }
  w.text(`\n${xmlPad(level)}</${name}>`)
}

function escapeXml(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;'})[c]!)
}

const uuids = new Map<string, string>()

/** Java's UUID.nameUUIDFromBytes: MD5 of the name with version-3 bits (the engine's statistic ids). */
export function nameUuid(name: string): string {
  const known = uuids.get(name)
  if (known) return known
  const h = createHash('md5').update(name).digest()
  h[6] = (h[6] & 0x0f) | 0x30
  h[8] = (h[8] & 0x3f) | 0x80
  const hex = h.toString('hex')
  const uuid = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
  uuids.set(name, uuid)
  return uuid
}

/**
 * `new BigDecimal(value, new MathContext(2))` written with toString() (JSON) and
 * toPlainString() (XML): the exact value of the double rounded to two significant digits,
 * HALF_UP, in scientific notation when the scale is negative. 1250000 → 1.3E+6; 5 → 5;
 * 0.5 → 0.5; 0.1 → 0.10 (the double is not exactly 0.1); 100 → 1.0E+2.
 */
export function bigDecimal2(value: number): Num {
  if (value === 0) return new Num('0')
  const sign = value < 0 ? '-' : ''
  const x = Math.abs(value)
  let digits: string
  let scale: number
  if (Number.isInteger(x) && x < 100) {
    // BigDecimal(double) of an integer has scale 0: up to two digits, nothing to round.
    digits = String(x)
    scale = 0
  } else {
    // toPrecision rounds the exact binary value half-up, as Java's HALF_UP does.
    ;({digits, scale} = decimalOf(x.toPrecision(2)))
    // A fraction whose double is exactly a one-digit decimal (0.5) keeps one digit, as in Java.
    const short = stripZeros(digits, scale)
    if (scale > 0 && short.digits.length < digits.length && isExactDecimal(short.digits, short.scale, x)) ({digits, scale} = short)
  }
  return new Num(sign + javaToString(digits, scale), sign + plain(digits, scale))
}

/** "1.3e+6" / "0.10" / "12" → unscaled digits and scale (value = digits × 10^-scale). */
function decimalOf(text: string): {digits: string; scale: number} {
  const [mantissa, exponent = '0'] = text.split('e')
  const [whole, fraction = ''] = mantissa.split('.')
  const digits = (whole + fraction).replace(/^0+(?=\d)/, '')
  return {digits, scale: fraction.length - Number(exponent)}
}

function stripZeros(digits: string, scale: number): {digits: string; scale: number} {
  while (digits.length > 1 && digits.endsWith('0')) {
    digits = digits.slice(0, -1)
    scale--
  }
  return {digits, scale}
}

/** Whether the fraction digits × 10^-scale is exactly the double x (only k / 2^n fractions are). */
function isExactDecimal(digits: string, scale: number, x: number): boolean {
  const n = Number(digits)
  return scale > 0 && n % 5 ** scale === 0 && n / 10 ** scale === x
}

function javaToString(digits: string, scale: number): string {
  const adjusted = -scale + (digits.length - 1)
  if (scale >= 0 && adjusted >= -6) return plain(digits, scale)
  const mantissa = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits
  return `${mantissa}E${adjusted >= 0 ? '+' : ''}${adjusted}`
}

function plain(digits: string, scale: number): string {
  if (scale <= 0) return digits + '0'.repeat(-scale)
  const padded = digits.padStart(scale + 1, '0')
  return `${padded.slice(0, -scale)}.${padded.slice(-scale)}`
}
