/**
 * The objects this proxy wrote in the last seconds that some primary did not confirm, and
 * when: a write may be answered once two of three replicas have it (the third had
 * `post_quorum_timeout` to catch up and did not), so the third may still hold the version
 * before it. A read that gets an older version than this proxy last wrote (or one it
 * deleted) tries another replica, so a client reads its own writes. Writes every primary
 * confirmed are not noted: no replica holds an older version. Two generations of maps:
 * each entry lives 10 to 20 s.
 */
export class RecentWrites {
  private current = new Map<string, {ts: number; deleted: boolean}>()
  private previous = new Map<string, {ts: number; deleted: boolean}>()
  private readonly timer: NodeJS.Timeout

  constructor(generationMs = 10_000) {
    this.timer = setInterval(() => {
      this.previous = this.current
      this.current = new Map()
    }, generationMs)
    this.timer.unref()
  }

  /** A write this proxy had answered with success, at this X-Timestamp (ticks). */
  note(account: string, container: string, object: string, ts: number, deleted: boolean): void {
    const key = `${account}/${container}/${object}`
    const known = this.current.get(key) ?? this.previous.get(key)
    if (!known || known.ts < ts) this.current.set(key, {ts, deleted})
  }

  /** The last write of an object here, if recent. */
  last(account: string, container: string, object: string): {ts: number; deleted: boolean} | undefined {
    if (this.current.size === 0 && this.previous.size === 0) return undefined
    const key = `${account}/${container}/${object}`
    return this.current.get(key) ?? this.previous.get(key)
  }

  close(): void {
    clearInterval(this.timer)
  }
}
