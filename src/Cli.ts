/**
 * The `effect-flag-context` command-line tool: the contexts this library builds and the flags they
 * get, from a terminal, on the same layers an application uses.
 *
 * Without `--database-url` it runs on an embedded Postgres seeded from the example users, with the
 * example flags and rules, so that `npm start` needs no server and no SDK key.
 *
 * @since 0.1.0
 */
import { existsSync, readFileSync } from "node:fs"
import { dirname, join, relative, sep } from "node:path"
import { format } from "node:util"
import { fileURLToPath } from "node:url"
import { PgClient } from "@effect/sql-pg"
import type { LDEvaluationReason, LDLogger } from "@launchdarkly/node-server-sdk"
import {
  Cause,
  Config,
  Console,
  type Context,
  type Duration,
  Effect,
  Fiber,
  Layer,
  Logger,
  Option,
  Predicate,
  Redacted,
  References,
  Schema,
  Scope
} from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { SqlClient } from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"
import {
  BadUserId,
  type CliFailure,
  DatabaseError,
  FlagNotEvaluated,
  FlagSourceError,
  InvalidOption
} from "./cli/Errors.js"
import { freshDataDir } from "./cli/EmbeddedTemplate.js"
import { checkFlagsFile } from "./cli/FlagsFile.js"
import { renderTable } from "./cli/Table.js"
import { loadUsersFile, seedUsers, type UsersFile } from "./cli/UsersFile.js"
import { ContextBuilder, rulesConfig } from "./ContextBuilder.js"
import { ContextCache, type ContextCacheOptions, contextCacheConfig } from "./ContextCache.js"
import { type Evaluation, type Fallback, FlagClient, type FlagClientOptions, flagClientConfig } from "./FlagClient.js"
import { resolveTable } from "./internal/userTable.js"
import {
  idOnlyContext,
  makeRules,
  type RequestAttributes,
  type SegmentationRules,
  type UserContext,
  withRequestAttributes
} from "./Segmentation.js"
import type { Json, UserId } from "./User.js"
import { UserRepo, validateUserId } from "./UserRepo.js"
import * as UserTable from "./UserTable.js"

// ---------------------------------------------------------------------------------------------
// Defaults
// ---------------------------------------------------------------------------------------------

const isOwnManifest = (path: string): boolean => {
  try {
    const manifest: unknown = JSON.parse(readFileSync(path, "utf8"))
    return Predicate.hasProperty(manifest, "name") && manifest.name === "effect-flag-context"
  } catch {
    return false
  }
}

// The package's directory, wherever the compiled module sits under it (dist/, or a test's build).
const packageRoot = ((): string => {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    if (existsSync(join(dir, "package.json")) && isOwnManifest(join(dir, "package.json"))) return dir
    const parent = dirname(dir)
    if (parent === dir) return fileURLToPath(new URL("..", import.meta.url))
    dir = parent
  }
})()

/**
 * This package's version, read from its `package.json`.
 *
 * @since 0.1.0
 * @category constants
 */
export const version: string = (() => {
  try {
    const manifest: unknown = JSON.parse(readFileSync(join(packageRoot, "package.json"), "utf8"))
    return Predicate.hasProperty(manifest, "version") && Predicate.isString(manifest.version)
      ? manifest.version
      : "0.0.0"
  } catch {
    return "0.0.0"
  }
})()

const examplesDir = join(packageRoot, "examples")

/**
 * The example data the tool runs on when no database is given: users, flags and rules.
 *
 * @since 0.1.0
 * @category constants
 */
export const examples = {
  usersFile: join(examplesDir, "users.json"),
  flagsFile: join(examplesDir, "flags.json"),
  employeeDomains: ["agpt.co"],
  systemUserIds: ["svc-billing"]
} as const

/** A path as a person would type it from the current directory. */
const displayPath = (path: string): string => {
  const fromHere = relative(process.cwd(), path)
  return fromHere.startsWith(`..${sep}`) || fromHere === "" ? path : fromHere
}

// ---------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------

