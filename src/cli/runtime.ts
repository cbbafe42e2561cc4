/**
 * The layers a command runs on: the user table's database (a URL, or the embedded Postgres), the
 * context cache, and the LaunchDarkly client; each built, used and released within a bound.
 *
 * @since 0.2.0
 */
import { format } from "node:util"
import { PgClient } from "@effect/sql-pg"
import type { LDLogger } from "@launchdarkly/node-server-sdk"
import { type Context, Effect, Fiber, Layer, Predicate, Scope } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"
import { ContextBuilder } from "../ContextBuilder.js"
import { ContextCache } from "../ContextCache.js"
import { FlagClient } from "../FlagClient.js"
import { optionalColumns } from "../internal/pgUserTable.js"
import { type ColumnKey, resolveTable } from "../internal/userTable.js"
import { UserRepo } from "../UserRepo.js"
import * as UserTable from "../UserTable.js"
import { type CliFailure, DatabaseError, FlagSourceError, InvalidOption } from "./Errors.js"
import { checkFlagsFile } from "./FlagsFile.js"
import { missingPackageMessage } from "./Requirements.js"
import { type Database, displayPath, type FlagSource, type Settings } from "./settings.js"
import { loadUsersFile, seedUsers, type UsersFile } from "./UsersFile.js"

const sqlProblem = (error: SqlError): string => {
  const cause: unknown = error.reason.cause
  return Predicate.hasProperty(cause, "message") && Predicate.isString(cause.message) && cause.message !== ""
    ? cause.message
    : error.message
}

/**
 * A `SqlError` as the `DatabaseError` a person reads: connecting, or the action that failed.
 *
 * @since 0.2.0
 */
export const databaseError = (database: Database, action: string) => (error: SqlError) =>
  new DatabaseError({
    address: database.address,
    action: error.reason._tag === "ConnectionError" || error.reason._tag === "AuthenticationError" ? "connect" : action,
    problem: sqlProblem(error)
  })

/**
 * The repository's options: the table and its columns, `null` for one the table does not have
 * (only `emailVerified`, `name`, `updatedAt` and `metadata` may be absent).
 *
 * @since 0.2.0
 */
export const repoOptions = (
  settings: Settings
): Effect.Effect<{ readonly table: string | undefined; readonly columns: UserRepo.Columns }, InvalidOption> => {
  const columns: Record<string, string | null> = {}
  for (const [key, name] of Object.entries(settings.columns) as Array<[ColumnKey, string | null | undefined]>) {
    if (name === undefined) continue
    if (name === null && !optionalColumns.has(key)) {
      return Effect.fail(
        new InvalidOption({ option: `--column ${key}=`, problem: `the table must have its ${key} column; name it` })
      )
    }
    columns[key] = name
  }
  return Effect.succeed({ table: settings.table, columns: columns as UserRepo.Columns })
}

/**
 * The options of `UserTable` (creating and seeding the table): every column has a name.
 *
 * @since 0.2.0
 */
export const tableOptions = (settings: Settings): Effect.Effect<UserTable.UserTableOptions, InvalidOption> => {
  const columns: Partial<Record<ColumnKey, string>> = {}
  for (const [key, name] of Object.entries(settings.columns) as Array<[ColumnKey, string | null | undefined]>) {
    if (name === null) {
      return Effect.fail(
        new InvalidOption({
          option: `--column ${key}=`,
          problem:
            "the tool creates and seeds only tables with every column of the User model; create this one yourself"
        })
      )
    }
    if (name !== undefined) columns[key] = name
  }
  return Effect.succeed({ table: settings.table, columns })
}

/** How to create the table, said in the words of the command line. */
const createHint = (settings: Settings): string =>
  `create it with \`effect-flag-context setup --database-url URL${
    settings.table === undefined ? "" : ` --table ${settings.table}`
  }\` (or add --seed to create it and load --users into it)`

