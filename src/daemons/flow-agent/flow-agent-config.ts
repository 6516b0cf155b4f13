import {z} from 'zod'
import {duration} from '../../lib/units.js'

/** The flow-agent's instance config (stack file `config:` or `tend daemon run --config`). */
export const flowAgentConfig = z
  .object({
    /** The network model file (YAML or JSON). Without one, the model is pushed with PUT /model. */
    model: z.string().min(1).optional(),
    /** A shared file of hosts (`hosts:` as in the model) joined to the model's. */
    hosts_file: z.string().min(1).optional(),
    /** This agent's host in a multi-host model (ports with this `host` are plugged in here). Default: the machine's hostname. */
    host: z.string().min(1).optional(),
    /** The owner tag in the top 16 bits of every flow cookie: flows with another tag are foreign. */
    cookie: z.number().int().min(1).max(0xffff).default(0x7e4d),
    /** How often to re-read the switch and repair drift the flow monitor did not report. */
    interval: duration({min: '200ms'}).prefault('10s'),
    /** Replace every flow on the bridges (foreign ones too) at the first sync, in one bundle. */
    reset_flows: z.boolean().default(false),
    /** Watch the flow tables (ovs-ofctl monitor) to repair drift as it happens. */
    watch: z.boolean().default(true),
    ovs: z
      .object({
        /** Where the bridges' management sockets (<bridge>.mgmt) are. */
        rundir: z.string().min(1).default('/var/run/openvswitch'),
        /** Per-bridge OpenFlow addresses that override rundir, e.g. {br0: 'tcp:127.0.0.1:6653'}. */
        addresses: z.record(z.string(), z.string().min(1)).default({}),
        /** OVSDB, where tunnel, patch and NIC ports are created and interfaces watched. Default: unix:<rundir>/db.sock. */
        db: z.string().min(1).optional(),
        /**
         * Run a private ovsdb-server and ovs-vswitchd in the data dir, in a network namespace of
         * their own, and create the model's bridges there (netdev datapath). Needs root.
         */
        managed: z.boolean().default(false),
        /** With managed: the network namespace it runs in (created if missing, and then left); default tend-flow-<hash of the data dir>. */
        netns: z
          .string()
          .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'expected a namespace name of letters, digits, ".", "_" or "-"')
          .optional(),
        /** With managed: leave the switch running when the agent stops (a crash or a restart always does). */
        keep_running: z.boolean().default(false),
        timeout: duration({min: '1s'}).prefault('60s'),
      })
      .strict()
      .prefault({}),
  })
  .strict()

export type FlowAgentConfig = z.infer<typeof flowAgentConfig>
