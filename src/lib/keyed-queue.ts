/**
 * Runs async work one piece after another per key: work on one key never interleaves with
 * other work on the same key (at its awaits), while different keys run side by side.
 */
export class KeyedQueue {
  /** Per key, the tail of its queue: settles once everything queued on it so far has. */
  private readonly tails = new Map<string, Promise<unknown>>()

  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const result = (this.tails.get(key) ?? Promise.resolve()).then(work)
    const tail = result.catch(() => undefined)
    this.tails.set(key, tail)
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key)
    })
    return result
  }

  /** Settles once all work queued so far, on every key, has. */
  async idle(): Promise<void> {
    await Promise.all(this.tails.values())
  }
}
