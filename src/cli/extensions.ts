import type {Config} from '@oclif/core'
import {errorMessage} from '../lib/errors.js'
import {warn} from '../lib/warnings.js'
import {pluginApi} from '../plugin-api.js'

/**
 * Runs the oclif hook `tend:<point>` in every plugin and flattens what the plugins return.
 * A plugin whose hook throws is reported as a warning and skipped: one broken plugin must not
 * take the whole CLI down.
 */
export async function collectExtensions<T>(config: Config, point: string): Promise<Array<{plugin: string; value: T}>> {
  const result = await config.runHook(`tend:${point}` as never, {tend: pluginApi} as never)
  for (const failure of result.failures) {
    warn(`plugin ${failure.plugin.name} failed in hook tend:${point}: ${errorMessage(failure.error)}`)
  }
  const values: Array<{plugin: string; value: T}> = []
  for (const success of result.successes) {
    const returned = success.result as unknown
    if (returned === undefined || returned === null) continue
    for (const value of Array.isArray(returned) ? returned : [returned]) values.push({plugin: success.plugin.name, value: value as T})
  }
  return values
}
