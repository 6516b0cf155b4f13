import type {InstanceView} from '../daemons/runtime/instance-view.js'

/** What `tend top` passes to a kind's detail panel component. */
export interface PanelProps {
  instance: InstanceView
  /** Columns available to the panel. */
  width: number
}
