import type {BuildDetail, CiClient} from './ci-client.js'

// The master holds each poll this long at most; a build ending sooner answers at once.
const POLL_S = 30

/**
 * Waits for a build to end, following retries: a build lost and retried as another is waited
 * for through its retry. Reports each change of state through `progress`.
 */
export async function waitForBuild(client: CiClient, id: number, progress: (message: string) => void): Promise<BuildDetail> {
  let current = id
  let last = ''
  for (;;) {
    const detail = await client.build(current, POLL_S)
    const {build} = detail
    const state = `${build.id}:${build.state}:${build.worker}`
    if (state !== last) {
      last = state
      if (build.state === 'pending') progress(`build ${build.id} queued`)
      else if (build.state === 'running') progress(`build ${build.id} running on ${build.worker}`)
    }
    if (build.state !== 'finished') continue
    if (build.result === 'lost' && build.retriedAs) {
      progress(`build ${build.id} lost (${build.summary ?? 'no reason'}); retried as build ${build.retriedAs}`)
      current = build.retriedAs
      continue
    }
    return detail
  }
}
