/** A source runner fed scripted samples at chosen times: the real booking, commit and apply path. */
import {SourceRunner} from '../../../src/daemons/usage-collector/runner.js'
import type {CounterSample, SourcePoll} from '../../../src/daemons/usage-collector/source-api.js'
import type {UsageStore} from '../../../src/daemons/usage-collector/store.js'
import {nullLogger} from '../../../src/lib/logger.js'

export function scriptedRunner(store: UsageStore, name = 'engine', intervalMs = 3_600_000) {
  let next: SourcePoll = {samples: [], complete: true}
  let now = 0
  const runner = new SourceRunner(name, 'scripted', {poll: async () => next}, store, intervalMs, nullLogger, {clock: () => now})
  return {
    runner,
    /** One poll at `at` (ms) that reads these samples; the source's first complete poll is its baseline. */
    poll: async (at: number, samples: CounterSample[], complete = true) => {
      next = {samples, complete}
      now = at
      const summary = await runner.pollNow(new AbortController().signal)
      if (!summary.ok) throw new Error(`scripted poll failed: ${summary.error?.message}`)
      return summary
    },
  }
}

export const sample = (
  vmId: string,
  vnicId: string,
  rx: bigint | null,
  tx: bigint | null = 0n,
  names: {vm?: string; vnic?: string} = {},
): CounterSample => ({
  vmId,
  vmName: names.vm ?? vmId,
  vnicId,
  vnicName: names.vnic ?? vnicId,
  rx,
  tx,
})
