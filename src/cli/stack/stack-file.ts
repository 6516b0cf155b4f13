import {existsSync} from 'node:fs'
import {basename, delimiter, dirname, join, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'
import {z} from 'zod'
import {ConfigError} from '../../lib/errors.js'
import {isPlainObject, readYamlFile} from '../../lib/config-input.js'
import {describeZodIssues} from '../../lib/validation.js'
import {validateInstanceName} from '../../daemons/runtime/paths.js'
import type {KindRegistry} from '../../daemons/runtime/registry.js'
import {type RestartPolicy, restartPolicies} from '../../daemons/runtime/supervisor/spec.js'

/** The embedded default stack, shipped with the package. */
export const DEFAULT_STACK_FILE = fileURLToPath(new URL('../../../stacks/default.yaml', import.meta.url))
/** What `tend up` reads when no -f is given and the current folder has one. */
export const LOCAL_STACK_FILE = 'tend.yaml'

/** A command that must be installed, or root privileges (`root: true`). */
const requirement = z
  .object({
    command: z.string().min(1).optional(),
    root: z.literal(true).optional(),
    reason: z.string().min(1).optional(),
  })
  .strict()
  .refine((r) => (r.command === undefined) !== (r.root === undefined), 'give exactly one of command or root')

const instanceEntry = z
  .object({
    kind: z.string().min(1),
    config: z.unknown().optional(),
    depends_on: z.array(z.string().min(1)).default([]),
    restart: z.enum(restartPolicies).default('on-failure'),
    max_restarts: z.number().int().min(0).max(1000).default(10),
    requires: z.array(requirement).default([]),
  })
  .strict()

const stackSchema = z
  .object({
    version: z.literal(1, {error: 'version must be 1'}),
    name: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, 'use letters, digits, ".", "_" or "-"')
      .optional(),
    instances: z.record(z.string(), instanceEntry).refine((m) => Object.keys(m).length > 0, 'a stack needs at least one instance'),
  })
  .strict()

export interface StackInstance {
  name: string
  kind: string
  /**
   * As written (variables filled in), validated by the kind's schema: the daemon parses it
   * itself, so units and defaults are applied exactly once, there.
   */
  config: unknown
  dependsOn: string[]
  restart: RestartPolicy
  maxRestarts: number
  /** The kind's Node flags, for the supervisor. */
  nodeFlags: string[]
}

export interface Stack {
  name: string
  file: string
  /** Relative paths in configs resolve from here. */
  baseDir: string
  /** In start order: every instance after the ones it depends on. */
  instances: StackInstance[]
  /** Instances left out because a required command is missing here. */
  skipped: Array<{name: string; reason: string}>
}

/** Which stack file a command means: -f, else ./tend.yaml if present, else the embedded default. */
export function resolveStackFile(flag: string | undefined, cwd = process.cwd()): string {
  if (flag) return resolve(cwd, flag)
  const local = join(cwd, LOCAL_STACK_FILE)
  return existsSync(local) ? local : DEFAULT_STACK_FILE
}

/**
 * Reads and validates a stack file completely (syntax, fields, kinds, every instance's
 * config, dependencies) so that a bad file starts nothing. Throws a UsageError naming the
 * file and the bad entry.
 */
