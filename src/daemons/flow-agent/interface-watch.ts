/**
 * Watches OVSDB's interfaces and their OpenFlow port numbers (`ovsdb-client monitor`, as the
 * Neutron agent does), so a VM's port plugged in, a tunnel created or a port renumbered gets
 * its flows at once instead of at the next interval.
 */
import type {ChildProcess} from 'node:child_process'
import {watchCommand} from './command.js'

export class InterfaceWatch {
  private child: ChildProcess | undefined
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
    let initial = true
    let buffer = ''
    const child = watchCommand(
      'ovsdb-client',
      ['monitor', this.dbAddress, 'Open_vSwitch', 'Interface', 'name,ofport', '--format=json'],
      'stdout',
      (chunk) => {
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
      },
      (how) => {
        if (this.child !== child) return
        this.child = undefined
        if (!this.stopped) this.handlers.closed(`interface monitor exited (${how})`)
      },
    )
    this.child = child
  }

  stop(): void {
    this.stopped = true
    this.child?.kill('SIGTERM')
    this.child = undefined
  }
}