const globalFlags = {
  databaseUrl: Flag.Redacted("database-url").pipe(
    Flag.withDescription(
      "Postgres URL of the user table (env DATABASE_URL, not read by `demo`). Without it: an embedded Postgres seeded from --users"
    ),
    Flag.optional
  ),
  table: Flag.String("table").pipe(
    Flag.withDescription('The user table: "User" (default), app.users, "app"."users"'),
    Flag.optional
  ),
  users: Flag.String("users").pipe(
    Flag.withMetavar("file"),
    Flag.withDescription("Users to seed the database with (default: the package's examples/users.json)"),
    Flag.optional
  ),
  seed: Flag.Boolean("seed").pipe(
    Flag.withDescription(
      "With --database-url: insert or update the users of --users in the table (the embedded database is always seeded)"
    ),
    Flag.withDefault(false)
  ),
  sdkKey: Flag.Redacted("sdk-key").pipe(
    Flag.withDescription("LaunchDarkly server-side SDK key (env LAUNCHDARKLY_SDK_KEY)"),
    Flag.optional
  ),
  flagsFile: Flag.String("flags-file").pipe(
    Flag.withMetavar("file"),
    Flag.withDescription(
      "JSON or YAML flags file for the SDK's file data source (env LAUNCHDARKLY_FLAGS_FILE; default on the embedded database: the package's examples/flags.json)"
    ),
    Flag.optional
  ),
  cacheTtl: Flag.String("cache-ttl").pipe(
    Flag.withMetavar("duration"),
    Flag.withSchema(Schema.DurationFromString),
    Flag.withDescription(
      'How long a loaded user is cached, e.g. "10 minutes" (env CONTEXT_CACHE_TTL; default 24 hours)'
    ),
    Flag.optional
  ),
  cacheCapacity: Flag.Int("cache-capacity").pipe(
    Flag.filter(
      (n) => n >= 1,
      (n) => `expected at least 1, got ${n}`
    ),
    Flag.withDescription("The most users cached (env CONTEXT_CACHE_CAPACITY; default 1000)"),
    Flag.optional
  ),
  employeeDomain: Flag.String("employee-domain").pipe(
    Flag.withDescription(
      "An email domain whose users get the `employee` segment; repeatable (env SEGMENT_EMPLOYEE_DOMAINS; example default agpt.co)"
    ),
    Flag.atLeast(0)
  ),
  systemUser: Flag.String("system-user").pipe(
    Flag.withDescription(
      "A user id that gets the `system` and `admin` segments; repeatable (env SEGMENT_SYSTEM_USER_IDS; example default svc-billing)"
    ),
    Flag.atLeast(0)
  )
}

interface Globals {
  readonly databaseUrl: Option.Option<Redacted.Redacted<string>>
  readonly table: Option.Option<string>
  readonly users: Option.Option<string>
  readonly seed: boolean
  readonly sdkKey: Option.Option<Redacted.Redacted<string>>
  readonly flagsFile: Option.Option<string>
  readonly cacheTtl: Option.Option<Duration.Duration>
  readonly cacheCapacity: Option.Option<number>
  readonly employeeDomain: ReadonlyArray<string>
  readonly systemUser: ReadonlyArray<string>
}

type Database =
  | { readonly _tag: "Embedded"; readonly address: string }
  | { readonly _tag: "External"; readonly address: string; readonly url: Redacted.Redacted<string> }

type FlagSource =
  | { readonly _tag: "File"; readonly path: string }
  | { readonly _tag: "SdkKey"; readonly key: Redacted.Redacted<string> }
  | { readonly _tag: "None" }

/** Everything a command runs with: the options, over the environment, over the defaults. */
interface Settings {
  readonly database: Database
  readonly table: string | undefined
  readonly usersFile: string
  /** Seed the table from `usersFile`: always on the embedded database, on request otherwise. */
  readonly seed: boolean
  readonly flags: FlagSource
  readonly flagOptions: FlagClientOptions
  readonly cache: ContextCacheOptions
  readonly rules: SegmentationRules
}

const env = (name: string) =>
  Config.option(Config.String(name)).pipe(
    Config.map(Option.flatMap((value) => (value.trim().length > 0 ? Option.some(value.trim()) : Option.none())))
  )

const configError = (error: Config.ConfigError) =>
  new InvalidOption({ option: "configuration", problem: error.message.replace(/\s*\n\s*/g, " ") })

const externalDatabase = (url: Redacted.Redacted<string>, option: string): Effect.Effect<Database, InvalidOption> =>
  Effect.try({
    try: () => {
      const parsed = new URL(Redacted.value(url))
      if (parsed.protocol !== "postgres:" && parsed.protocol !== "postgresql:") throw new Error(parsed.protocol)
      const host = parsed.hostname === "" ? "localhost" : parsed.hostname
      return { _tag: "External", address: `${host}:${parsed.port === "" ? "5432" : parsed.port}`, url } as const
    },
    // The URL may hold a password: never print it.
    catch: () => new InvalidOption({ option, problem: "expected a URL such as postgres://user@host:5432/database" })
  })

