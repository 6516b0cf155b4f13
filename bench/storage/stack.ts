/**
 * A storage stack brought up the way a user does it: a stack file (a proxy and three nodes
 * with their documented defaults, on free loopback ports) and `tend up`, under a supervisor
 * in the given TEND_HOME. The stack file lives outside the home, so everything in the home is
 * tend's own making. down() stops everything, whatever state it is in.
 */
import {execa} from 'execa'
import {existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {freePorts} from '../../test/helpers/ports.js'
import {binRun} from './cluster.js'

export interface StackUser {
  user: string
  key: string
  roles?: string[]
}

/** The users Swift's functional suite names: two account owners, a member without rights. */
export const TEST_USERS: StackUser[] = [
  {user: 'test:tester', key: 'testing', roles: ['.admin']},
  {user: 'test2:tester2', key: 'testing2', roles: ['.admin']},
  {user: 'test:tester3', key: 'testing3'},
]

export interface StorageStack {
  home: string
  proxyPort: number
  nodePorts: number[]
  authUrl: string
  ringFile: string
  down(): Promise<void>
}

export function storageStackYaml(
  ports: {proxy: number; nodes: number[]},
  users: StackUser[],
  proxyConfig: Record<string, unknown> = {},
): string {
  const devices = ports.nodes.map((port, i) => `            - {ip: 127.0.0.1, port: ${port}, device: d1, zone: ${i + 1}}`).join('\n')
  const ring = `&storage-ring
        file: \${TEND_HOME}/storage/ring.json
        bootstrap:
          part_power: 8
          replicas: 3
          devices:
${devices}`
  const nodes = ports.nodes
    .map(
      (port, i) => `  storage-node-${i + 1}:
    kind: storage-node
    config:
      port: ${port}
      ring: ${i === 0 ? ring : '*storage-ring'}`,
    )
    .join('\n')
  const userLines = users.map((u) => `        - {user: '${u.user}', key: '${u.key}', roles: [${(u.roles ?? []).join(', ')}]}`).join('\n')
  return `version: 1
name: storage
instances:
${nodes}
  storage-proxy:
    kind: storage-proxy
    depends_on: [${ports.nodes.map((_, i) => `storage-node-${i + 1}`).join(', ')}]
    config:
      port: ${ports.proxy}
      ring: *storage-ring
${Object.entries(proxyConfig)
  .map(([key, value]) => `      ${key}: ${JSON.stringify(value)}\n`)
  .join('')}      users:
${userLines}
`
}

export async function upStorageStack(options: {
  home: string
  users: StackUser[]
  /** Settings of the proxy that differ from its defaults (the fewer the better). */
  proxyConfig?: Record<string, unknown>
}): Promise<StorageStack> {
  const stackDir = mkdtempSync(join(tmpdir(), 'stack-'))
  const stackFile = join(stackDir, 'tend.yaml')
  const env = {TEND_HOME: options.home, NO_COLOR: '1'}
  const [proxy, ...nodes] = await freePorts(4)
  writeFileSync(stackFile, storageStackYaml({proxy, nodes}, options.users, options.proxyConfig))
  const down = async () => {
    await execa(process.execPath, [binRun, 'down', '-f', stackFile], {env, reject: false})
    killLeftovers(options.home)
    rmSync(stackDir, {recursive: true, force: true})
  }
  const up = await execa(process.execPath, [binRun, 'up', '-f', stackFile, '--timeout', '120'], {env, reject: false, all: true})
  if (up.exitCode !== 0) {
    await down()
    throw new Error(`tend up failed:\n${up.all}`)
  }
  return {
    home: options.home,
    proxyPort: proxy,
    nodePorts: nodes,
    authUrl: `http://127.0.0.1:${proxy}/auth/v1.0`,
    ringFile: join(options.home, 'storage', 'ring.json'),
    down,
  }
}

/** Stops anything `tend down` left (a supervisor, an instance) by the pidfiles in the home. */
function killLeftovers(home: string): void {
  const runDir = join(home, 'run')
  if (!existsSync(runDir)) return
  for (const file of readdirSync(runDir).filter((f) => f.endsWith('.pid'))) {
    const pid = Number.parseInt(readFileSync(join(runDir, file), 'utf8'), 10)
    if (!(pid > 0)) continue
    for (const target of [-pid, pid]) {
      try {
        process.kill(target, 'SIGKILL')
      } catch {
        // gone already
      }
    }
  }
}
