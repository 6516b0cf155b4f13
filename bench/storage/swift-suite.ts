/**
 * Runs OpenStack Swift 2.30.1's own functional test suite (test/functional, tests.py included)
 * with Debian's python3 and pytest against a real tend stack: a storage-proxy and three
 * storage-nodes brought up with `tend up` from a stack file in a temporary TEND_HOME, on free
 * loopback ports. Used by test/integration/storage/swift-functional.test.ts and by the
 * hand-run script bench/storage/swift-functional.ts.
 */
import {execa} from 'execa'
import {existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {repoRoot} from './cluster.js'
import {type StackUser, type StorageStack, TEST_USERS, upStorageStack} from './stack.js'

/** Debian's interpreter: the suite needs the python3-* packages, not another python on PATH. */
const PYTHON = '/usr/bin/python3'
const PYTHON_PACKAGES = 'python3-pytest python3-mock python3-swift python3-swiftclient python3-boto python3-boto3'
export const DEFAULT_SOURCE = process.env.TEND_SWIFT_SOURCE || '/var/cache/tend/swift-2.30.1'
const FETCH_SCRIPT = join(repoRoot, 'bench', 'storage', 'fetch-swift-source.sh')

/** The tempauth users test.conf names (and the stack configures). */
const USERS: StackUser[] = [
  ...TEST_USERS,
  // A service user (group "service"): with its token as X-Service-Token, test's admins own SERVICE_test.
  {user: 'test5:tester5', key: 'testing5', roles: ['service']},
]

/** Tempauth's reseller prefixes as the suite's service-token tests want them; domain_remap for its tests and static web's. */
const STORAGE_DOMAIN = 'example.com'
const PROXY_CONFIG = {
  reseller_prefixes: [{prefix: 'AUTH_'}, {prefix: 'SERVICE_', require_group: 'service'}],
  storage_domains: [STORAGE_DOMAIN],
}

/**
 * Why the suite may skip a test here, and only these: what needs Keystone, more than one
 * storage policy, or the S3 API (none of which tend has), and the two tests the suite
 * always skips.
 */
export const ALLOWED_SKIPS: {why: string; reason?: RegExp; file?: RegExp}[] = [
  {why: 'Keystone', reason: /^keystoneclient is not available$/},
  {why: 'Keystone', reason: /^AUTH VERSION 3 SPECIFIC TEST$/},
  {why: 'Keystone', reason: /^Skipped \(if tf\.skip or tf\.skip2 or tf\.skip_if_not_v3:\)$/},
  {why: 'multiple storage policies', reason: /^Multiple policies not enabled$/},
  {why: 'multiple storage policies', reason: /^Cross policy test requires multiple policies$/},
  // Some s3api tests skip for their boto version before they look for s3api.
  {why: 's3api', file: /^test\/functional\/s3api\//},
  // TestStaticWebUTF8 skips these itself, whatever the proxy (a UTF-8 name is no DNS label).
  {why: "the suite's own (UTF-8 in a Host name)", reason: /^Can't remap UTF8 containers$/},
]

export type Outcome = 'passed' | 'failed' | 'skipped'

export interface SuiteTest {
  /** pytest's node id: test/functional/tests.py::TestFile::testCopy */
  id: string
  file: string
  outcome: Outcome
  /** Why it was skipped. */
  reason?: string
  /** What failed (pytest's E lines), for failures. */
  message?: string
}

export interface FileCounts {
  file: string
  passed: number
  failed: number
  skipped: number
}

export interface SuiteRun {
  tests: SuiteTest[]
  files: FileCounts[]
  totals: {passed: number; failed: number; skipped: number}
  seconds: number
  /** pytest's own output. */
  log: string
}

export interface SuiteOptions {
  /** Files or node ids under the source tree (default: every file of test/functional). */
  targets?: string[]
  /** More pytest arguments (e.g. ['-k', 'testCopy']). */
  pytestArgs?: string[]
  source?: string
  /** Keep the TEND_HOME (logs, data) for a look afterwards; its path is printed. */
  keepHome?: boolean
  /** Progress lines (stack up, pytest running, ...). */
  note?: (line: string) => void
}

/** Makes sure the Swift source and the python packages are there; fails naming what to install. */
export async function prepareSuite(source = DEFAULT_SOURCE): Promise<void> {
  if (!existsSync(join(source, 'test', 'functional', 'tests.py'))) {
    const fetched = await execa(FETCH_SCRIPT, [source], {reject: false, all: true})
    if (fetched.exitCode !== 0)
      throw new Error(`Swift's source is missing in ${source} and could not be fetched (${FETCH_SCRIPT}, needs root):\n${fetched.all}`)
  }
  if (!existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: apt-get install python3 ${PYTHON_PACKAGES}`)
  const check = await execa(PYTHON, ['-c', 'import pytest, mock, eventlet, swiftclient, boto, boto3'], {reject: false, all: true})
  if (check.exitCode !== 0) throw new Error(`python modules the suite needs are missing: apt-get install ${PYTHON_PACKAGES}\n${check.all}`)
}

function testConf(proxyPort: number): string {
  return `[func_test]
auth_uri = http://127.0.0.1:${proxyPort}/auth/v1.0
account = test
username = tester
password = testing
account2 = test2
username2 = tester2
password2 = testing2
username3 = tester3
password3 = testing3
account5 = test5
username5 = tester5
password5 = testing5
service_prefix = SERVICE
s3_access_key = test:tester
s3_secret_key = testing
s3_access_key2 = test:tester2
s3_secret_key2 = testing2
s3_access_key3 = test:tester3
s3_secret_key3 = testing3
collate = C
insecure = no
storage_domain = ${STORAGE_DOMAIN}
`
}

/** Brings the stack up, runs pytest, brings the stack down; the outcome of every test. */
export async function runSwiftSuite(options: SuiteOptions = {}): Promise<SuiteRun> {
  const source = options.source ?? DEFAULT_SOURCE
  const note = options.note ?? (() => {})
  await prepareSuite(source)
  // Short path: control sockets live under it.
  const home = mkdtempSync(join(tmpdir(), 'swft-'))
  const started = Date.now()
  let stack: StorageStack | undefined
  try {
    stack = await upStorageStack({home, users: USERS, proxyConfig: PROXY_CONFIG})
    note(`stack up: proxy http://127.0.0.1:${stack.proxyPort} (TEND_HOME ${home})`)
    const conf = join(home, 'test.conf')
    writeFileSync(conf, testConf(stack.proxyPort))
    const report = join(home, 'report.jsonl')
    const targets = options.targets ?? ['test/functional']
    note(`pytest ${targets.join(' ')} ${(options.pytestArgs ?? []).join(' ')}`)
    const pytest = await execa(
      PYTHON,
      // tests.py is collected with the test_*.py files (naming it as well would run it twice).
      [
        '-m',
        'pytest',
        '-q',
        '-p',
        'no:cacheprovider',
        '-p',
        'swift_ft_report',
        '-o',
        'python_files=test_*.py tests.py',
        ...targets,
        ...(options.pytestArgs ?? []),
      ],
      {
        cwd: source,
        reject: false,
        all: true,
        timeout: 15 * 60_000,
        env: {
          PYTHONPATH: join(repoRoot, 'bench', 'storage'),
          SWIFT_TEST_IN_PROCESS: '0',
          SWIFT_TEST_CONFIG_FILE: conf,
          TEND_SWIFT_FT_REPORT: report,
        },
      },
    )
    // pytest: 0 all passed, 1 some failed; anything else (interrupted, usage, no tests) is a broken run.
    if (pytest.exitCode !== 0 && pytest.exitCode !== 1)
      throw new Error(`pytest exited ${pytest.exitCode}:\n${String(pytest.all).slice(-4000)}`)
    const tests = readReport(report)
    return {tests, ...countByFile(tests), seconds: (Date.now() - started) / 1000, log: String(pytest.all)}
  } finally {
    await stack?.down()
    if (options.keepHome) note(`kept ${home}`)
    else rmSync(home, {recursive: true, force: true})
  }
}

/** Folds the per-phase lines into one outcome per test: any failure fails it, a skip skips it. */
export function readReport(path: string): SuiteTest[] {
  const byId = new Map<string, SuiteTest>()
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line) continue
    const entry = JSON.parse(line) as {id: string; when: string; outcome: Outcome; reason?: string; message?: string}
    const file = entry.id.split('::')[0]
    const current = byId.get(entry.id)
    if (current?.outcome === 'failed') continue
    if (entry.outcome === 'failed') byId.set(entry.id, {id: entry.id, file, outcome: 'failed', message: entry.message})
    else if (entry.outcome === 'skipped') byId.set(entry.id, {id: entry.id, file, outcome: 'skipped', reason: entry.reason})
    else if (!current && entry.when === 'call') byId.set(entry.id, {id: entry.id, file, outcome: 'passed'})
  }
  return [...byId.values()]
}

export function countByFile(tests: SuiteTest[]): {files: FileCounts[]; totals: SuiteRun['totals']} {
  const files = new Map<string, FileCounts>()
  const totals = {passed: 0, failed: 0, skipped: 0}
  for (const t of tests) {
    let counts = files.get(t.file)
    if (!counts) files.set(t.file, (counts = {file: t.file, passed: 0, failed: 0, skipped: 0}))
    counts[t.outcome]++
    totals[t.outcome]++
  }
  return {files: [...files.values()].sort((a, b) => a.file.localeCompare(b.file)), totals}
}

/** Whether a skip is one of ALLOWED_SKIPS, and which. */
export function allowedSkip(test: SuiteTest): string | undefined {
  return ALLOWED_SKIPS.find((a) => (a.reason?.test(test.reason ?? '') ?? true) && (a.file?.test(test.file) ?? true))?.why
}

/** Tests that neither passed nor skipped for an allowed reason. */
export function notPassing(run: SuiteRun): SuiteTest[] {
  return run.tests.filter((t) => t.outcome === 'failed' || (t.outcome === 'skipped' && !allowedSkip(t)))
}

/**
 * The suite's tests that do not pass yet (issue 10 is worked down to none): the integration
 * test fails on any other test that does not pass, and on a listed one that does (remove it
 * from the list then), so the list only shrinks.
 */
export const KNOWN_FAILURES_FILE = join(repoRoot, 'test', 'integration', 'storage', 'swift-functional.known-failures')

export function readKnownFailures(): Set<string> {
  return new Set(
    readFileSync(KNOWN_FAILURES_FILE, 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#')),
  )
}

export function writeKnownFailures(ids: string[]): void {
  const header = '# Swift functional tests that do not pass yet (bench/storage/swift-suite.ts). One pytest node id a line.\n'
  writeFileSync(KNOWN_FAILURES_FILE, header + [...new Set(ids)].sort().join('\n') + '\n')
}
