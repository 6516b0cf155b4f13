/**
 * What a benchmark part must undo even when it is interrupted (Ctrl+C, a CI timeout's
 * SIGTERM): network namespaces, peer daemons, temp dirs. A part registers an undo while it
 * holds the resource; run.ts runs what is left on a signal.
 */
const undos = new Set<() => Promise<void> | void>()

/** Registers an undo; call the returned function once it has run normally. */
export function onInterrupt(undo: () => Promise<void> | void): () => void {
  undos.add(undo)
  return () => undos.delete(undo)
}

export function runUndosOnSignals(): void {
  let undoing = false
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    // `on`, not `once`: execa's exit hook re-raises the signal (and the process dies before the
    // undos finish) as soon as it sees no other listener left.
    process.on(signal, () => {
      if (undoing) return
      undoing = true
      void Promise.allSettled([...undos].map((undo) => undo())).then(() => process.exit(130))
    })
  }
}
