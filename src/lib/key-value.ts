/**
 * `key=value`, as the flags that take it write it (`--set`, `--property`, `--meta`, `--address`):
 * split at the first `=`, so the value may hold more of them.
 */
import {UsageError} from './errors.js'

/** The key and value of `key=value`; undefined when there is no `=` or no key before it. */
export function splitKeyValue(item: string): [key: string, value: string] | undefined {
  const eq = item.indexOf('=')
  return eq > 0 ? [item.slice(0, eq), item.slice(eq + 1)] : undefined
}

/** Every `--flag key=value` given, as pairs; one without a key is a usage error naming the flag. */
export function keyValuePairs(flag: string, items: string[]): Array<[key: string, value: string]> {
  return items.map((item) => {
    const pair = splitKeyValue(item)
    if (!pair) throw new UsageError(`${flag} ${JSON.stringify(item)}: expected key=value`)
    return pair
  })
}
