import type {z} from 'zod'

/** An error the API answers with its status and a one-line message (and maybe a hint). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly hint?: string,
  ) {
    super(message)
  }
}

/**
 * A JSON request body validated by the schema; a 400 naming `what` and the first bad field
 * otherwise. An empty body reads as {}.
 */
export function parseJsonBody<T>(schema: z.ZodType<T>, raw: Buffer, what: string): T {
  let value: unknown = {}
  if (raw.length > 0) {
    try {
      value = JSON.parse(raw.toString('utf8'))
    } catch {
      throw new ApiError(400, `${what} is not valid JSON`)
    }
  }
  const result = schema.safeParse(value)
  if (!result.success) {
    const issue = result.error.issues[0]
    throw new ApiError(400, `invalid ${what}: ${issue.path.length ? `${issue.path.join('.')}: ` : ''}${issue.message}`)
  }
  return result.data
}
