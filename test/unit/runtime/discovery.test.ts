/** Finding the instance a command talks to (`--instance NAME`), over real control sockets answering /status. */
import {mkdtempSync, rmSync} from 'node:fs'
import {createServer, type Server} from 'node:http'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {findInstance} from '../../../src/cli/instances/discovery.js'
import {StatePaths} from '../../../src/daemons/runtime/paths.js'
import {NotFoundError} from '../../../src/lib/errors.js'

let home: string
const servers: Server[] = []

async function serveStatus(name: string, kind: string): Promise<void> {
  const server = createServer((_req, res) => {
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify({name, kind, healthy: true, summary: '', details: {}}))
  })
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(new StatePaths(home).controlSocket(name), resolve))
}

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'tend-discovery-'))
  new StatePaths(home).ensure()
  await serveStatus('flow', 'flow-agent')
  await serveStatus('usage', 'usage-collector')
})
afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))))
  rmSync(home, {recursive: true, force: true})
})

describe('findInstance', () => {
  it('finds the named instance of the kind', async () => {
    expect(await findInstance(home, 'flow-agent', 'flow')).toMatchObject({name: 'flow', kind: 'flow-agent'})
  })

  it('says an instance of another kind is that kind, and names those of the kind wanted', async () => {
    const found = findInstance(home, 'flow-agent', 'usage')
    await expect(found).rejects.toThrow(NotFoundError)
    await expect(found).rejects.toThrow('usage is a usage-collector, not a flow-agent')
    await expect(found).rejects.toMatchObject({hint: 'flow-agent instances running: flow'})
  })

  it('says when no instance has the name', async () => {
    await expect(findInstance(home, 'flow-agent', 'nope')).rejects.toThrow('no running flow-agent instance named nope')
    await expect(findInstance(home, 'ci-master', 'nope')).rejects.toMatchObject({hint: 'see: tend ps'})
  })
})
