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
