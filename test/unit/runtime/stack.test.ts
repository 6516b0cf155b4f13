import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {z} from 'zod'
import {duration} from '../../../src/lib/units.js'
import {KindRegistry} from '../../../src/daemons/runtime/registry.js'
import {loadStack} from '../../../src/cli/stack/stack-file.js'

const echoKind = {
  kind: 'echo',
  summary: 'test kind',
  config: z.object({port: z.number().int().default(1), text: z.string().default('')}).strict(),
  start: async () => ({status: () => ({healthy: true, summary: ''}), stop: async () => {}}),
}
const registry = new KindRegistry([{kind: 'echo', summary: 'test kind', source: 'test', load: async () => echoKind}])

describe('loadStack', () => {
  let dir: string
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'stack-unit-'))))
  afterEach(() => rmSync(dir, {recursive: true, force: true}))
  const write = (text: string) => {
    const file = join(dir, 'tend.yaml')
    writeFileSync(file, text)
    return file
  }

  it('orders instances after their dependencies and keeps each config as written (the daemon applies its defaults)', async () => {
    const file = write(
      'version: 1\ninstances:\n  web: {kind: echo, depends_on: [db, cache]}\n  db: {kind: echo}\n  cache: {kind: echo, depends_on: [db]}\n',
    )
    const stack = await loadStack(file, registry, {})
    expect(stack.instances.map((i) => i.name)).toEqual(['db', 'cache', 'web'])
    expect(stack.instances[0]).toEqual({
      name: 'db',
      kind: 'echo',
      config: {},
      dependsOn: [],
      restart: 'on-failure',
      maxRestarts: 10,
      nodeFlags: [],
    })
    expect(stack.name).toBe(dir.split('/').at(-1))
    expect(stack.baseDir).toBe(dir)
  })

  it('hands each instance its config as written, so that its daemon converts durations once', async () => {
    const timed = z.object({every: duration().prefault('5s'), wait: duration()}).strict()
    const timedRegistry = new KindRegistry([
      {kind: 'timed', summary: 'test kind', source: 'test', load: async () => ({...echoKind, kind: 'timed', config: timed})},
    ])
    const stack = await loadStack(write('version: 1\ninstances:\n  a: {kind: timed, config: {wait: 500ms}}\n'), timedRegistry, {})
    expect(stack.instances[0].config).toEqual({wait: '500ms'})
    // What the daemon does with it (through the config file the supervisor writes as JSON):
    expect(timed.parse(JSON.parse(JSON.stringify(stack.instances[0].config)))).toEqual({every: 5000, wait: 500})
    await expect(loadStack(write('version: 1\ninstances:\n  a: {kind: timed, config: {wait: 500}}\n'), timedRegistry, {})).rejects.toThrow(
      /instances\.a\.config\.wait: expected a duration with a unit/,
    )
  })

  it('interpolates environment variables after parsing, with defaults and $$', async () => {
    const file = write('version: 1\nname: s\ninstances:\n  a: {kind: echo, config: {text: "${GREETING} ${WHO:-world} $$5 ${EVIL}"}}\n')
    const stack = await loadStack(file, registry, {GREETING: 'hello', EVIL: '"}\ninjected: true'})
    expect(stack.instances[0].config).toEqual({text: 'hello world $5 "}\ninjected: true'})
  })

  it('skips an instance whose required command is missing, and its dependents, saying why', async () => {
    const file = write(
      'version: 1\ninstances:\n  a: {kind: echo, requires: [{command: definitely-not-installed-xyz, reason: xyz is not installed}]}\n  b: {kind: echo, depends_on: [a]}\n  c: {kind: echo, requires: [{command: sh}]}\n  d: {kind: echo, requires: [{root: true}]}\n',
    )
    const stack = await loadStack(file, registry, {PATH: process.env.PATH})
    const isRoot = process.getuid?.() === 0
    expect(stack.instances.map((i) => i.name)).toEqual(isRoot ? ['c', 'd'] : ['c'])
    expect(stack.skipped).toEqual([
      {name: 'a', reason: 'xyz is not installed'},
      {name: 'b', reason: 'it depends on a, which is skipped'},
      ...(isRoot ? [] : [{name: 'd', reason: 'it needs root'}]),
    ])
  })

  it('names the file and the entry in every error', async () => {
    const cases: Array<[string, RegExp]> = [
      ['version: 2\ninstances: {a: {kind: echo}}\n', /tend\.yaml: version: version must be 1/],
      ['version: 1\ninstances: {}\n', /instances: a stack needs at least one instance/],
      ['version: 1\ninstances: {"bad name": {kind: echo}}\n', /instances\.bad name: invalid instance name/],
      ['version: 1\ninstances: {a: {kind: echo, depends_on: [zz]}}\n', /instances\.a\.depends_on: no instance named "zz"/],
      ['version: 1\ninstances: {a: {kind: echo, config: {port: x}}}\n', /instances\.a\.config\.port: Invalid input: expected number/],
      ['version: 1\ninstances: {a: {kind: echo, restart: sometimes}}\n', /instances\.a\.restart: /],
      [
        'version: 1\ninstances: {a: {kind: echo, requires: [{command: x, root: true}]}}\n',
        /instances\.a\.requires\.0: give exactly one of command or root/,
      ],
    ]
    for (const [text, message] of cases) await expect(loadStack(write(text), registry, {})).rejects.toThrow(message)
  })
})
