import type Database from 'better-sqlite3'

/**
 * Each distinct SQL text prepared once per database: a better-sqlite3 statement is reusable,
 * and preparing costs far more than running a small query.
 */
export class StatementCache {
  private readonly statements = new Map<string, Database.Statement>()

  constructor(private readonly db: Database.Database) {}

  get(sql: string): Database.Statement {
    let statement = this.statements.get(sql)
    if (!statement) {
      statement = this.db.prepare(sql)
      this.statements.set(sql, statement)
    }
    return statement
  }
}