// Connects, and checks that the table exists. Creates it only when asked (--seed, `setup`, or on the
// embedded database): against a user's database every other command is read-only. Seeds when asked.
const prepareTable = Effect.fn("Cli.prepareTable")(function* (settings: Settings, users: UsersFile | undefined) {
  const { database } = settings
  const sql = yield* SqlClient
  yield* sql`SELECT 1`.pipe(Effect.mapError(databaseError(database, "connect")))
  const table = yield* Effect.try({
    try: () => resolveTable({ table: settings.table }),
    catch: (error) =>
      new InvalidOption({ option: "--table", problem: error instanceof Error ? error.message : String(error) })
  })
  const [found] = yield* sql<{
    readonly found: boolean
  }>`SELECT to_regclass(${table.quoted}) IS NOT NULL AS found`.pipe(
    Effect.mapError(databaseError(database, "look up the user table"))
  )
  if (found?.found !== true) {
    if (!settings.createTable) {
      return yield* new DatabaseError({
        address: database.address,
        action: `read the user table ${table.quoted}`,
        problem: `it does not exist; ${createHint(settings)}`
      })
    }
    // The migrator creates its bookkeeping table (next to the user table) before the first
    // migration can create the schema, so the schema has to exist first.
    const schema = table.name.schema
    if (schema !== undefined) {
      yield* sql`CREATE SCHEMA IF NOT EXISTS ${sql(schema)}`.pipe(
        Effect.mapError(databaseError(database, `create the schema ${schema}`))
      )
    }
    yield* UserTable.migrate(yield* tableOptions(settings)).pipe(
      Effect.mapError((error) =>
        error._tag === "SqlError"
          ? databaseError(database, `create the user table ${table.quoted}`)(error)
          : new DatabaseError({
              address: database.address,
              action: `create the user table ${table.quoted}`,
              problem: error.message
            })
      )
    )
    if (database._tag === "External") {
      yield* Effect.logInfo(
        `created the user table ${table.quoted}${users === undefined ? "; it is empty (add --seed to load --users into it)" : ""}`
      )
    }
  }
  if (users !== undefined) {
    yield* seedUsers(users, yield* tableOptions(settings)).pipe(
      Effect.mapError(databaseError(database, `seed the user table from ${displayPath(users.path)}`))
    )
  }
})

const sqlLayer = (database: Database) =>
  database._tag === "External"
    ? PgClient.layer({
        url: database.url,
        connectTimeout: "5 seconds",
        maxConnections: 4,
        applicationName: "effect-flag-context-cli"
      })
    : Layer.unwrap(
        Effect.gen(function* () {
          // Loaded on demand: PGlite is only needed without --database-url, and is an optional peer.
          const embedded = yield* Effect.tryPromise({
            try: () => import("../embedded.js"),
            catch: (error) =>
              new DatabaseError({
                address: database.address,
                action: "start",
                problem: missingPackageMessage(error) ?? String(error)
              })
          })
          // The embedded layer starts from this machine's prepared template (made on first use).
          return embedded.layerPgClient()
        })
      )

const contextLayer = (settings: Settings, users: UsersFile | undefined) =>
  ContextCache.layer(settings.cache).pipe(
    Layer.provideMerge(ContextBuilder.layer(settings.rules)),
    Layer.provideMerge(
      Layer.unwrap(Effect.map(repoOptions(settings), (options) => UserRepo.layerPg(options))).pipe(
        Layer.provide(Layer.effectDiscard(prepareTable(settings, users))),
        Layer.provide(sqlLayer(settings.database))
      )
    )
  )

/**
 * Where the flags come from, in words.
 *
 * @since 0.2.0
 */
export const flagSourceName = (source: FlagSource): string =>
  source._tag === "File"
    ? `the flags file ${displayPath(source.path)}`
    : source._tag === "SdkKey"
      ? "the LaunchDarkly project of the SDK key"
      : "no flag source"

/** What the layers can fail with, said so that a person can act on it. */
export const explainFailures =
  (settings: Settings) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    Effect.catchIf(
      effect,
      (error: E) =>
        Predicate.hasProperty(error, "_tag") && typeof error._tag === "string" && error._tag in explanations,
      (error) => Effect.fail(explain(settings, error))
    )

const explanations = {
  EmbeddedPostgresError: true,
  FlagClientInitError: true,
  SqlError: true,
  MigrationError: true,
  UserTableMisconfigured: true
} as const

const explain = (settings: Settings, error: unknown): CliFailure => {
  const tag = Predicate.hasProperty(error, "_tag") ? error._tag : undefined
  const message = error instanceof Error ? error.message : String(error)
  const cause = Predicate.hasProperty(error, "cause") ? error.cause : undefined
  const detail = cause instanceof Error ? `: ${cause.message}` : ""
  switch (tag) {
    case "FlagClientInitError":
      return new FlagSourceError({
        problem: `LaunchDarkly did not initialize from ${flagSourceName(settings.flags)}${detail}${
          settings.flags._tag === "SdkKey" ? " (check --sdk-key / LAUNCHDARKLY_SDK_KEY and the network)" : ""
        }`
      })
    case "EmbeddedPostgresError":
      return new DatabaseError({ address: settings.database.address, action: "start", problem: `${message}${detail}` })
    case "UserTableMisconfigured":
      return new DatabaseError({
        address: settings.database.address,
        action: "use the user table",
        problem: `${message} (the tool's option: --table, --column key=column; \`check\` shows every column)`
      })
    default:
      return new DatabaseError({
        address: settings.database.address,
        action: "prepare the user table",
        problem: message
      })
  }
}

