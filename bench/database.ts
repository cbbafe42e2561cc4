/**
 * The benchmarks' Postgres: the tests' `TestDatabase` (the server of `DATABASE_URL` when it is set,
 * else embedded PGlite), in a fresh schema, reached through a loopback proxy that records every
 * statement the client sends. Seeding goes through the unrecorded admin connection.
 */
import { Context, Effect, Layer, Redacted, type Scope } from "effect"
import { PgClient } from "@effect/sql-pg"
import type { ConfigError } from "effect/Config"
import { SqlClient } from "effect/sql/SqlClient"
import * as Statement from "effect/sql/Statement"
import type { SqlError } from "effect/sql/SqlError"
import * as UserTable from "../src/UserTable.js"
import { TestDatabase } from "../test/support/TestDatabase.js"
import { isLookupSql, lookupStatements, makeUser } from "./fixtures.js"

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
        const ids = isLookupSql(statement.sql) ? statement.params[0] : undefined
        return sum + (Array.isArray(ids) ? ids.length : 0)
      }, 0)
    })),
    reset: db.clearStatements,
    seed
  }
})

/**
 * A client of the bench database that does not go through the recording proxy, so that the proxy's
 * work (decoding every message, in this process) is not measured with the library's: a direct
 * connection to the external server. Embedded PGlite runs in this process whatever the door, so
 * there it is the recorded client.
 */
export const directClient = (
  database: BenchDatabase
): Layer.Layer<PgClient.PgClient | SqlClient, SqlError | ConfigError> =>
  database.db.kind === "external"
    ? PgClient.layer({
        url: Redacted.make(process.env["DATABASE_URL"] ?? ""),
        startupParameters: { search_path: `"${database.db.schema}"` }
      })
    : Layer.succeedContext(database.services)

/** Statements run by fibers under {@link StatementCounter.counting}, and the ids they asked for. */
export interface StatementCounter {
  readonly statements: number
  readonly ids: number
  /** The text of the last user lookup statement seen. */
  readonly lookupSql: string | undefined
  readonly counting: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
}

/**
 * Counts the statements of a client without a proxy: a `Statement.CurrentTransformer` that counts
 * each statement (and the ids of a user lookup's `= ANY($1…)`) before it runs. Lookups run in
 * fibers that inherit the caller's services, so providing it to the callers covers their batches.
 */
export const statementCounter = (): StatementCounter => {
  const counter: { statements: number; ids: number; lookupSql: string | undefined } = {
    statements: 0,
    ids: 0,
    lookupSql: undefined
  }
  const transformer: Statement.Transformer = (statement) => {
    counter.statements++
    const [sql, params] = statement.compile()
    if (isLookupSql(sql)) {
      counter.lookupSql = sql
      const ids = params[0]
      if (Array.isArray(ids)) counter.ids += ids.length
    }
    return Effect.succeed(statement)
  }
  return {
    get statements() {
      return counter.statements
    },
    get ids() {
      return counter.ids
    },
    get lookupSql() {
      return counter.lookupSql
    },
    counting: (effect) => Effect.provideService(effect, Statement.CurrentTransformer, transformer)
  }
}
