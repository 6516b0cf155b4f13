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
    return {format: this.format, parts: [...this.parts, this.current], slots: this.slots}
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
    (e): e is [string, Node] => e[1] !== undefined && !(XML_ATTRIBUTES.has(e[0]) && typeof e[1] === 'string') && !(Array.isArray(e[1]) && e[1].length === 0),
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

/** Java's UUID.nameUUIDFromBytes: MD5 of the name with version-3 bits (the engine's statistic ids). */
export function nameUuid(name: string): string {
  const h = createHash('md5').update(name).digest()
  h[6] = (h[6] & 0x0f) | 0x30
  h[8] = (h[8] & 0x3f) | 0x80
  const hex = h.toString('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

/**
 * `new BigDecimal(value, new MathContext(2))` written with toString() (JSON) and
 * toPlainString() (XML): two significant digits, HALF_UP, scientific notation when the
 * scale is negative. 1250000 → 1.3E+6; 5 → 5; 0.5 → 0.5; 100 → 1.0E+2.
 */
export function bigDecimal2(value: number): Num {
  if (value === 0) return new Num('0')
  const negative = value < 0
  const exact = exactDecimal(Math.abs(value))
  let digits = exact.digits
  let scale = exact.scale
  if (digits.length > 2) {
    const drop = digits.length - 2
    let kept = BigInt(digits.slice(0, 2))
    if (Number(digits[2]) >= 5) kept += 1n
    scale -= drop
    digits = kept.toString()
    if (digits.length > 2) {
      // 99 → 100: keep two digits
      digits = digits.slice(0, 2)
      scale -= 1
    }
  }
  const sign = negative ? '-' : ''
  return new Num(sign + javaToString(digits, scale), sign + plain(digits, scale))
}

/** The exact decimal expansion of a double: unscaled digits and scale (value = digits × 10^-scale). */
function exactDecimal(value: number): {digits: string; scale: number} {
  // A double is m × 2^e exactly; for e < 0 that is m × 5^-e / 10^-e.
  const view = new DataView(new ArrayBuffer(8))
  view.setFloat64(0, value)
  const bits = view.getBigUint64(0)
  const exponent = Number((bits >> 52n) & 0x7ffn)
  let mantissa = bits & ((1n << 52n) - 1n)
  let e = exponent - 1075
  if (exponent === 0) e = -1074
  else mantissa |= 1n << 52n
  let digits: bigint
  let scale: number
  if (e >= 0) {
    digits = mantissa << BigInt(e)
    scale = 0
  } else {
    digits = mantissa * 5n ** BigInt(-e)
    scale = -e
  }
  // Strip trailing zeros, as BigDecimal(double) keeps the smallest scale that is exact.
  while (scale > 0 && digits % 10n === 0n) {
    digits /= 10n
    scale--
  }
  return {digits: digits.toString(), scale}
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
