/** Plain-text renderings for the `tend flow` commands (their --json output is the objects). */
import type {InstanceStatusDoc} from '../../daemons/runtime/instance-view.js'
import type {Explanation, FlowAgentDetails, SyncReport} from '../../daemons/flow-agent/status.js'

export function renderSyncReports(reports: SyncReport[], mode: 'diff' | 'sync'): string {
  const lines: string[] = []
  for (const r of reports) {
    const changed = r.added + r.modified + r.replaced + r.deleted
    const counts = `${r.added} missing, ${r.modified + r.replaced} different, ${r.deleted} stale`
    if (r.reset) lines.push(`${r.bridge}: reset: ${r.desired} flows re-added in one bundle (${r.durationMs} ms)`)
    else if (changed === 0) lines.push(`${r.bridge}: in sync, ${r.desired} flows (${r.durationMs} ms)`)
    else if (mode === 'diff') lines.push(`${r.bridge}: ${counts} of ${r.desired} flows`)
    else lines.push(`${r.bridge}: repaired ${counts} with ${r.flowMods} flow mods in one bundle (${r.durationMs} ms)`)
    if (!r.reset) lines.push(...r.changes.map((c) => `  ${c}`))
    const more = changed - r.changes.length
    if (!r.reset && more > 0) lines.push(`  ... and ${more} more`)
  }
  return lines.join('\n')
}

export function renderAgentStatus(doc: InstanceStatusDoc): string {
  const details = doc.details as FlowAgentDetails | undefined
  const lines = [`${doc.name}: ${doc.healthy ? 'healthy' : 'unhealthy'}, ${doc.summary}`]
  if (details?.model) lines.push(`model: ${details.model}${details.host ? `, host ${details.host}` : ''}`)
  if (details?.modelError) lines.push(`model error (last good model kept): ${details.modelError}`)
  const tunnels = details?.infrastructure?.ports.filter((p) => p.type === 'vxlan' || p.type === 'geneve') ?? []
  if (tunnels.length) lines.push(`tunnels: ${tunnels.map((t) => t.name).join(', ')}`)
  if (details?.infrastructure?.error) lines.push(`infrastructure error: ${details.infrastructure.error}`)
  for (const b of details?.bridges ?? []) {
    lines.push(
      `${b.name} (${b.address}): ${b.connected ? 'connected' : 'unreachable'}, ${b.desired} flows desired, ${b.installed} installed, ` +
        `drift ${b.driftFound} found / ${b.driftRepaired} repaired, last sync ${b.lastSyncAt ?? 'never'}${b.lastSyncMs === null ? '' : ` (${b.lastSyncMs} ms, ${b.lastSyncReason})`}`,
    )
    if (b.missingInterfaces.length) lines.push(`  interfaces not on the switch (their flows wait): ${b.missingInterfaces.join(', ')}`)
    if (b.error) lines.push(`  error: ${b.error}`)
  }
  return lines.join('\n')
}

export function renderExplanation(e: Explanation): string {
  const lines = [
    `${e.port} → ${e.packet.replace(/^in_port=\d+,/, '')} (${e.conntrack === 'new' ? 'first packet of a new connection' : 'established connection'})`,
  ]
  for (const step of e.steps) {
    const what = step.match === null ? 'no flow matched' : `${step.match || '(any)'}, priority ${step.priority}`
    lines.push(
      `  ${step.bridge} table ${String(step.table).padStart(2)}${step.name ? ` ${step.name}` : ''}: ${what} → ${step.actions.join(',') || 'nothing'}`,
    )
  }
  if (e.verdict === 'dropped' && e.drop)
    lines.push(`dropped in ${e.drop.bridge} table ${e.drop.table}${e.drop.name ? ` (${e.drop.name})` : ''}: ${e.drop.reason}`)
  else if (e.verdict === 'dropped') lines.push('dropped')
  else lines.push(`forwarded: ${e.outputs.join('; ') || e.datapathActions}`)
  return lines.join('\n')
}
