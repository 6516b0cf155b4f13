import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {Engine, startSimulator, type Simulator} from '../../ovirt-sim/index.js'
import {bigDecimal2, nameUuid} from '../../ovirt-sim/render.js'

/** The SSO endpoint's answer: a token, or an OAuth error. */
interface SsoAnswer {
  access_token?: string
  error_code?: string
  error?: string
}

/** The parts of the engine's JSON these tests read (every value as the engine writes it). */
interface Link {
  rel: string
  href: string
}
interface StatisticJson {
  id: string
  name: string
  href: string
  nic: Record<string, string>
}
interface VmJson {
  id: string
  name: string
  start_time: unknown
  link: Link[]
  nics?: {nic: Array<{id: string; statistics: {statistic: StatisticJson[]}}>}
}
interface VmList {
  vm?: VmJson[]
}

/** The simulator must be faithful to the engine: these pin the shapes a collector meets. */
describe('oVirt engine simulator', () => {
  let sim: Simulator
  let token: string
  const sso = (body: string, accept = 'application/json') =>
    fetch(sim.url.replace('/api', '/sso/oauth/token'), {
      method: 'POST',
      headers: {accept, 'content-type': 'application/x-www-form-urlencoded'},
      body,
    })
  const get = (path: string, headers: Record<string, string> = {}) =>
    fetch(`${sim.url}${path}`, {headers: {authorization: `Bearer ${token}`, accept: 'application/json', ...headers}})

  beforeAll(async () => {
    sim = await startSimulator({vms: 5, seed: 2})
    sim.engine.sample()
    token = String(
      ((await (await sso('grant_type=password&scope=ovirt-app-api&username=admin%40internal&password=secret')).json()) as SsoAnswer)
        .access_token,
    )
  })
  afterAll(() => sim?.stop())

  it('issues SSO tokens and answers OAuth errors as the engine does (400, error_code + error)', async () => {
    const ok = (await (await sso('grant_type=password&scope=ovirt-app-api&username=admin%40internal&password=secret')).json()) as SsoAnswer
    expect(ok).toMatchObject({scope: 'ovirt-app-api', exp: '9223372036854775807', token_type: 'bearer'})
    expect(typeof ok.access_token).toBe('string')
    const cases: Array<[string, string, string]> = [
      ['grant_type=password&scope=ovirt-app-api&username=admin%40internal&password=x', 'application/json', 'access_denied'],
      ['grant_type=password&scope=other&username=admin%40internal&password=secret', 'application/json', 'invalid_scope'],
      ['grant_type=client_credentials&scope=ovirt-app-api', 'application/json', 'unsupported_grant_type'],
      ['grant_type=password&scope=ovirt-app-api&username=admin%40internal&password=secret', '*/*', 'invalid_request'],
    ]
    for (const [body, accept, code] of cases) {
      const res = await sso(body, accept)
      expect(res.status).toBe(400)
      expect(((await res.json()) as SsoAnswer).error_code).toBe(code)
    }
    const denied = (await (await sso(cases[0][0])).json()) as SsoAnswer
    expect(denied.error).toBe("Cannot authenticate user 'admin@internal': The username or password is incorrect..")
  })

  it('answers 401 with an HTML page, 404 with nothing, a malformed id with a fault', async () => {
    const unauth = await fetch(`${sim.url}/vms`, {headers: {accept: 'application/json'}})
    expect(unauth.status).toBe(401)
    expect(unauth.headers.get('www-authenticate')).toBe('Basic realm="RESTAPI"')
    expect(await unauth.text()).toMatch(/^<html>/)
    const basic = await fetch(`${sim.url}/vms?max=1`, {
      headers: {accept: 'application/json', authorization: `Basic ${Buffer.from('admin@internal:secret').toString('base64')}`},
    })
    expect(basic.status).toBe(200)
    const missing = await get('/vms/00000000-0000-4000-8000-000000000000')
    expect([missing.status, await missing.text()]).toEqual([404, ''])
    const malformed = await get('/vms/not-an-id')
    expect(malformed.status).toBe(400)
    expect(await malformed.json()).toEqual({reason: 'Operation Failed', detail: 'Invalid UUID string: not-an-id'})
    expect((await get('/vms', {version: '3'})).status).toBe(400)
  })

  it('writes VMs like Jackson over JAXB: integers and booleans as strings, dates as numbers', async () => {
    const text = await (await get('/vms?max=1')).text()
    expect(text).toMatch(/^\{\n {2}"vm" : \[ \{\n {4}"name" : "vm-00000",/)
    const vm = (JSON.parse(text) as Required<VmList>).vm[0]
    expect(vm).toMatchObject({memory: '4294967296', stateless: 'false', status: 'up', cpu: {topology: {cores: '1', sockets: '2'}}})
    expect(typeof vm.start_time).toBe('number')
    expect(vm.nics).toBeUndefined()
    expect(vm.link.map((l) => l.rel)).toEqual(['diskattachments', 'nics', 'statistics'])
  })

  it('pages with search=page N and max, sorted by name, and follows nics.statistics', async () => {
    const names = async (query: string) => (((await (await get(`/vms?${query}`)).json()) as VmList).vm ?? []).map((v) => v.name)
    expect(await names(`max=2&search=${encodeURIComponent('sortby name asc page 2')}`)).toEqual(['vm-00002', 'vm-00003'])
    expect(await names(`search=${encodeURIComponent('name=vm-0000[3]')}`)).toEqual([])
    expect(await names(`search=${encodeURIComponent('name=vm-0000* sortby name desc page 1')}&max=1`)).toEqual(['vm-00004'])
    expect(await (await get(`/vms?max=2&search=${encodeURIComponent('page 9')}`)).text()).toBe('{ }\n')
    const followed = ((await (await get('/vms?max=1&follow=nics.statistics')).json()) as Required<VmList>).vm[0]
    const nic = followed.nics!.nic[0]
    const stats = nic.statistics.statistic
    expect(stats.map((s) => s.name)).toEqual([
      'data.current.rx',
      'data.current.tx',
      'data.current.rx.bps',
      'data.current.tx.bps',
      'errors.total.rx',
      'errors.total.tx',
      'data.total.rx',
      'data.total.tx',
    ])
    const total = stats.find((s) => s.name === 'data.total.rx')!
    expect(total).toMatchObject({
      description: 'Total received data',
      kind: 'counter',
      type: 'integer',
      unit: 'bytes',
      id: '0b9ddd6a-fc1b-398a-9f95-7a863c753017',
    })
    expect(total.href).toBe(`/ovirt-engine/api/vms/${followed.id}/nics/${nic.id}/statistics/${total.id}`)
    expect(Object.keys(total.nic)).toEqual(['href', 'id'])
  })

  it('serves XML by Accept, with href and id as attributes', async () => {
    const xml = await (await get('/vms?max=1', {accept: 'application/xml'})).text()
    expect(xml).toMatch(
      /^<\?xml version="1.0" encoding="UTF-8" standalone="yes"\?>\n<vms>\n {4}<vm href="\/ovirt-engine\/api\/vms\/[0-9a-f-]+" id="[0-9a-f-]+">\n {8}<name>vm-00000<\/name>/,
    )
  })
})

describe('the engine model', () => {
  it('uses the published statistic ids (Java nameUUIDFromBytes)', () => {
    expect(nameUuid('data.total.tx')).toBe('4d75baca-1fc9-3b19-b44f-6d32abda3888')
    expect(nameUuid('data.current.rx.bps')).toBe('87211eae-bb7c-382e-9e1b-378cf4505e2f')
    expect(nameUuid('errors.total.rx')).toBe('50b8f057-7795-30bd-825a-1acadd37a9d7')
  })

  it('writes rates like BigDecimal with MathContext(2)', () => {
    const json = (v: number) => bigDecimal2(v).json
    expect([1_250_000, 5, 0.5, 100, 10, 0.1, 99.9, 0.125, 0.05].map(json)).toEqual([
      '1.3E+6',
      '5',
      '0.5',
      '1.0E+2',
      '10',
      '0.10',
      '1.0E+2',
      '0.13',
      '0.050',
    ])
    expect(bigDecimal2(1_250_000).xml).toBe('1300000')
  })

  it('publishes 0 at first sight, keeps totals going up across a VM restart, and counts what it lost', () => {
    const engine = new Engine()
    const vm = engine.addVm('a', ['virtio'])
    const nic = vm.nics[0]
    engine.markBaseline()
    nic.flow(1000n, 0n)
    engine.sample()
    expect(nic.total.rx).toBe(0n) // first sight: the tap's 1000 bytes are never published
    nic.flow(500n, 0n)
    engine.sample()
    expect(nic.total.rx).toBe(500n)
    nic.flow(200n, 0n) // flows, then the VM restarts before the engine samples
    engine.restartVm(vm)
    nic.flow(300n, 0n)
    engine.sample()
    expect(nic.total.rx).toBe(800n) // the offset keeps it going up: 500 + 300
    expect(nic.truth.rx).toBe(2000n)
    expect(nic.lost.rx).toBe(1200n) // first sight 1000 + the 200 wiped by the restart
    expect(nic.visible.rx).toBe(800n)
  })

  it('has the blind spot: a restarted tap that overtakes its old count before a sample is undercounted', () => {
    const engine = new Engine()
    const nic = engine.addVm('a', ['virtio']).nics[0]
    engine.sample()
    nic.flow(100n, 0n)
    engine.sample() // total 100, raw 100
    engine.restartVm(nic.vm)
    nic.flow(150n, 0n) // raw 150 > 100: the engine sees no reset
    engine.sample()
    expect(nic.total.rx).toBe(150n) // 50 booked for 150 that flowed
    expect(nic.lost.rx).toBe(100n)
  })
})
