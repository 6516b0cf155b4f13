import {mkdtempSync, readFileSync, rmSync, statSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, describe, expect, it, vi} from 'vitest'
import {TempAuth} from '../../../src/daemons/storage-proxy/auth.js'

const dirs: string[] = []
afterEach(() => {
  vi.useRealTimers()
  dirs.splice(0).forEach((d) => rmSync(d, {recursive: true, force: true}))
})
function auth(ttl = 60): {auth: TempAuth; secret: string} {
  const dir = mkdtempSync(join(tmpdir(), 'auth-'))
  dirs.push(dir)
  const secret = join(dir, 'secret')
  const users = [
    {user: 'test:tester', key: 'testing', roles: ['.admin' as const]},
    {user: 'test:reader', key: 'r', roles: []},
  ]
  return {auth: new TempAuth(users, secret, ttl), secret}
}

describe('TempAuth', () => {
  it('signs tokens that identify the user, and keeps its secret private and stable', () => {
    const {auth: a, secret} = auth()
    const session = a.login('test:tester', 'testing')!
    expect(session.account).toBe('AUTH_test')
    expect(a.identify(session.token)).toMatchObject({account: 'test', user: 'tester', storageAccount: 'AUTH_test', admin: true})
    expect(statSync(secret).mode & 0o777).toBe(0o600)
    const again = new TempAuth([{user: 'test:tester', key: 'testing', roles: ['.admin']}], secret, 60)
    expect(again.identify(session.token)?.user).toBe('tester') // a restarted proxy still accepts it
    expect(readFileSync(secret, 'utf8').trim()).toHaveLength(64)
  })

  it('refuses bad keys, forged and expired tokens', () => {
    const {auth: a} = auth(60)
    expect(a.login('test:tester', 'wrong')).toBeUndefined()
    expect(a.login('nobody:x', 'testing')).toBeUndefined()
    const token = a.login('test:reader', 'r')!.token
    expect(a.identify(`${token.slice(0, -1)}${token.endsWith('0') ? '1' : '0'}`)).toBeUndefined()
    expect(a.identify('AUTH_tkgarbage')).toBeUndefined()
    vi.useFakeTimers()
    vi.setSystemTime(Date.now() + 61_000)
    const fresh = auth(60).auth
    expect(fresh.identify(token)).toBeUndefined()
  })

  it("gives each user tempauth's groups: the account, account:user, and its accounts if admin", () => {
    const {auth: a} = auth()
    expect(a.identify(a.login('test:tester', 'testing')!.token)?.groups).toEqual(['test', 'test:tester', 'AUTH_test'])
    expect(a.identify(a.login('test:reader', 'r')!.token)?.groups).toEqual(['test', 'test:reader'])
  })
})