const resolveSettings = Effect.fn("Cli.resolveSettings")(function* (globals: Globals, command: "demo" | "other") {
  const fromEnv = yield* Config.all({
    databaseUrl: Config.option(Config.Redacted("DATABASE_URL")),
    employeeDomains: env("SEGMENT_EMPLOYEE_DOMAINS"),
    systemUserIds: env("SEGMENT_SYSTEM_USER_IDS"),
    rules: Config.all(rulesConfig()),
    cache: contextCacheConfig,
    flagClient: flagClientConfig
  }).pipe(Effect.mapError(configError))

  // `demo` is what `npm start` runs: it does not pick up a DATABASE_URL from the shell.
  const envUrl =
    command === "demo" ? Option.none() : Option.filter(fromEnv.databaseUrl, (url) => Redacted.value(url).trim() !== "")
  const database: Database = Option.isSome(globals.databaseUrl)
    ? yield* externalDatabase(globals.databaseUrl.value, "--database-url")
    : Option.isSome(envUrl)
      ? yield* externalDatabase(envUrl.value, "DATABASE_URL")
      : { _tag: "Embedded", address: "embedded Postgres" }
  const useExamples = database._tag === "Embedded" || command === "demo"

  const flags: FlagSource = Option.isSome(globals.flagsFile)
    ? { _tag: "File", path: globals.flagsFile.value }
    : Option.isSome(globals.sdkKey)
      ? { _tag: "SdkKey", key: globals.sdkKey.value }
      : fromEnv.flagClient.flagsFile !== undefined
        ? { _tag: "File", path: fromEnv.flagClient.flagsFile }
        : fromEnv.flagClient.sdkKey !== undefined
          ? { _tag: "SdkKey", key: fromEnv.flagClient.sdkKey }
          : useExamples
            ? { _tag: "File", path: examples.flagsFile }
            : { _tag: "None" }

  const pick = (
    cli: ReadonlyArray<string>,
    fromEnvSet: boolean,
    configured: ReadonlyArray<string>,
    example: ReadonlyArray<string>
  ) => {
    const given = cli.map((value) => value.trim()).filter((value) => value.length > 0)
    return given.length > 0 ? given : fromEnvSet || !useExamples ? configured : example
  }
  const rules = makeRules({
    ...fromEnv.rules,
    employeeDomains: pick(
      globals.employeeDomain,
      Option.isSome(fromEnv.employeeDomains),
      fromEnv.rules.employeeDomains,
      examples.employeeDomains
    ),
    systemUserIds: pick(
      globals.systemUser,
      Option.isSome(fromEnv.systemUserIds),
      fromEnv.rules.systemUserIds,
      examples.systemUserIds
    )
  })

  return {
    database,
    table: Option.getOrUndefined(globals.table),
    usersFile: Option.getOrElse(globals.users, () => examples.usersFile),
    seed: database._tag === "Embedded" || globals.seed,
    flags,
    flagOptions: {
      ...fromEnv.flagClient,
      flagsFile: flags._tag === "File" ? flags.path : undefined,
      sdkKey: flags._tag === "SdkKey" ? flags.key : undefined,
      // A person at a terminal is better served by an error than by every flag answering its default.
      requireInitialized: true
    },
    cache: {
      ...fromEnv.cache,
      timeToLive: Option.getOrElse(globals.cacheTtl, () => fromEnv.cache.timeToLive),
      capacity: Option.getOrElse(globals.cacheCapacity, () => fromEnv.cache.capacity)
    },
    rules
  } satisfies Settings
})

// ---------------------------------------------------------------------------------------------
// Layers
// ---------------------------------------------------------------------------------------------

const sqlProblem = (error: SqlError): string => {
  const cause: unknown = error.reason.cause
  return Predicate.hasProperty(cause, "message") && Predicate.isString(cause.message) && cause.message !== ""
    ? cause.message
    : error.message
}

const databaseError = (database: Database, action: string) => (error: SqlError) =>
  new DatabaseError({
    address: database.address,
    action: error.reason._tag === "ConnectionError" || error.reason._tag === "AuthenticationError" ? "connect" : action,
    problem: sqlProblem(error)
  })

