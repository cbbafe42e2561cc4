/**
 * The Prisma-compatible `User` table: its migrations and a way to seed it.
 *
 * The table name is configurable (schema-qualified if needed) because real applications already
 * have their own; so are the column names, for tables that don't use Prisma's.
 *
 * @since 0.1.0
 */
import { Array as Arr, Effect, Layer, Schema } from "effect"
import * as Migrator from "effect/sql/Migrator"
import { SqlClient } from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"
import { fitIdentifier, quoteIdentifier } from "./internal/identifier.js"
import { type ColumnKey, type ResolvedTable, resolveTable } from "./internal/userTable.js"
import { type User, UserFromRow } from "./User.js"

/**
 * A column of the Prisma `User` model, by its Prisma name.
 *
 * @since 0.1.0
 * @category models
 */
export type UserTableColumn = ColumnKey

/**
 * Where the users live.
 *
 * @since 0.1.0
 * @category models
 */
export interface UserTableOptions {
  /**
   * `User` (the default), `app.users` or `"app"."users"`. Each part is used verbatim, case
   * included; quote a part that contains a dot. Each part may take up to 63 bytes (UTF-8), the
   * Postgres limit; a longer one is refused rather than truncated. Names derived from a long one
   * (constraints, bookkeeping tables) are shortened with a hash to fit.
   */
  readonly table?: string | undefined
  /** Actual column names, for a table whose columns are not named like Prisma's. */
  readonly columns?: Partial<Record<UserTableColumn, string>> | undefined
}

/**
 * Options of {@link migrate}.
 *
 * @since 0.1.0
 * @category models
 */
export interface MigrateOptions extends UserTableOptions {
  /**
   * The migrator's bookkeeping table. Defaults to `_<table>_migrations`, next to the user table
   * (shortened with a hash when that name would pass 63 bytes).
   */
  readonly migrationsTable?: string | undefined
  /** More migrations, keyed `<id>_<name>` (ids above those of {@link migrations}), e.g. opt-in triggers. */
  readonly extra?: Readonly<Record<string, Effect.Effect<void, unknown, SqlClient>>> | undefined
}

/**
 * The migrations of the user table, keyed `<id>_<name>` as `Migrator.fromRecord` expects.
 * `1_create_user_table` creates the table (and its schema) if it does not exist yet.
 *
 * @since 0.1.0
 * @category migrations
 */
export const migrations = (
  options?: UserTableOptions
): Readonly<Record<string, Effect.Effect<void, SqlError, SqlClient>>> => {
  const table = resolveTable(options ?? {})
  return { "1_create_user_table": createTable(table) }
}

const createTable = (table: ResolvedTable): Effect.Effect<void, SqlError, SqlClient> =>
  Effect.gen(function* () {
    const sql = yield* SqlClient
    const c = table.column
    // Named like Postgres would name them, shortened (with a hash) where the table's name is long.
    const constraint = (suffix: string) => quoteIdentifier(fitIdentifier(`${table.name.name}_${suffix}`))
    if (table.name.schema !== undefined) {
      yield* sql.unsafe(`CREATE SCHEMA IF NOT EXISTS ${quoteIdentifier(table.name.schema)}`)
    }
    yield* sql.unsafe(
      `CREATE TABLE IF NOT EXISTS ${table.quoted} (
  ${c.id} text NOT NULL,
  ${c.email} text NOT NULL,
  ${c.emailVerified} boolean NOT NULL DEFAULT true,
  ${c.name} text,
  ${c.createdAt} timestamptz NOT NULL DEFAULT now(),
  ${c.updatedAt} timestamptz NOT NULL DEFAULT now(),
  ${c.metadata} jsonb NOT NULL DEFAULT '{}',
  CONSTRAINT ${constraint("pkey")} PRIMARY KEY (${c.id}),
  CONSTRAINT ${constraint("email_key")} UNIQUE (${c.email})
)`
    )
  })

const runMigrator = Migrator.make({})

/**
 * Applies the pending migrations of the user table with effect's `Migrator`, and returns those
 * it applied.
 *
 * @since 0.1.0
 * @category migrations
 */
export const migrate = (
  options?: MigrateOptions
): Effect.Effect<ReadonlyArray<readonly [id: number, name: string]>, Migrator.MigrationError | SqlError, SqlClient> =>
  Effect.suspend(() => {
    const table = resolveTable(options ?? {})
    const run = runMigrator({
      loader: Migrator.fromRecord({ ...migrations(options), ...options?.extra }),
      table: table.migrationsTable
    })
    // The bookkeeping table lives next to the user table, so its schema must exist before the migrator starts.
    const schema = table.name.schema
    if (schema === undefined) return run
    return Effect.gen(function* () {
      const sql = yield* SqlClient
      yield* sql.unsafe(`CREATE SCHEMA IF NOT EXISTS ${quoteIdentifier(schema)}`)
      return yield* run
    })
  })

/**
 * A layer that applies the migrations when it is built.
 *
 * @since 0.1.0
 * @category migrations
 */
export const layerMigrate = (
  options?: MigrateOptions
): Layer.Layer<never, Migrator.MigrationError | SqlError, SqlClient> => Layer.effectDiscard(migrate(options))

const encodeRow = Schema.encodeSync(UserFromRow)

/**
 * Inserts users, or updates those whose id already exists (seeding is idempotent).
 *
 * @since 0.1.0
 * @category seeding
 */
export const insertUsers = (
  users: Iterable<User>,
  options?: UserTableOptions
): Effect.Effect<void, SqlError, SqlClient> =>
  Effect.gen(function* () {
    const sql = (yield* SqlClient).withoutTransforms()
    const table = resolveTable(options ?? {})
    const c = table.column
    const columns = [c.id, c.email, c.emailVerified, c.name, c.createdAt, c.updatedAt, c.metadata].join(", ")
    const updates = [c.email, c.emailVerified, c.name, c.createdAt, c.updatedAt, c.metadata]
      .map((column) => `${column} = EXCLUDED.${column}`)
      .join(", ")
    for (const chunk of Arr.chunksOf(
      Array.from(users, (user) => encodeRow(user)),
      500
    )) {
      const values = chunk.map(
        (row) =>
          sql`(${row.id}, ${row.email}, ${row.emailVerified}, ${row.name ?? null}, ${row.createdAt}, ${
            row.updatedAt ?? row.createdAt
          }, ${JSON.stringify(row.metadata ?? {})}::jsonb)`
      )
      yield* sql`INSERT INTO ${sql.literal(table.quoted)} (${sql.literal(columns)}) VALUES ${sql.csv(values)}
ON CONFLICT (${sql.literal(c.id)}) DO UPDATE SET ${sql.literal(updates)}`
    }
  })
