/**
 * Runs Swift 2.30.1's functional suite against a fresh tend stack, by hand (CI runs it through
 * test/integration/storage/swift-functional.test.ts). Build first: it runs bin/run.js.
 *
 *   npm run build && node --import tsx bench/storage/swift-functional.ts
 *   node --import tsx bench/storage/swift-functional.ts test/functional/test_slo.py -k copy
 *   node --import tsx bench/storage/swift-functional.ts --keep        # keep TEND_HOME and logs
 *   node --import tsx bench/storage/swift-functional.ts --write-known # refresh the known list
 *
 * Prints per-file counts, every test that neither passed nor skipped for an allowed reason
 * (with pytest's message), and one summary line; exits 1 if any test did not pass.
 */
import {writeFileSync} from 'node:fs'
import {loadavg} from 'node:os'
import {parseArgs} from 'node:util'
import {KNOWN_FAILURES_FILE, allowedSkip, notPassing, runSwiftSuite, writeKnownFailures} from './swift-suite.js'

const {values: args, positionals} = parseArgs({
  allowPositionals: true,
  options: {
    k: {type: 'string', short: 'k'},
    keep: {type: 'boolean', default: false},
    json: {type: 'string'},
    log: {type: 'string'},
    'write-known': {type: 'boolean', default: false},
  },
})

if (args['write-known'] && positionals.length > 0) {
  console.error('--write-known needs the whole suite: give no files')
  process.exit(2)
}

const run = await runSwiftSuite({
  targets: positionals.length > 0 ? positionals : undefined,
  pytestArgs: args.k ? ['-k', args.k] : [],
  keepHome: args.keep,
  note: (line) => console.error(`[swift-functional] ${line}`),
})

console.log(`${'file'.padEnd(48)} passed  failed skipped`)
for (const f of run.files)
  console.log(`${f.file.padEnd(48)} ${String(f.passed).padStart(6)} ${String(f.failed).padStart(7)} ${String(f.skipped).padStart(7)}`)

const skips = new Map<string, number>()
for (const t of run.tests.filter((t) => t.outcome === 'skipped')) {
  const key = allowedSkip(t) ? `allowed (${allowedSkip(t)}): ${t.reason}` : `NOT allowed: ${t.reason}`
  skips.set(key, (skips.get(key) ?? 0) + 1)
}
if (skips.size > 0) console.log('\nskip reasons:')
for (const [reason, n] of [...skips].sort()) console.log(`  ${String(n).padStart(4)}  ${reason}`)

const bad = notPassing(run)
if (bad.length > 0) console.log('\nnot passing:')
for (const t of bad) console.log(`  ${t.outcome === 'failed' ? 'FAILED ' : 'SKIPPED'} ${t.id}  ${t.message ?? t.reason ?? ''}`)

if (args.json) writeFileSync(args.json, `${JSON.stringify(run.tests, null, 1)}\n`)
if (args.log) writeFileSync(args.log, run.log)
if (args['write-known']) {
  writeKnownFailures(bad.map((t) => t.id))
  console.log(`\nwrote ${bad.length} ids to ${KNOWN_FAILURES_FILE}`)
}
const {passed, failed, skipped} = run.totals
console.log(
  `\nswift functional: ${passed} passed, ${failed} failed, ${skipped} skipped (${skipped - run.tests.filter((t) => t.outcome === 'skipped' && !allowedSkip(t)).length} allowed) in ${run.seconds.toFixed(0)} s; load ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
)
process.exitCode = bad.length > 0 ? 1 : 0
