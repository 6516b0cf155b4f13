/**
 * Warnings from anywhere in a command's process (a plugin whose hook failed, a kind defined
 * twice): on stderr as `Warning: ...`, or, while a command runs with --json, collected into
 * its JSON document's `warnings` so that a script sees them too.
 */
let collecting: string[] | undefined

export function warn(message: string): void {
  if (collecting) collecting.push(message)
  else process.stderr.write(`Warning: ${message}\n`)
}

/** Until `stop()`, warnings go into `warnings` instead of stderr (a --json command). */
export function collectWarnings(): {warnings: string[]; stop(): void} {
  const warnings: string[] = []
  collecting = warnings
  return {
    warnings,
    stop: () => {
      if (collecting === warnings) collecting = undefined
    },
  }
}
