import type {Build, BuildResult} from '../../protocols/ci/builds.js'
import type {StepAction} from '../../protocols/ci/worker-protocol.js'
import type {BuilderConfig, StepConfig} from './ci-master-config.js'
import type {BuildRequest} from './db/store.js'

/**
 * What a step does on the worker, for this build. A git step checks out the build's revision
 * (a change's, a trigger's, or one given with --property), else its branch, else the step's.
 */
export function stepAction(step: StepConfig, build: Build): StepAction {
  if (step.git) {
    const {revision, branch} = build.properties
    return {
      type: 'git',
      repository: step.git.repository,
      mode: step.git.mode,
      revision: revision || undefined,
      branch: branch || step.git.branch,
    }
  }
  if (step.trigger) return {type: 'trigger'}
  return {type: 'shell', run: step.run ?? ''}
}

/**
 * What a triggered build inherits: the triggering build's properties, its revision being the
 * one it checked out if it did (as Buildbot's Trigger step updates the source stamp), and
 * where it came from; the trigger's own properties win.
 */
export function triggeredProperties(parent: Build, own: Record<string, string>): Record<string, string> {
  const inherited: Record<string, string> = {...parent.properties}
  delete inherited.scheduler
  if (parent.properties.got_revision) inherited.revision = parent.properties.got_revision
  delete inherited.got_revision
  return {...inherited, triggered_by: String(parent.id), triggered_by_builder: parent.builder, ...own}
}

/** The builds a builder's `triggers` queue now that one of its builds ended with `result`. */
export function endTriggers(builder: BuilderConfig | undefined, build: Build, result: BuildResult): BuildRequest[] {
  if (!builder) return []
  const matches = (when: 'success' | 'failure' | 'always') =>
    when === 'always' || (when === 'success' && result === 'success') || (when === 'failure' && result === 'failure')
  return builder.triggers
    .filter((t) => matches(t.when))
    .flatMap((t) =>
      t.builders.map((name) => ({
        builder: name,
        reason: `build ${build.id} of ${build.builder} ended ${result}`,
        properties: triggeredProperties(build, t.properties),
      })),
    )
}