// Connects, creates the table if it is missing (and only then), and seeds it when asked.
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
    // The migrator creates its bookkeeping table (next to the user table) before the first
    // migration can create the schema, so the schema has to exist first.
    const schema = table.name.schema
    if (schema !== undefined) {
      yield* sql`CREATE SCHEMA IF NOT EXISTS ${sql(schema)}`.pipe(
        Effect.mapError(databaseError(database, `create the schema ${schema}`))
      )
    }
    yield* UserTable.migrate({ table: settings.table }).pipe(
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
    if (database._tag === "External" && users === undefined) {
      yield* Effect.logInfo(`created the user table ${table.quoted}; it is empty (add --seed to load --users into it)`)
    }
  }
  if (users !== undefined) {
    yield* seedUsers(users, { table: settings.table }).pipe(
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
          const dataDir = yield* freshDataDir
          // Loaded on demand: PGlite is only needed without --database-url.
          const embedded = yield* Effect.promise(() => import("./embedded.js"))
          return embedded.layerPgClient({ dataDir })
        })
      )

const contextLayer = (settings: Settings, users: UsersFile | undefined) =>
  ContextCache.layer(settings.cache).pipe(
    Layer.provideMerge(ContextBuilder.layer(settings.rules)),
    Layer.provideMerge(
      UserRepo.layerPg({ table: settings.table }).pipe(
        Layer.provide(Layer.effectDiscard(prepareTable(settings, users))),
        Layer.provide(sqlLayer(settings.database))
      )
    )
  )

const flagSourceName = (source: FlagSource): string =>
  source._tag === "File"
    ? `the flags file ${displayPath(source.path)}`
    : source._tag === "SdkKey"
      ? "the LaunchDarkly project of the SDK key"
      : "no flag source"

/** What the layers can fail with, said so that a person can act on it. */
const explainFailures =
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
  MigrationError: true
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
const provideBounded = <ROut, E2, RIn, A, E, R>(layer: Layer.Layer<ROut, E2, RIn>, body: Effect.Effect<A, E, R>) =>
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

/** Runs `body` with the context services (no LaunchDarkly client). */
const withContexts = Effect.fnUntraced(function* <A, E, R>(settings: Settings, body: Effect.Effect<A, E, R>) {
  const users = settings.seed ? yield* loadUsersFile(settings.usersFile) : undefined
  return yield* provideBounded(contextLayer(settings, users), body).pipe(explainFailures(settings))
})

/**
 * The SDK's own log lines, at `Debug`: what they say (an unknown flag, a failed start) the tool
 * reports itself; `--log-level debug` shows them.
 */
const sdkLogger = (context: Context.Context<never>): LDLogger => {
  const run = Effect.runForkWith(context)
  const log = (...args: ReadonlyArray<unknown>): void => {
    run(Effect.annotateLogs(Effect.logDebug(format(...args)), "source", "launchdarkly-sdk"))
  }
  return { error: log, warn: log, info: log, debug: log }
}