export async function loadStack(file: string, registry: KindRegistry, env: NodeJS.ProcessEnv): Promise<Stack> {
  const where = file === DEFAULT_STACK_FILE ? 'default stack' : file
  const raw = interpolate(readYamlFile(file, 'stack file'), env, where, [])
  // What zod would call 'expected object, received null': say it in the file's terms.
  if (raw === null || raw === undefined) throw new ConfigError(`${where}: the file is empty; a stack file has version: 1 and instances`)
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(
      `${where}: expected version: 1 and instances at the top, not ${Array.isArray(raw) ? 'a list' : `a ${typeof raw}`}`,
    )
  }
  const parsed = stackSchema.safeParse(raw)
  if (!parsed.success) throw new ConfigError(`${where}: ${describeZodIssues(parsed.error)}`)
  const spec = parsed.data

  const names = Object.keys(spec.instances)
  for (const name of names) {
    try {
      validateInstanceName(name)
    } catch (error) {
      throw new ConfigError(`${where}: instances.${name}: ${(error as Error).message}`)
    }
    for (const dep of spec.instances[name].depends_on) {
      if (!(dep in spec.instances))
        throw new ConfigError(`${where}: instances.${name}.depends_on: no instance named ${JSON.stringify(dep)}`)
      if (dep === name) throw new ConfigError(`${where}: instances.${name}.depends_on: an instance cannot depend on itself`)
    }
  }
  const order = topologicalOrder(names, (name) => spec.instances[name].depends_on, where)

  const skipped = new Map<string, string>()
  for (const name of order) {
    const entry = spec.instances[name]
    const missing = entry.requires.find((r) => (r.command ? !commandExists(r.command, env) : process.getuid?.() !== 0))
    if (missing) skipped.set(name, missing.reason ?? (missing.command ? `${missing.command} is not installed` : 'it needs root'))
    else {
      const skippedDep = entry.depends_on.find((dep) => skipped.has(dep))
      if (skippedDep) skipped.set(name, `it depends on ${skippedDep}, which is skipped`)
    }
  }

  const instances: StackInstance[] = []
  for (const name of order) {
    const entry = spec.instances[name]
    // Unknown kinds are errors even for skipped instances: the file itself is wrong.
    registry.get(entry.kind, `${where}: instances.${name}.kind`)
    if (skipped.has(name)) continue
    // Validated here so that a bad file starts nothing; the daemon gets the config as written
    // and converts it (durations, sizes, defaults) itself, exactly once.
    const config = entry.config ?? {}
    await registry.validate(entry.kind, config, where, `instances.${name}.config`)
    instances.push({
      name,
      kind: entry.kind,
      config,
      dependsOn: entry.depends_on,
      restart: entry.restart,
      maxRestarts: entry.max_restarts,
      nodeFlags: [...(registry.get(entry.kind).nodeFlags ?? [])],
    })
  }
  return {
    name: spec.name ?? (file === DEFAULT_STACK_FILE ? 'default' : basename(dirname(file))),
    file,
    baseDir: dirname(file),
    instances,
    skipped: [...skipped].map(([name, reason]) => ({name, reason})),
  }
}

const VARIABLE = /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g

const WHOLE_VARIABLE = /^\$\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}$/
const NUMBER = /^-?\d+(\.\d+)?$/

/**
 * Replaces ${VAR} and ${VAR:-default} in every string ($$ is a literal $). Done after parsing,
 * so values cannot inject YAML. A value that is one variable and nothing else, and comes out
 * as a number, is a number (`port: ${TEND_STORAGE_PORT:-8780}`).
 */
function interpolate(value: unknown, env: NodeJS.ProcessEnv, where: string, path: string[]): unknown {
  if (typeof value === 'string') {
    const text = value.replace(VARIABLE, (match, name: string | undefined, fallback: string | undefined) => {
      if (match === '$$') return '$'
      const found = env[name!]
      if (found !== undefined && found !== '') return found
      if (fallback !== undefined) return fallback
      throw new ConfigError(`${where}: ${path.join('.') || 'value'}: environment variable ${name} is not set`, {
        hint: `set it, or give a default: \${${name}:-value}`,
      })
    })
    return WHOLE_VARIABLE.test(value) && NUMBER.test(text) ? Number(text) : text
  }
  if (Array.isArray(value)) return value.map((item, i) => interpolate(item, env, where, [...path, String(i)]))
  if (isPlainObject(value)) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, interpolate(item, env, where, [...path, key])]))
  }
  return value
}

function topologicalOrder(names: string[], deps: (name: string) => string[], where: string): string[] {
  const order: string[] = []
  const state = new Map<string, 'visiting' | 'done'>()
  const visit = (name: string, trail: string[]) => {
    if (state.get(name) === 'done') return
    if (state.get(name) === 'visiting') {
      const cycle = [...trail.slice(trail.indexOf(name)), name].join(' -> ')
      throw new ConfigError(`${where}: depends_on has a cycle: ${cycle}`)
    }
    state.set(name, 'visiting')
    for (const dep of deps(name)) visit(dep, [...trail, name])
    state.set(name, 'done')
    order.push(name)
  }
  for (const name of names) visit(name, [])
  return order
}

function commandExists(command: string, env: NodeJS.ProcessEnv): boolean {
  if (command.includes('/')) return existsSync(command)
  // Tools such as ovs-vsctl live in sbin, which a non-root PATH may lack.
  const dirs = [...(env.PATH ?? '').split(delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin']
  return dirs.some((dir) => dir && existsSync(join(dir, command)))
}
