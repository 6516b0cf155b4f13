/**
 * The engine's API resources as trees (see render.ts), with the fields, links and statistic
 * set of the real model (ovirt-engine-api-model types, NicStatisticalQuery, NicMapper).
 */
import type {Engine, SimNic, SimVm} from './engine.js'
import {bigDecimal2, BodyBuilder, compile, fill, nameUuid, Num, Slot, type Format, type Leaf, type Template, type Tree} from './render.js'

export const API = '/ovirt-engine/api'

export interface RenderOptions {
  /** Totals as JSON strings ("48213957421") instead of numbers: the collector must read both. */
  datumAsString: boolean
}

type Dir = 'rx' | 'tx'

interface StatDef {
  name: string
  description: string
  kind: 'gauge' | 'counter'
  type: 'decimal' | 'integer'
  unit: string
  since: [number, number]
  read: (nic: SimNic, options: RenderOptions) => Leaf | null
}

const bytesPerSecond = (nic: SimNic, dir: Dir) => bigDecimal2(((nic.speedMbps * (nic.ratePct[dir] ?? 0)) / 100) * 125_000)
const bitsPerSecond = (nic: SimNic, dir: Dir) => bigDecimal2(((nic.speedMbps * (nic.ratePct[dir] ?? 0)) / 100) * 1e6)
const integer = (value: bigint | null, asString: boolean): Leaf | null =>
  value === null ? null : asString ? value.toString() : new Num(value.toString())

/** One statistic per direction: names and descriptions differ only by rx/tx. */
function perDirection(
  name: (dir: Dir) => string,
  description: [rx: string, tx: string],
  shape: Pick<StatDef, 'kind' | 'type' | 'unit' | 'since'>,
  read: (nic: SimNic, dir: Dir, options: RenderOptions) => Leaf | null,
): StatDef[] {
  return (['rx', 'tx'] as const).map((dir, i) => ({
    ...shape,
    name: name(dir),
    description: description[i],
    read: (n, o) => read(n, dir, o),
  }))
}

/** The NIC statistics, in the engine's order, with the version that added each. */
export const NIC_STATISTICS: StatDef[] = [
  ...perDirection(
    (d) => `data.current.${d}`,
    ['Receive data rate', 'Transmit data rate'],
    {kind: 'gauge', type: 'decimal', unit: 'bytes_per_second', since: [3, 0]},
    bytesPerSecond,
  ),
  ...perDirection(
    (d) => `data.current.${d}.bps`,
    ['Receive data rate', 'Transmit data rate'],
    {kind: 'gauge', type: 'decimal', unit: 'bits_per_second', since: [4, 2]},
    bitsPerSecond,
  ),
  ...perDirection(
    (d) => `errors.total.${d}`,
    ['Total receive errors', 'Total transmit errors'],
    {kind: 'counter', type: 'integer', unit: 'none', since: [3, 0]},
    (n, d) => new Num(n.drops[d].toString()),
  ),
  ...perDirection(
    (d) => `data.total.${d}`,
    ['Total received data', 'Total transmitted data'],
    {kind: 'counter', type: 'integer', unit: 'bytes', since: [3, 6]},
    (n, d, o) => integer(n.total[d], o.datumAsString),
  ),
]

const ref = (href: string, id: string): Tree => ({href, id})
const vmHref = (vm: SimVm) => `${API}/vms/${vm.id}`
const nicHref = (nic: SimNic) => `${vmHref(nic.vm)}/nics/${nic.id}`

export function statisticsOf(engine: Engine): StatDef[] {
  return NIC_STATISTICS.filter((s) => engine.atLeast(s.since[0], s.since[1]))
}

export function statisticTree(nic: SimNic, stat: StatDef, options: RenderOptions): Tree {
  const id = nameUuid(stat.name)
  // A value that is not reported is no <value> at all: "values": {} (a null total).
  const hasValue = stat.read(nic, options) !== null
  return {
    name: stat.name,
    description: stat.description,
    kind: stat.kind,
    type: stat.type,
    unit: stat.unit,
    values: hasValue ? {value: [{datum: new Slot(() => stat.read(nic, options) ?? new Num('0'))}]} : {},
    nic: ref(nicHref(nic), nic.id),
    href: `${nicHref(nic)}/statistics/${id}`,
    id,
  }
}

