/**
 * The benchmarks' Postgres: the tests' `TestDatabase` (the server of `DATABASE_URL` when it is set,
 * else embedded PGlite), in a fresh schema, reached through a loopback proxy that records every
 * statement the client sends. Seeding goes through the unrecorded admin connection.
 */
import { Context, Effect, Layer, type Scope } from "effect"
import type { PgClient } from "@effect/sql-pg"
import { SqlClient } from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"
import * as UserTable from "../src/UserTable.js"
import { TestDatabase } from "../test/support/TestDatabase.js"
import { lookupStatements, makeUser } from "./fixtures.js"

/** A database with the user table, and the services of its recorded client. */
export interface BenchDatabase {
  readonly db: TestDatabase["Service"]
  readonly services: Context.Context<TestDatabase | PgClient.PgClient | SqlClient>
  /** Statements sent by the client since the last `reset`, and how many of them looked users up. */
  readonly count: Effect.Effect<{ readonly statements: number; readonly lookups: number; readonly ids: number }>
  readonly reset: Effect.Effect<void>
  /** Inserts synthetic users `from` … `from + count - 1`, in multi-row statements of 500. */
  readonly seed: (from: number, count: number) => Effect.Effect<void, SqlError>
}

/** Opens the database for the current scope (the schema is dropped when it closes). */
export const openDatabase: Effect.Effect<BenchDatabase, unknown, Scope.Scope> = Effect.gen(function* () {
  const services = yield* Layer.build(TestDatabase.layer)
  const db = Context.get(services, TestDatabase)
  const table = `${db.schema}.User`
  const asAdmin = Effect.provideService(SqlClient, db.admin)
  yield* asAdmin(UserTable.migrate({ table }))
  const seed = (from: number, count: number): Effect.Effect<void, SqlError> =>
    Effect.gen(function* () {
      for (let start = from; start < from + count; start += 10_000) {
        const end = Math.min(from + count, start + 10_000)
        yield* asAdmin(
          UserTable.insertUsers(
            Array.from({ length: end - start }, (_, k) => makeUser(start + k)),
            { table }
          )
        )
      }
    })
  return {
    db,
    services,
    count: Effect.map(db.statements, (statements) => ({
      statements: statements.length,
      lookups: lookupStatements(statements),
      ids: statements.reduce((sum, statement) => {
        const ids = /= ANY\(\$1\)/.test(statement.sql) ? statement.params[0] : undefined
        return sum + (Array.isArray(ids) ? ids.length : 0)
      }, 0)
    })),
    reset: db.clearStatements,
    seed
  }
})
