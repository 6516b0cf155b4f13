import type BetterSqlite3 from 'better-sqlite3'
import type {Pool, PoolClient} from 'pg'
import {StatementCache} from '../../../lib/statement-cache.js'

export type Dialect = 'sqlite' | 'postgres'

/**
 * The little SQL surface the CI daemons need, the same over better-sqlite3 and pg. Statements
 * use `?` placeholders (rewritten to `$n` for PostgreSQL); integers that can pass 2^31 are
 * BIGINT and come back as numbers; times are epoch milliseconds; booleans are 0/1.
 */
export interface Sql {
  readonly dialect: Dialect
  all<T>(sql: string, params?: readonly unknown[]): Promise<T[]>
  get<T>(sql: string, params?: readonly unknown[]): Promise<T | undefined>
  /** Runs a statement; resolves with the number of rows it changed. */
  run(sql: string, params?: readonly unknown[]): Promise<number>
  /** Runs fn in one transaction (BEGIN IMMEDIATE on SQLite), committing if it resolves. */
  transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T>
}

/** `?` to `$1, $2, ...`; our statements never hold a literal question mark. */
export function toPostgresPlaceholders(sql: string): string {
  let n = 0
  return sql.replace(/\?/g, () => `$${++n}`)
}

/** A promise-chain mutex: one SQLite transaction at a time, and no stray statement inside one. */
class Mutex {
  private tail: Promise<void> = Promise.resolve()

  async lock<T>(fn: () => Promise<T>): Promise<T> {
    const previous = this.tail
    let release!: () => void
    this.tail = new Promise((resolve) => (release = resolve))
    await previous
    try {
      return await fn()
    } finally {
      release()
    }
  }
}

/**
 * better-sqlite3 behind the async Sql interface. Statements are cached; every call waits for a
 * running transaction to end, so an unrelated statement can never land inside (and be rolled
 * back with) someone else's transaction.
 */
export class SqliteSql implements Sql {
  readonly dialect = 'sqlite' as const
  private readonly statements: StatementCache
  private readonly mutex = new Mutex()
  private readonly direct: Sql

  constructor(readonly db: BetterSqlite3.Database) {
    this.statements = new StatementCache(db)
    this.direct = {
      dialect: 'sqlite',
      all: async <T>(sql: string, params: readonly unknown[] = []) => this.statements.get(sql).all(...params) as T[],
      get: async <T>(sql: string, params: readonly unknown[] = []) => this.statements.get(sql).get(...params) as T | undefined,
      run: async (sql, params = []) => this.statements.get(sql).run(...params).changes,
      transaction: (fn) => fn(this.direct),
    }
  }

  all<T>(sql: string, params?: readonly unknown[]): Promise<T[]> {
    return this.mutex.lock(() => this.direct.all<T>(sql, params))
  }

  get<T>(sql: string, params?: readonly unknown[]): Promise<T | undefined> {
    return this.mutex.lock(() => this.direct.get<T>(sql, params))
  }

  run(sql: string, params?: readonly unknown[]): Promise<number> {
    return this.mutex.lock(() => this.direct.run(sql, params))
  }

  transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T> {
    return this.mutex.lock(async () => {
      this.statements.get('BEGIN IMMEDIATE').run()
      try {
        const result = await fn(this.direct)
        this.statements.get('COMMIT').run()
        return result
      } catch (error) {
        if (this.db.inTransaction) this.statements.get('ROLLBACK').run()
        throw error
      }
    })
  }
}

/** pg behind the Sql interface: statements go to the pool; a transaction holds one client. */
export class PostgresSql implements Sql {
  readonly dialect = 'postgres' as const

  /** inTransaction: target is the client of an open transaction, so nested calls join it. */
  constructor(
    private readonly target: Pool | PoolClient,
    private readonly inTransaction = false,
  ) {}

  async all<T>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
    const result = await this.target.query(toPostgresPlaceholders(sql), params as unknown[])
    return result.rows as T[]
  }

  async get<T>(sql: string, params?: readonly unknown[]): Promise<T | undefined> {
    return (await this.all<T>(sql, params))[0]
  }

  async run(sql: string, params: readonly unknown[] = []): Promise<number> {
    const result = await this.target.query(toPostgresPlaceholders(sql), params as unknown[])
    return result.rowCount ?? 0
  }

  async transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T> {
    if (this.inTransaction) return fn(this)
    const client = await (this.target as Pool).connect()
    try {
      await client.query('BEGIN')
      const result = await fn(new PostgresSql(client, true))
      await client.query('COMMIT')
      return result
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined)
      throw error
    } finally {
      client.release()
    }
  }
}
