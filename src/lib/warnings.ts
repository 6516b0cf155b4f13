/**
 * Warnings from anywhere in a command's process (a plugin whose hook failed, a kind defined
 * twice): on stderr as `Warning: ...`, or, while a command runs with --json, collected into
 * its JSON document's `warnings` so that a script sees them too.
 */
let collected: string[] | undefined

export function warn(message: string): void {
  if (collected) collected.push(message)
  else process.stderr.write(`Warning: ${message}\n`)
}

/** From now on, warnings go into the returned list instead of stderr (a --json command). */
export function collectWarnings(): string[] {
  collected ??= []
  return collected
}