export function nicTree(nic: SimNic, options: RenderOptions & {statistics: boolean; withVm: boolean}): Tree {
  const href = nicHref(nic)
  return {
    name: nic.name,
    interface: nic.iface,
    linked: 'true',
    plugged: 'true',
    synced: 'true',
    mac: {address: nic.mac},
    vm: options.withVm ? ref(vmHref(nic.vm), nic.vm.id) : undefined,
    vnic_profile: ref(`${API}/vnicprofiles/${nameUuid(`profile-${nic.iface}`)}`, nameUuid(`profile-${nic.iface}`)),
    statistics: options.statistics ? {statistic: statisticsOf(nic.engine).map((s) => statisticTree(nic, s, options))} : undefined,
    link: [
      {href: `${href}/networkfilterparameters`, rel: 'networkfilterparameters'},
      {href: `${href}/reporteddevices`, rel: 'reporteddevices'},
      {href: `${href}/statistics`, rel: 'statistics'},
    ],
    href,
    id: nic.id,
  }
}

export type Follow = 'none' | 'nics' | 'nics.statistics'

export function vmTree(vm: SimVm, follow: Follow, options: RenderOptions): Tree {
  const href = vmHref(vm)
  const cluster = nameUuid('cluster-default')
  const nics =
    follow === 'none'
      ? undefined
      : vm.nics.length
        ? {nic: vm.nics.map((n) => nicTree(n, {...options, statistics: follow === 'nics.statistics', withVm: false}))}
        : {}
  return {
    name: vm.name,
    description: '',
    status: new Slot(() => vm.status),
    memory: '4294967296',
    stateless: 'false',
    type: 'server',
    origin: 'ovirt',
    start_time: new Slot(() => new Num(String(vm.startTime))),
    creation_time: new Num(String(vm.creationTime)),
    cpu: {architecture: 'x86_64', topology: {cores: '1', sockets: '2', threads: '1'}},
    os: {type: 'rhel_8x64'},
    high_availability: {enabled: 'false', priority: '0'},
    cluster: ref(`${API}/clusters/${cluster}`, cluster),
    template: ref(`${API}/templates/00000000-0000-0000-0000-000000000000`, '00000000-0000-0000-0000-000000000000'),
    nics,
    link: [
      {href: `${href}/diskattachments`, rel: 'diskattachments'},
      {href: `${href}/nics`, rel: 'nics'},
      {href: `${href}/statistics`, rel: 'statistics'},
    ],
    href,
    id: vm.id,
  }
}

/**
 * Renders VMs for a list response, reusing each VM's compiled template until its shape
 * changes: only the slots (counters, status) are read per request.
 */
export class VmRenderer {
  private readonly cache = new WeakMap<SimVm, {key: string; template: Template}>()

  constructor(private readonly options: RenderOptions) {}

  render(vm: SimVm, follow: Follow, format: Format, nesting: number): string {
    return fill(this.template(vm, follow, format, nesting))
  }

  /** The whole list response as bytes: `{"vm": [...]}` or `<vms>...</vms>`. */
  renderList(vms: SimVm[], follow: Follow, format: Format): Buffer {
    const templates = vms.map((vm) => this.template(vm, follow, format, 1))
    const expected = templates.reduce((sum, t) => sum + t.bytes.reduce((n, b) => n + b.length, 0) + 24 * t.slots.length, 256)
    const body = new BodyBuilder(expected)
    body.text(format === 'json' ? '{\n  "vm" : [ ' : '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<vms>\n')
    templates.forEach((template, i) => {
      if (i > 0) body.text(format === 'json' ? ', ' : '\n')
      body.template(template)
    })
    body.text(format === 'json' ? ' ]\n}\n' : '\n</vms>\n')
    return body.finish()
  }

  private template(vm: SimVm, follow: Follow, format: Format, nesting: number): Template {
    const key = `${format}|${follow}|${nesting}|${vm.version}|${vm.nics.map((n) => n.version).join(',')}`
    let cached = this.cache.get(vm)
    if (!cached || cached.key !== key) {
      cached = {key, template: compile(vmTree(vm, follow, this.options), format, nesting, 'vm')}
      this.cache.set(vm, cached)
    }
    return cached.template
  }
}

export function apiRootTree(engine: Engine): Tree {
  const v = engine.version
  return {
    product_info: {
      name: 'oVirt Engine',
      vendor: 'ovirt.org',
      version: {
        build: String(v.build),
        full_version: `${v.major}.${v.minor}.${v.build}-1.el8`,
        major: String(v.major),
        minor: String(v.minor),
        revision: String(v.revision),
      },
    },
    summary: {vms: {active: String(engine.vms.filter((vm) => vm.status === 'up').length), total: String(engine.vms.length)}},
    time: new Num(String(engine.wallMs())),
    link: [
      {href: `${API}/clusters`, rel: 'clusters'},
      {href: `${API}/hosts`, rel: 'hosts'},
      {href: `${API}/vms`, rel: 'vms'},
    ],
  }
}