const SHUTDOWN_LIMIT = "10 seconds"

/**
 * Provides `layer` to `body`, then releases it; a release that hangs (a connection that never
 * closes) is left behind after {@link SHUTDOWN_LIMIT} rather than keeping the process alive.
 */
export const provideBounded = <ROut, E2, RIn, A, E, R>(
  layer: Layer.Layer<ROut, E2, RIn>,
  body: Effect.Effect<A, E, R>
) =>
  Effect.acquireUseRelease(
    Scope.make(),
    (scope) => Effect.flatMap(Layer.buildWithScope(layer, scope), (context) => Effect.provideContext(body, context)),
    (scope, exit) =>
      Effect.interruptible(
        Effect.flatMap(Effect.forkDetach(Scope.close(scope, exit)), (closing) =>
          Effect.timeoutOrElse(Fiber.join(closing), {
            duration: SHUTDOWN_LIMIT,
            orElse: () => Effect.logWarning(`shutting down took longer than ${SHUTDOWN_LIMIT}; exiting anyway`)
          })
        )
      )
  )

/** Runs `body` with the database alone: the table is prepared (created only when allowed, seeded when asked). */
export const withTable = Effect.fnUntraced(function* <A, E, R>(settings: Settings, body: Effect.Effect<A, E, R>) {
  const users = settings.seed ? yield* loadUsersFile(settings.usersFile) : undefined
  const layer = Layer.effectDiscard(prepareTable(settings, users)).pipe(Layer.provideMerge(sqlLayer(settings.database)))
  return yield* provideBounded(layer, body).pipe(explainFailures(settings))
})

/** Runs `body` with a connection to the database and nothing else: no table is created or read. */
export const withDatabase = <A, E, R>(settings: Settings, body: Effect.Effect<A, E, R>) =>
  provideBounded(sqlLayer(settings.database), body).pipe(explainFailures(settings))

/** Runs `body` with the context services (no LaunchDarkly client). */
export const withContexts = Effect.fnUntraced(function* <A, E, R>(settings: Settings, body: Effect.Effect<A, E, R>) {
  const users = settings.seed ? yield* loadUsersFile(settings.usersFile) : undefined
  return yield* provideBounded(contextLayer(settings, users), body).pipe(explainFailures(settings))
})

/**
 * The SDK's own log lines, at `Debug`: what they say (an unknown flag, a failed start) the tool
 * reports itself; `--log-level debug` shows them.
 */
export const sdkLogger = (context: Context.Context<never>): LDLogger => {
  const run = Effect.runForkWith(context)
  const log = (...args: ReadonlyArray<unknown>): void => {
    run(Effect.annotateLogs(Effect.logDebug(format(...args)), "source", "launchdarkly-sdk"))
  }
  return { error: log, warn: log, info: log, debug: log }
}

/** Runs `body` with the context services and the LaunchDarkly client; returns the keys of a flags file. */
export const withFlags = Effect.fnUntraced(function* <A, E, R>(
  settings: Settings,
  body: (fileKeys: ReadonlyArray<string> | undefined) => Effect.Effect<A, E, R>,
  loaded?: UsersFile
) {
  const source = settings.flags
  if (source._tag === "None") {
    return yield* new FlagSourceError({
      problem:
        "no flags to evaluate: pass --flags-file FILE or --sdk-key KEY (or set LAUNCHDARKLY_FLAGS_FILE or LAUNCHDARKLY_SDK_KEY)"
    })
  }
  const fileKeys = source._tag === "File" ? yield* checkFlagsFile(source.path) : undefined
  const users = settings.seed ? (loaded ?? (yield* loadUsersFile(settings.usersFile))) : undefined
  const logger = sdkLogger(yield* Effect.context<never>())
  const layer = FlagClient.layerWith({
    ...settings.flagOptions,
    sdkOptions: { ...settings.flagOptions.sdkOptions, logger }
  }).pipe(Layer.provideMerge(contextLayer(settings, users)))
  return yield* provideBounded(layer, body(fileKeys)).pipe(explainFailures(settings))
})
