import {z} from 'zod'
import type {Build} from '../../protocols/ci/builds.js'
import {parseJsonBody} from './api-error.js'

/** A pushed revision, from the HTTP change hook or a git poller. */
export interface Change {
  /** "org/repo" for GitHub payloads; the URL or path for pollers. */
  repository: string
  /** Other names the repository goes by (clone and web URLs), for scheduler filters. */
  aliases: string[]
  branch: string
  revision: string
  author: string | null
  comments: string | null
}

/** What turns a change into builds (the schedulers). */
export interface ChangeTrigger {
  onChange(change: Change): Promise<Build[]>
}

const pushPayload = z.object({
  ref: z.string(),
  after: z.string().regex(/^[0-9a-f]{7,64}$/, 'after: expected a commit id'),
  deleted: z.boolean().optional(),
  repository: z.object({
    full_name: z.string().min(1),
    clone_url: z.string().optional(),
    html_url: z.string().optional(),
    ssh_url: z.string().optional(),
  }),
  head_commit: z
    .object({
      message: z.string().optional(),
      author: z.object({name: z.string().optional()}).partial().optional(),
    })
    .nullable()
    .optional(),
  pusher: z.object({name: z.string().optional()}).partial().optional(),
})

const NULL_COMMIT = /^0+$/

/**
 * Reads a GitHub-style push event. Tag pushes and branch deletions yield a change with an empty
 * branch or revision, which no scheduler matches.
 */
export function parsePushPayload(raw: Buffer): Change {
  const p = parseJsonBody(pushPayload, raw, 'push payload')
  const deleted = p.deleted === true || NULL_COMMIT.test(p.after)
  return {
    repository: p.repository.full_name,
    aliases: [p.repository.clone_url, p.repository.html_url, p.repository.ssh_url].filter((u): u is string => Boolean(u)),
    branch: p.ref.startsWith('refs/heads/') ? p.ref.slice('refs/heads/'.length) : '',
    revision: deleted ? '' : p.after,
    author: p.head_commit?.author?.name ?? p.pusher?.name ?? null,
    comments: p.head_commit?.message ?? null,
  }
}
