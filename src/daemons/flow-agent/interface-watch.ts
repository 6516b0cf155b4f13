/**
 * Watches OVSDB's interfaces and their OpenFlow port numbers (`ovsdb-client monitor`, as the
 * Neutron agent does), so a VM's port plugged in, a tunnel created or a port renumbered gets
 * its flows at once instead of at the next interval.
 */
import {execa, type ResultPromise} from 'execa'

export class InterfaceWatch {
  private child: ResultPromise | undefined
  private stopped = false

  constructor(
    private readonly dbAddress: string,
    private readonly handlers: {changed: () => void; closed: (reason: string) => void},
  ) {}

  get running(): boolean {
    return this.child !== undefined
  }

  start(): void {
    this.stopped = false
    const child = execa('ovsdb-client', ['monitor', this.dbAddress, 'Open_vSwitch', 'Interface', 'name,ofport', '--format=json'], {
      reject: false,
      stdin: 'ignore',
      buffer: false,
    })
    this.child = child
    let initial = true
    let buffer = ''
    child.stdout?.setEncoding('utf8')
    child.stdout?.on('data', (chunk: string) => {
      buffer += chunk
      const end = buffer.lastIndexOf('\n')
      if (end < 0) return
      const lines = buffer.slice(0, end).split('\n').filter(Boolean)
      buffer = buffer.slice(end + 1)
      // The first update is the table as it is; every later one is a change.
      if (initial) {
        initial = false
        lines.shift()
      }
      if (lines.length) this.handlers.changed()
    })
    void child.then((result) => {
      if (this.child !== child) return
      this.child = undefined
      if (!this.stopped) this.handlers.closed(`interface monitor exited (${result.exitCode ?? result.signal})`)
    })
  }

  stop(): void {
    this.stopped = true
    this.child?.kill('SIGTERM')
    this.child = undefined
  }
}
