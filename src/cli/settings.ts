/**
 * The options every command shares, and the settings a command runs with: the options, over the
 * environment, over the example defaults.
 *
 * @since 0.2.0
 */
import { existsSync, readFileSync } from "node:fs"
import { dirname, join, relative, sep } from "node:path"
import { fileURLToPath } from "node:url"
import { Config, type Duration, Effect, Option, Predicate, Redacted, Schema } from "effect"
import { Command, Flag } from "effect/cli"
import { rulesConfig } from "../ContextBuilder.js"
import { type ContextCacheOptions, contextCacheConfig } from "../ContextCache.js"
import { type FlagClientOptions, flagClientConfig } from "../FlagClient.js"
import { makeRules, type SegmentationRules } from "../Segmentation.js"
import { type ColumnKey, columnKeys } from "../internal/userTable.js"
import { InvalidOption } from "./Errors.js"

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
export const displayPath = (path: string): string => {
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
  column: Flag.String("column").pipe(
    Flag.withMetavar("key=column"),
    Flag.withDescription(
      `The table's name for a column of the User model, e.g. createdAt=date_joined; repeatable. Keys: ${columnKeys.join(", ")}. An empty name (metadata=) says the table has no such column (emailVerified, name, updatedAt, metadata)`
    ),
    Flag.atLeast(0)
  ),
  seed: Flag.Boolean("seed").pipe(
    Flag.withDescription(
      "With --database-url: create the user table if it is missing, and insert or update the users of --users in it (the embedded database is always seeded)"
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
  readonly column: ReadonlyArray<string>
  readonly seed: boolean
  readonly sdkKey: Option.Option<Redacted.Redacted<string>>
  readonly flagsFile: Option.Option<string>
  readonly cacheTtl: Option.Option<Duration.Duration>
  readonly cacheCapacity: Option.Option<number>
  readonly employeeDomain: ReadonlyArray<string>
  readonly systemUser: ReadonlyArray<string>
}

/**
 * The database a command runs on: the embedded one, or a URL.
 *
 * @since 0.2.0
 */
export type Database =
  | { readonly _tag: "Embedded"; readonly address: string }
  | { readonly _tag: "External"; readonly address: string; readonly url: Redacted.Redacted<string> }

/**
 * Where the LaunchDarkly client gets its flags.
 *
 * @since 0.2.0
 */
export type FlagSource =
  | { readonly _tag: "File"; readonly path: string }
  | { readonly _tag: "SdkKey"; readonly key: Redacted.Redacted<string> }
  | { readonly _tag: "None" }

/** Everything a command runs with: the options, over the environment, over the defaults. */
export interface Settings {
  readonly database: Database
  readonly table: string | undefined
  /** Column names by key of the User model; `null` for a column the table does not have. */
  readonly columns: Columns
  /** Create the user table when it is missing: on the embedded database, with --seed, or in `setup`. */
  readonly createTable: boolean
  readonly usersFile: string
  /** Seed the table from `usersFile`: always on the embedded database, on request otherwise. */
  readonly seed: boolean
  readonly flags: FlagSource
  readonly flagOptions: FlagClientOptions
  readonly cache: ContextCacheOptions
  readonly rules: SegmentationRules
}

/**
 * Column names of a table, by key of the User model; `null` for a column the table does not have.
 *
 * @since 0.2.0
 * @category models
 */
export type Columns = Partial<Record<ColumnKey, string | null>>

const isColumnKey = (key: string): key is ColumnKey => (columnKeys as ReadonlyArray<string>).includes(key)

/**
 * Parses the `--column key=name` options: a known key, once each; an empty name for an absent column.
 *
 * @since 0.2.0
 * @category options
 */
export const parseColumns = (options: ReadonlyArray<string>): Effect.Effect<Columns, InvalidOption> =>
  Effect.gen(function* () {
    const columns: Columns = {}
    for (const option of options) {
      const at = option.indexOf("=")
      const key = (at < 0 ? option : option.slice(0, at)).trim()
      const fail = (problem: string) => Effect.fail(new InvalidOption({ option: `--column ${option}`, problem }))
      if (at < 0) return yield* fail(`expected key=column, e.g. createdAt=date_joined (metadata= for none)`)
      if (!isColumnKey(key))
        return yield* fail(`unknown key ${JSON.stringify(key)}; expected one of ${columnKeys.join(", ")}`)
      if (key in columns) return yield* fail(`${key} is given twice`)
      const name = option.slice(at + 1).trim()
      if (name === "" && key === "id") return yield* fail("the table must have an id column")
      columns[key] = name === "" ? null : name
    }
    return columns
  })

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

/**
 * The settings of a command: its options, over the environment, over the example defaults.
 *
 * @since 0.2.0
 */
export const resolveSettings = Effect.fn("Cli.resolveSettings")(function* (
  globals: Globals,
  command: "demo" | "setup" | "other"
) {
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

  const columns = yield* parseColumns(globals.column)
  return {
    database,
    table: Option.getOrUndefined(globals.table),
    usersFile: Option.getOrElse(globals.users, () => examples.usersFile),
    columns,
    seed: database._tag === "Embedded" || globals.seed,
    createTable: database._tag === "Embedded" || globals.seed || command === "setup",
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

/**
 * The root command, with the options every command shares.
 *
 * @since 0.2.0
 */
export const root = Command.make("effect-flag-context").pipe(
  Command.withSharedFlags(globalFlags),
  Command.withDescription(
    "LaunchDarkly flags evaluated against rich user contexts from Postgres. Without --database-url: an embedded Postgres with the example users, flags and rules."
  )
)
