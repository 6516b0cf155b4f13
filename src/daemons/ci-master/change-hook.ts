import {z} from 'zod'
import {ApiError, parseJsonBody} from './api-error.js'
import type {Queued} from './db/store.js'

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

/** What turns a change into builds (the schedulers); a delivery id seen before queues nothing. */
export interface ChangeTrigger {
  onChange(change: Change, delivery?: string): Promise<Queued>
}

/** Headers senders put a unique delivery id in; redeliveries of one event repeat it. */
const DELIVERY_HEADERS = ['x-github-delivery', 'x-gitea-delivery', 'x-gogs-delivery', 'x-gitlab-event-uuid']

/**
 * The delivery id of a change-hook request, prefixed with its header so ids of different
 * senders never collide; undefined when the sender gave none. A malformed one is a 400.
 */
export function deliveryId(headers: Record<string, string | string[] | undefined>): string | undefined {
  for (const name of DELIVERY_HEADERS) {
    const value = headers[name]
    if (value === undefined) continue
    if (typeof value !== 'string' || !/^[\x21-\x7e]{1,200}$/.test(value))
      throw new ApiError(400, `${name} must be one printable token of at most 200 characters`)
    return `${name}:${value}`
  }
  return undefined
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
