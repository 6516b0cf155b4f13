import type {InstanceView} from '../daemons/runtime/instance-view.js'

/** What `tend top` passes to a kind's detail panel component. */
export interface PanelProps {
  instance: InstanceView
  /** Columns available to the panel. */
  width: number
  /**
   * Lines available to the panel: `tend top` cuts off what is taller, so a panel with a list
   * (builds, log lines) shows the most useful ones within this many. Absent outside `tend top`.
   */
  height?: number
}