/** Runs `body` with the context services and the LaunchDarkly client; returns the keys of a flags file. */
const withFlags = Effect.fnUntraced(function* <A, E, R>(
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

// ---------------------------------------------------------------------------------------------
// Contexts and evaluations
// ---------------------------------------------------------------------------------------------

type ContextFallback = Extract<Fallback, "UserNotFound" | "UserRepoUnavailable">

interface ResolvedContext {
  readonly userId: UserId
  readonly fallback: ContextFallback | null
  /** Why the repository failed, for `UserRepoUnavailable`. */
  readonly reason?: string
  readonly context: UserContext
}

const checkUserId = (userId: string) =>
  Effect.mapError(validateUserId(userId), (error) => new BadUserId({ userId, problem: error.message }))

/** The context `FlagClient` evaluates with for this user, and the fallback that applied. */
const resolveContext = Effect.fn("Cli.resolveContext")(function* (userId: UserId, request: RequestAttributes) {
  const cache = yield* ContextCache
  return yield* cache.get(userId).pipe(
    Effect.map(
      (context): ResolvedContext => ({ userId, fallback: null, context: withRequestAttributes(context, request) })
    ),
    Effect.catchTags({
      InvalidUserId: (error) => Effect.fail(new BadUserId({ userId, problem: error.message })),
      UserNotFound: () =>
        Effect.succeed<ResolvedContext>({
          userId,
          fallback: "UserNotFound",
          context: withRequestAttributes(idOnlyContext(userId), request)
        }),
      UserRepoError: (error) =>
        Effect.succeed<ResolvedContext>({
          userId,
          fallback: "UserRepoUnavailable",
          reason: error.reason,
          context: withRequestAttributes(idOnlyContext(userId), request)
        })
    })
  )
})

const fallbackCauses: Readonly<Record<Fallback, string>> = {
  UserNotFound: "no user has this id",
  UserRepoUnavailable: "the user could not be loaded",
  InvalidUserId: "the user id is not valid",
  ClientNotReady: "the LaunchDarkly client is not initialized",
  FlagNotFound: "no such flag",
  WrongType: "the flag's value is not of the default's type",
  EvaluationError: "the SDK could not evaluate the flag"
}

/** What a fallback means, in the words the tool prints. */
const describeFallback = (fallback: Fallback): string =>
  `${fallbackCauses[fallback]}; ${
    fallback === "UserNotFound" || fallback === "UserRepoUnavailable"
      ? "evaluated with an id-only context"
      : "the default was served"
  }`

const flagFallbacks: ReadonlySet<Fallback> = new Set([
  "InvalidUserId",
  "ClientNotReady",
  "FlagNotFound",
  "WrongType",
  "EvaluationError"
])

const notEvaluated = (settings: Settings, flagKey: string, evaluation: Evaluation<Json>): FlagNotEvaluated =>
  new FlagNotEvaluated({
    flagKey,
    fallback: evaluation.fallback ?? "none",
    problem:
      evaluation.fallback === "FlagNotFound"
        ? `${flagSourceName(settings.flags)} has no flag with this key`
        : `${evaluation.fallback}: ${fallbackCauses[evaluation.fallback ?? "EvaluationError"]}`,
    defaultValue: evaluation.value
  })

const formatReason = (reason: LDEvaluationReason): string => {
  switch (reason.kind) {
    case "RULE_MATCH":
      return `RULE_MATCH (rule ${reason.ruleIndex ?? "?"}${reason.ruleId === undefined ? "" : `, ${reason.ruleId}`})`
    case "PREREQUISITE_FAILED":
      return `PREREQUISITE_FAILED (${reason.prerequisiteKey ?? "?"})`
    case "ERROR":
      return `ERROR (${reason.errorKind ?? "?"})`
    default:
      return reason.kind
  }
}

const evaluationJson = (evaluation: Evaluation<Json>) => ({
  value: evaluation.value,
  reason: evaluation.reason,
  variationIndex: evaluation.variationIndex,
  fallback: evaluation.fallback
})

const attributeValue = (raw: string): Json => {
  try {
    const parsed: unknown = JSON.parse(raw)
    return Schema.is(Schema.Json)(parsed) ? parsed : raw
  } catch {
    return raw
  }
}

const parseDefault = (raw: Option.Option<string>): Effect.Effect<Json, InvalidOption> =>
  Option.match(raw, {
    onNone: () => Effect.succeed(null),
    onSome: (text) =>
      Effect.try({
        try: () => {
          const parsed: unknown = JSON.parse(text)
          if (!Schema.is(Schema.Json)(parsed)) throw new Error("not JSON")
          return parsed
        },
        catch: () =>
          new InvalidOption({
            option: "--default",
            problem: `not valid JSON: ${text} (quote strings: --default '"text"')`
          })
      })
  })

/** Every flag of the user, each with its evaluation, in the order of `keys` (then any others the SDK has). */
const evaluateAll = Effect.fn("Cli.evaluateAll")(function* (
  userId: UserId,
  fileKeys: ReadonlyArray<string> | undefined
) {
  const state = yield* FlagClient.allFlags(userId)
  if (state.$valid === false) {
    return yield* new FlagSourceError({ problem: "the LaunchDarkly client could not list the flags" })
  }
  const sdkKeys = Object.keys(state).filter((key) => !key.startsWith("$"))
  const keys = [...(fileKeys ?? []), ...sdkKeys.filter((key) => !(fileKeys ?? []).includes(key))]
  return yield* Effect.forEach(keys, (key) =>
    Effect.map(FlagClient.evaluate(key, userId, null), (evaluation): readonly [string, Evaluation<Json>] => [
      key,
      evaluation
    ])
  )
})

// ---------------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------------

const printJson = (value: unknown) => Console.log(JSON.stringify(value, null, 2))

const tableValue = (evaluation: Evaluation<Json>): string => {
  const { value, variationIndex } = evaluation
  const text = Predicate.isString(value)
    ? value === ""
      ? '""'
      : value
    : Predicate.isObject(value) && variationIndex !== null
      ? `#${variationIndex}`
      : JSON.stringify(value)
  return evaluation.fallback === null ? text : `${text}*`
}

const segmentsCell = (resolved: ResolvedContext): string =>
  resolved.fallback === null
    ? (resolved.context.segments ?? []).join(", ")
    : resolved.fallback === "UserNotFound"
      ? "(not found)"
      : "(not loaded)"

const terminalWidth = (): number | undefined => (process.stdout.isTTY ? process.stdout.columns : undefined)

// ---------------------------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------------------------

const root = Command.make("effect-flag-context").pipe(
  Command.withSharedFlags(globalFlags),
  Command.withDescription(
    "LaunchDarkly flags evaluated against rich user contexts from Postgres. Without --database-url: an embedded Postgres with the example users, flags and rules."
  )
)

const contextCommand = Command.make(
  "context",
  { userId: Argument.String("userId").pipe(Argument.withDescription("The user's id")) },
  Effect.fn("Cli.context")(function* ({ userId }) {
    const settings = yield* resolveSettings(yield* root, "other")
    const id = yield* checkUserId(userId)
    const resolved = yield* withContexts(settings, resolveContext(id, {}))
    yield* printJson({
      userId: resolved.userId,
      fallback: resolved.fallback,
      ...(resolved.reason === undefined ? {} : { reason: resolved.reason }),
      context: resolved.context
    })
  })
).pipe(
  Command.withDescription(
    "Print the LaunchDarkly context that would be sent for a user, as JSON, with the fallback that applied"
  ),
  Command.withExamples([{ command: "effect-flag-context context ada", description: "The context of an example user" }])
)

const evalCommand = Command.make(
  "eval",
  {
    flagKey: Argument.String("flagKey").pipe(Argument.withDescription("The flag's key")),
    userId: Argument.String("userId").pipe(Argument.withDescription("The user's id")),
    attr: Flag.KeyValuePair("attr").pipe(
      Flag.withDescription(
        'An attribute added for this evaluation; repeatable. A value that parses as JSON is JSON (3, true, ["a"]), else a string'
      ),
      Flag.optional
    ),
    role: Flag.String("role").pipe(
      Flag.withDescription("Sets the role attribute and adds it to the segments, for this evaluation"),
      Flag.optional
    ),
    defaultValue: Flag.String("default").pipe(
      Flag.withMetavar("json"),
      Flag.withDescription("The default, as JSON; its type is the type expected of the flag (default: null, any type)"),
      Flag.optional
    ),
    json: Flag.Boolean("json").pipe(Flag.withDescription("Print the evaluation as JSON"), Flag.withDefault(false))
  },
  Effect.fn("Cli.eval")(function* ({ flagKey, userId, attr, role, defaultValue, json }) {
    const settings = yield* resolveSettings(yield* root, "other")
    const id = yield* checkUserId(userId)
    const fallbackValue = yield* parseDefault(defaultValue)
    const attributes = Option.map(attr, (pairs) =>
      Object.fromEntries(Object.entries(pairs).map(([key, value]) => [key, attributeValue(value)]))
    )
    const request = { attributes: Option.getOrUndefined(attributes), role: Option.getOrUndefined(role) }
    yield* withFlags(settings, () =>
      Effect.gen(function* () {
        const evaluation: Evaluation<Json> = yield* FlagClient.evaluate(flagKey, id, fallbackValue, request)
        // The context the SDK was given: the cached one (a hit now), or the id alone.
        const context =
          evaluation.context === "full"
            ? (yield* resolveContext(id, request)).context
            : withRequestAttributes(idOnlyContext(id), request)
        const failed = evaluation.fallback !== null && flagFallbacks.has(evaluation.fallback)
        if (json) {
          yield* printJson({
            flagKey,
            userId: id,
            ...evaluationJson(evaluation),
            contextKind: evaluation.context,
            context
          })
        } else if (!failed) {
          const fallback =
            evaluation.fallback === null ? "none" : `${evaluation.fallback}: ${describeFallback(evaluation.fallback)}`
          yield* Console.log(
            [
              `${flagKey} = ${JSON.stringify(evaluation.value)}`,
              `  user       ${id} (${evaluation.context} context)`,
              `  reason     ${formatReason(evaluation.reason)}`,
              `  variation  ${evaluation.variationIndex ?? "none (the default)"}`,
              `  fallback   ${fallback}`,
              ...(evaluation.context === "full" ? [`  segments   ${(context.segments ?? []).join(", ")}`] : [])
            ].join("\n")
          )
        }
        if (failed) return yield* notEvaluated(settings, flagKey, evaluation)
      })
    )
  })
).pipe(
  Command.withDescription(
    "Evaluate one flag for a user: the value, the reason and the fallback. Exits 1 when the flag itself could not be evaluated (unknown flag, wrong type)"
  ),
  Command.withExamples([
    { command: "effect-flag-context eval beta-dashboard ada", description: "A boolean flag" },
    {
      command: "effect-flag-context eval checkout-config barbara --attr custom_region=eu --json",
      description: "With a request attribute, as JSON"
    }
  ])
)

const flagsCommand = Command.make(
  "flags",
  {
    userId: Argument.String("userId").pipe(Argument.withDescription("The user's id")),
    json: Flag.Boolean("json").pipe(Flag.withDescription("Print the evaluations as JSON"), Flag.withDefault(false))
  },
  Effect.fn("Cli.flags")(function* ({ userId, json }) {
    const settings = yield* resolveSettings(yield* root, "other")
    const id = yield* checkUserId(userId)
    yield* withFlags(settings, (fileKeys) =>
      Effect.gen(function* () {
        const all = yield* evaluateAll(id, fileKeys)
        const resolved = yield* resolveContext(id, {})
        if (json) {
          return yield* printJson({
            userId: id,
            fallback: resolved.fallback,
            flags: Object.fromEntries(all.map(([key, evaluation]) => [key, evaluationJson(evaluation)]))
          })
        }
        yield* Console.log(
          `flags for ${id} (${resolved.fallback === null ? "full context" : `${resolved.fallback}: ${describeFallback(resolved.fallback)}`})`
        )
        yield* Console.log(
          renderTable(
            [{ header: "flag" }, { header: "value" }, { header: "reason" }, { header: "fallback" }],
            all.map(([key, evaluation]) => [
              key,
              JSON.stringify(evaluation.value),
              formatReason(evaluation.reason),
              evaluation.fallback ?? ""
            ])
          )
        )
      })
    )
  })
).pipe(Command.withDescription("Evaluate every flag for a user"))

const demoCommand = Command.make(
  "demo",
  {
    json: Flag.Boolean("json").pipe(
      Flag.withDescription("Print the users and evaluations as JSON"),
      Flag.withDefault(false)
    )
  },
  Effect.fn("Cli.demo")(function* ({ json }) {
    const settings = yield* resolveSettings(yield* root, "demo")
    const file = yield* loadUsersFile(settings.usersFile)
    const ids = [...file.users.map((user) => user.id), ...file.absentIds]
    const rows = yield* withFlags(
      settings,
      (fileKeys) =>
        Effect.forEach(
          ids,
          (userId) =>
            Effect.gen(function* () {
              const id = yield* checkUserId(userId)
              const evaluations = yield* evaluateAll(id, fileKeys)
              const resolved = yield* resolveContext(id, {})
              return { resolved, evaluations }
            }),
          // Concurrent on purpose: the repository batches the lookups into one query.
          { concurrency: "unbounded" }
        ),
      file
    )
    if (json) {
      return yield* printJson(
        rows.map(({ resolved, evaluations }) => ({
          userId: resolved.userId,
          fallback: resolved.fallback,
          context: resolved.context,
          flags: Object.fromEntries(evaluations.map(([key, evaluation]) => [key, evaluationJson(evaluation)]))
        }))
      )
    }

    const flagKeys = Array.from(new Set(rows.flatMap(({ evaluations }) => evaluations.map(([key]) => key))))
    const rules = settings.rules
    const sourceLine =
      settings.database._tag === "Embedded"
        ? `${displayPath(file.path)} → embedded Postgres (${file.users.length} users, ${file.absentIds.length} absent)`
        : `${settings.database.address}${settings.seed ? `, seeded from ${displayPath(file.path)}` : ""} (ids from ${displayPath(file.path)})`
    yield* Console.log("effect-flag-context demo")
    yield* Console.log(`  users  ${sourceLine}`)
    yield* Console.log(`  flags  ${flagSourceName(settings.flags)} (${flagKeys.length} flags, LaunchDarkly SDK)`)
    yield* Console.log(
      `  rules  employee domains: ${rules.employeeDomains.join(", ") || "none"}; system users: ${
        rules.systemUserIds.join(", ") || "none"
      }; new_user < ${rules.newUserDays} days, recent_user < ${rules.recentUserDays} days`
    )
    yield* Console.log("")
    yield* Console.log(
      renderTable(
        [
          { header: "user" },
          { header: "age" },
          { header: "segments", wrap: true },
          ...flagKeys.map((header) => ({ header }))
        ],
        rows.map(({ resolved, evaluations }) => {
          const byKey = new Map(evaluations)
          const age = resolved.context["account_age_days"]
          return [
            resolved.userId,
            typeof age === "number" ? String(age) : "-",
            segmentsCell(resolved),
            ...flagKeys.map((key) => {
              const evaluation = byKey.get(key)
              return evaluation === undefined ? "" : tableValue(evaluation)
            })
          ]
        }),
        { maxWidth: terminalWidth() }
      )
    )

    const legend: Array<string> = []
    const fallbacks = rows.flatMap(({ resolved, evaluations }) => {
      const seen = new Set(
        evaluations.flatMap(([, evaluation]) => (evaluation.fallback === null ? [] : [evaluation.fallback]))
      )
      return Array.from(seen, (fallback) => `    ${resolved.userId}: ${fallback} (${describeFallback(fallback)})`)
    })
    if (fallbacks.length > 0) legend.push("  *  a fallback applied:", ...fallbacks)
    const variations = new Map<string, string>()
    for (const { evaluations } of rows) {
      for (const [key, evaluation] of evaluations) {
        if (Predicate.isObject(evaluation.value) && evaluation.variationIndex !== null) {
          variations.set(`${key} #${evaluation.variationIndex}`, JSON.stringify(evaluation.value))
        }
      }
    }
    if (variations.size > 0) {
      legend.push(
        "  #n variation n of a JSON flag:",
        ...Array.from(variations)
          .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
          .map(([name, value]) => `    ${name} = ${value}`)
      )
    }
    if (legend.length > 0) yield* Console.log(["", ...legend].join("\n"))
  })
).pipe(
  Command.withDescription(
    "Evaluate every flag for every user of --users (plus its absentIds) and print a table. On an embedded Postgres unless --database-url is given"
  )
)

const setupCommand = Command.make(
  "setup",
  {},
  Effect.fn("Cli.setup")(function* () {
    // Building the template is the slow part of a first embedded start; the copy it returns is dropped.
    yield* Effect.scoped(freshDataDir)
  })
).pipe(
  Command.withDescription(
    "Initialize the embedded Postgres template once per machine, so that later starts take about a second (npm ci runs it)"
  )
)

/**
 * The root command and its subcommands.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = root.pipe(
  Command.withSubcommands([contextCommand, evalCommand, flagsCommand, demoCommand, setupCommand])
)

const formatAnnotation = (value: unknown): string => (Predicate.isString(value) ? value : JSON.stringify(value))

/**
 * Log lines on stderr, one per entry, without timestamps or fibers: `warn: message (key=value)`.
 *
 * @since 0.1.0
 * @category logging
 */
export const stderrLogger = Logger.withConsoleError(
  Logger.make(({ logLevel, message, fiber, cause }) => {
    const text = (Array.isArray(message) ? message : [message]).map(formatAnnotation).join(" ")
    const annotations = Object.entries(fiber.getRef(References.CurrentLogAnnotations))
      .map(([key, value]) => `${key}=${formatAnnotation(value)}`)
      .join(", ")
    const failure = cause.reasons.length > 0 ? `: ${String(Cause.squash(cause))}` : ""
    return `${logLevel.toLowerCase()}: ${text}${failure}${annotations === "" ? "" : ` (${annotations})`}`
  })
)

/**
 * Runs the tool on the process's arguments. Needs the platform's services (`NodeServices.layer`).
 *
 * @since 0.1.0
 * @category running
 */
export const run = Command.run(command, { version }).pipe(Effect.provide(Logger.layer([stderrLogger])))
