import type {RingDevice} from '../../protocols/storage/ring.js'

/**
 * Which replicas of a database a replica of one of its entries updates: an object replica
 * tells the container's replicas, a container replica tells the account's.
 *
 * Each database replica should hear once per change. A device that holds a replica of
 * the database itself updates it locally, with no network hop (with as many devices as
 * replicas, that is every device). The other replicas share out the database replicas
 * nobody updates locally, in ring order. A handoff, having no place in the pairing,
 * tells every database replica.
 */
export function updateTargets(holders: readonly RingDevice[], databases: readonly RingDevice[], me: number): readonly RingDevice[] {
  if (!holders.some((d) => d.id === me)) return databases
  const local = databases.find((d) => d.id === me)
  if (local) return [local]
  const databaseIds = new Set(databases.map((d) => d.id))
  const covered = new Set(holders.filter((d) => databaseIds.has(d.id)).map((d) => d.id))
  const uncovered = databases.filter((d) => !covered.has(d.id))
  const remote = holders.filter((d) => !databaseIds.has(d.id))
  const index = remote.findIndex((d) => d.id === me)
  return uncovered.length === 0 ? [] : [uncovered[index % uncovered.length]]
}
