import {mkdirSync, rmSync} from 'node:fs'
import {join} from 'node:path'

/** Where a build runs on this worker, and what to do with it afterwards. */
export interface Workspace {
  dir: string
  release(): void
}

/**
 * Build dirs under the worker's work_dir. A build gets a fresh `BUILDER-ID/`, removed when it
 * ends (unless kept for debugging). A builder whose checkout is incremental keeps its dir from
 * build to build, as Buildbot's builder dirs are kept: `builders/BUILDER/`, and for a second
 * build of it running at the same time `builders/BUILDER@2/`, so two builds never share one.
 */
export class Workspaces {
  private readonly inUse = new Set<string>()

  constructor(
    private readonly root: string,
    private readonly keepFresh: boolean,
  ) {}

  acquire(builder: string, id: number, persistent: boolean): Workspace {
    if (!persistent) {
      const dir = join(this.root, `${builder}-${id}`)
      rmSync(dir, {recursive: true, force: true})
      mkdirSync(dir, {recursive: true})
      return {dir, release: () => this.keepFresh || rmSync(dir, {recursive: true, force: true})}
    }
    let slot = 1
    const name = () => (slot === 1 ? builder : `${builder}@${slot}`)
    while (this.inUse.has(name())) slot++
    const dir = join(this.root, 'builders', name())
    this.inUse.add(name())
    mkdirSync(dir, {recursive: true})
    const key = name()
    return {dir, release: () => this.inUse.delete(key)}
  }
}
