/**
 * The repository of users: the only place that sees database rows. Everything it returns is a
 * {@link User}.
 *
 * @since 0.1.0
 */
import { PgClient } from "@effect/sql-pg"
import {
  Cause,
  Config,
  Context,
  Duration,
  Effect,
  Exit,
  Fiber,
  Layer,
  Option,
  Predicate,
  Request,
  RequestResolver,
  Schema,
  Semaphore
} from "effect"
import * as HttpClient from "effect/http/HttpClient"
import * as HttpClientError from "effect/http/HttpClientError"
import type { MigrationError } from "effect/sql/Migrator"
import { SqlClient } from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"
import { type HttpRetryOptions, withHttpRetry } from "./HttpRetry.js"
import * as HttpAnswer from "./internal/httpAnswer.js"
import { lookupInFiber } from "./internal/lookupInFiber.js"
import {
  type CatalogRow,
  catalogColumns,
  catalogSql,
  ConfigProblem,
  type MetadataLimits,
  type PgColumns,
  planTable,
  resolveConfig,
  type TableConfig,
  type TablePlan,
  type TableProblem
} from "./internal/pgUserTable.js"
import { type Decoded, type DecodeFailure, decodeUserRow } from "./internal/userDecoder.js"
import { withoutStack } from "./internal/withoutStack.js"
import { parseMetadata, type User, UserFromJson, UserFromRow, UserId } from "./User.js"
import * as UserTable from "./UserTable.js"

/**
 * The id given to the repository is not a valid {@link UserId}. Raised before any I/O.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidUserId extends Schema.TaggedError<InvalidUserId>()("InvalidUserId", {
  userId: Schema.String,
  message: Schema.String
}) {}

/**
 * No user has this id.
 *
 * @since 0.1.0
 * @category errors
 */
export class UserNotFound extends Schema.TaggedError<UserNotFound>()("UserNotFound", {
  userId: Schema.String
}) {}

/**
 * Why a lookup failed.
 *
 * @since 0.1.0
 * @category errors
 */
export const UserRepoErrorReason = Schema.Literals(["Unavailable", "Timeout", "Decode", "Http", "Misconfigured"])

/**
 * @since 0.1.0
 * @category errors
 */
export type UserRepoErrorReason = typeof UserRepoErrorReason.Type

/**
 * The repository could not answer: the store is unavailable, the lookup timed out, a stored row
 * did not decode, a remote service gave a non-retryable HTTP answer, or the table does not match
 * the configuration (`"Misconfigured"`: a missing table or column, a type mismatch, a denied
 * permission; no retry can fix it). The message carries the root cause.
 *
 * @since 0.1.0
 * @category errors
 */
export class UserRepoError extends Schema.TaggedError<UserRepoError>()("UserRepoError", {
  userId: Schema.String,
  reason: UserRepoErrorReason,
  cause: Schema.Defect()
}) {
  /** `true` when the same lookup may succeed if tried again later. */
  get isRetryable(): boolean {
    return this.reason === "Unavailable" || this.reason === "Timeout"
  }

  override get message(): string {
    const cause = describeCause(this.cause)
    return `user ${JSON.stringify(this.userId)}: ${this.reason}${cause === "" ? "" : `: ${cause}`}`
  }
}

/**
 * The user table does not match the configuration of {@link UserRepo.layerPg}: it is missing, a
 * column is missing, a column's type can't be read as what it is configured for, or the role may
 * not read it. The message names the table, the column, the type found and expected, and the
 * option that fixes it.
 *
 * @since 0.2.0
 * @category errors
 */
export class UserTableMisconfigured extends Schema.TaggedError<UserTableMisconfigured>()("UserTableMisconfigured", {
  table: Schema.String,
  column: Schema.optional(Schema.String),
  found: Schema.optional(Schema.String),
  expected: Schema.optional(Schema.String),
  option: Schema.String,
  message: Schema.String
}) {}

const maxCauseLength = 500

/**
 * The root cause of a failure in one line: each level's message (with its SQLSTATE or system
 * error code) from the outermost to the innermost, repeated text left out.
 *
 * @since 0.2.0
 * @category errors
 */
export const describeCause = (cause: unknown): string => {
  const parts: Array<string> = []
  let current: unknown = cause
  for (let depth = 0; depth < 8 && current !== undefined && current !== null; depth++) {
    if (typeof current !== "object") {
      parts.push(String(current))
      break
    }
    let text = Predicate.hasProperty(current, "message") && Predicate.isString(current.message) ? current.message : ""
    if (text === "" && Predicate.hasProperty(current, "errors") && Array.isArray(current.errors)) {
      const first: unknown = current.errors[0]
      if (Predicate.hasProperty(first, "message") && Predicate.isString(first.message)) text = first.message
    }
    const code = Predicate.hasProperty(current, "code") && Predicate.isString(current.code) ? current.code : undefined
    if (code !== undefined && !text.includes(code)) {
      const label = /^[0-9A-Z]{5}$/.test(code) ? `SQLSTATE ${code}` : code
      text = text === "" ? label : `${text} (${label})`
    }
    if (text !== "" && !parts.some((part) => part.includes(text))) parts.push(text)
    current = Predicate.hasProperty(current, "cause") ? current.cause : undefined
  }
  const joined = parts.join(": ")
  return joined.length > maxCauseLength ? `${joined.slice(0, maxCauseLength)}…` : joined
}

/**
 * The repository's service.
 *
 * @since 0.1.0
 * @category services
 */
export class UserRepo extends Context.Service<
  UserRepo,
  {
    /** Loads one user. Concurrent calls may be batched by the implementation. */
    readonly getById: (id: string) => Effect.Effect<User, InvalidUserId | UserNotFound | UserRepoError>
    /**
     * Optional: starts the lookup of a valid id without a fiber of its own, and calls `onExit` with
     * its result (before returning, when the answer is known at once); returns a canceler. The
     * context cache uses it when present (a repository built on a `RequestResolver` implements it
     * with `Effect.requestUnsafe`), else it runs `getById` in a fiber. `context` holds the caller's
     * services.
     */
    readonly lookupUnsafe?: UserRepo.LookupUnsafe | undefined
  }
>()("effect-flag-context/UserRepo") {
  /**
   * An in-memory repository over a fixed set of users, for tests.
   *
   * @since 0.1.0
   */
  static readonly layerMemory = (users: Iterable<User>): Layer.Layer<UserRepo> =>
    Layer.sync(UserRepo, () => makeMemory(users))

  /**
   * An in-memory repository over raw rows (as the database would return them), decoded on each
   * lookup like the Postgres layer does, with an optional simulated latency: for exercising
   * decode failures and timeouts in tests.
   *
   * @since 0.1.0
   */
  static readonly layerMemoryRows = (
    rows: Iterable<unknown>,
    options?: UserRepo.MemoryRowsOptions
  ): Layer.Layer<UserRepo> => Layer.sync(UserRepo, () => makeMemoryRows(rows, options ?? {}))

  /**
   * The Postgres repository, on the `SqlClient` of the environment (a `PgClient`, or any client
   * with the `pg` dialect). Concurrent lookups are batched into one `SELECT … WHERE id = ANY(…)`.
   *
   * @since 0.1.0
   */
  static readonly layerPg = (
    options?: UserRepo.PgOptions
  ): Layer.Layer<UserRepo, MigrationError | SqlError | UserTableMisconfigured, SqlClient> =>
    Layer.effect(UserRepo, makePg(options ?? {}))

  /**
   * The configuration of {@link UserRepo.layerPg} for the user tables of common frameworks; spread
   * one into the options and set `table` where yours differs.
   *
   * @since 0.2.0
   */
  static readonly tableShapes = {
    /** Prisma's `User` model (the default). */
    prisma: { table: "User", columns: {} },
    /** Prisma with the Auth.js adapter: `"emailVerified" timestamp(3)` (verified when set), no metadata. */
    authJs: { table: "User", columns: { metadata: null } },
    /** Supabase `auth.users`: `email_confirmed_at`, `raw_user_meta_data`. */
    supabase: {
      table: "auth.users",
      columns: {
        emailVerified: "email_confirmed_at",
        name: null,
        createdAt: "created_at",
        updatedAt: "updated_at",
        metadata: "raw_user_meta_data"
      }
    },
    /** A snake_case application table (Drizzle, Lucia): `email_verified`, `created_at`, `metadata`. */
    snakeCase: {
      table: "users",
      columns: { emailVerified: "email_verified", createdAt: "created_at", updatedAt: "updated_at" }
    },
    /** Django's `auth_user`: `date_joined`, no verification, no metadata. */
    django: {
      table: "auth_user",
      columns: { emailVerified: null, name: null, createdAt: "date_joined", updatedAt: null, metadata: null }
    },
    /** Rails `users`: `created_at`, `updated_at` (without time zone, read as UTC). */
    rails: {
      table: "users",
      columns: { emailVerified: null, name: null, createdAt: "created_at", updatedAt: "updated_at", metadata: null }
    }
  } as const satisfies Record<string, UserRepo.TableShape>

  /**
   * {@link UserRepo.layerPg} on a `PgClient` pool connected to `DATABASE_URL`.
   *
   * @since 0.1.0
   */
  static readonly layerPgConfig = (
    options?: UserRepo.PgOptions
  ): Layer.Layer<UserRepo, Config.ConfigError | MigrationError | SqlError | UserTableMisconfigured> =>
    UserRepo.layerPg(options).pipe(Layer.provide(PgClient.layerConfig({ url: Config.Redacted("DATABASE_URL") })))

  /**
   * A remote user service: `GET {baseUrl}/users/{id}` answering a {@link User} as JSON, on the
   * `HttpClient` of the environment, retried with {@link withHttpRetry}.
   *
   * @since 0.1.0
   */
  static readonly layerHttp = (options: UserRepo.HttpOptions): Layer.Layer<UserRepo, never, HttpClient.HttpClient> =>
    Layer.effect(UserRepo, makeHttp(options))
}

/**
 * @since 0.1.0
 */
export declare namespace UserRepo {
  /**
   * The fiber-less lookup of {@link UserRepo}'s `lookupUnsafe`: starts looking `id` up and calls
   * `onExit` once with the result; the returned function cancels a lookup that has not ended.
   *
   * @since 0.3.0
   * @category models
   */
  type LookupUnsafe = (
    id: UserId,
    options: {
      readonly context: Context.Context<never>
      readonly onExit: (exit: Exit.Exit<User, UserNotFound | UserRepoError>) => void
    }
  ) => () => void

  /**
   * Options of {@link UserRepo.layerMemoryRows}.
   *
   * @since 0.1.0
   * @category models
   */
  interface MemoryRowsOptions {
    /** Simulated store latency of each lookup. */
    readonly latency?: Duration.Input | undefined
    /** Bound on each lookup. Default {@link defaultLookupTimeout}. */
    readonly timeout?: Duration.Input | undefined
  }

  /**
   * The column names of a user table, by the logical column they hold. Unset columns take their
   * Prisma name; `null` says the table has no such column: `emailVerified` then reads `false`,
   * `name` `null`, `updatedAt` the creation time, `metadata` `{}`. `emailVerified` may be a
   * boolean or a nullable timestamp (verified when set); ids may be `text`, `varchar`, `uuid`,
   * `integer` or `bigint`; timestamps without time zone are read as UTC.
   *
   * @since 0.2.0
   * @category models
   */
  type Columns = PgColumns

  /**
   * Bounds on what is read of one user's metadata. Over `maxBytes` (of its JSON text, measured in
   * the database, which never sends it), `maxKeys` (keys at every depth) or `maxDepth`, the
   * metadata reads as `{}` with a warning naming the user. Defaults: 64 KiB, 1,000 keys, depth 32.
   *
   * @since 0.2.0
   * @category models
   */
  type MetadataBounds = MetadataLimits

  /**
   * A table and its columns, as in {@link UserRepo.tableShapes}.
   *
   * @since 0.2.0
   * @category models
   */
  interface TableShape {
    readonly table: string
    readonly columns: Columns
  }

  /**
   * Options of {@link UserRepo.layerPg}.
   *
   * @since 0.1.0
   * @category models
   */
  interface PgOptions extends Omit<UserTable.UserTableOptions, "columns"> {
    /** Actual column names, see {@link UserRepo.Columns}. */
    readonly columns?: Columns | undefined
    /**
     * When to check the table against the configuration: `"build"` (the default) fails the layer
     * with {@link UserTableMisconfigured}; `"firstLookup"` (for a table created later) checks on
     * lookups until the check passes, failing them with `UserRepoError` reason `"Misconfigured"`.
     */
    readonly checkTable?: "build" | "firstLookup" | undefined
    /** Bounds on each user's metadata, see {@link UserRepo.MetadataBounds}. */
    readonly metadataLimits?: Partial<MetadataBounds> | undefined
    /** Bound on each lookup. Default {@link defaultLookupTimeout}. */
    readonly timeout?: Duration.Input | undefined
    /** At most this many ids per statement. Default 500. */
    readonly maxBatchSize?: number | undefined
    /** Apply the {@link UserTable.migrate} migrations when the layer is built. Default `false`. */
    readonly migrate?: boolean | undefined
    /** The migrator's bookkeeping table, see {@link UserTable.MigrateOptions}. */
    readonly migrationsTable?: string | undefined
  }

  /**
   * Options of {@link UserRepo.layerHttp}.
   *
   * @since 0.1.0
   * @category models
   */
  interface HttpOptions {
    /** The user service's base URL; users are at `{baseUrl}/users/{id}`. */
    readonly baseUrl: string
    /** Bound on each lookup, retries included. Default {@link defaultLookupTimeout}. */
    readonly timeout?: Duration.Input | undefined
    /** The retry policy, see {@link HttpRetryOptions}. */
    readonly retry?: HttpRetryOptions | undefined
    /**
     * Redirects followed per request, all on the origin of `baseUrl`; one more, or one to another
     * origin, fails the lookup with reason `"Http"`. Default 3; a non-negative integer, else the
     * layer fails to build.
     *
     * @since 0.2.0
     */
    readonly maxRedirects?: number | undefined
    /**
     * The largest answer body read, in bytes; a larger one fails the lookup with reason `"Http"`
     * without being buffered. Default 1 MiB; a non-negative integer, else the layer fails to build.
     *
     * @since 0.2.0
     */
    readonly maxBodyBytes?: number | undefined
  }
}

/**
 * The default bound on a single lookup.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultLookupTimeout: Duration.Duration = Duration.seconds(1)

const decodeUserId = Schema.decodeUnknownEffect(UserId)
const isUserId = Schema.is(UserId)

/**
 * Checks an id before any I/O.
 *
 * @since 0.1.0
 * @category validation
 */
export const validateUserId = (id: string): Effect.Effect<UserId, InvalidUserId> =>
  // A valid id (the usual case) is checked with the schema's guard, without running a decoding effect.
  isUserId(id)
    ? Effect.succeed(id)
    : Effect.mapError(decodeUserId(id), (error) => new InvalidUserId({ userId: id, message: error.message }))

/**
 * Bounds a lookup by `timeout`; running out fails with `UserRepoError` reason `"Timeout"`.
 *
 * @since 0.1.0
 * @category combinators
 */
export const withLookupTimeout =
  (userId: string, timeout: Duration.Input) =>
  <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | UserRepoError, R> =>
    Effect.timeoutOrElse(self, {
      duration: timeout,
      orElse: () =>
        Effect.fail(
          new UserRepoError({
            userId,
            reason: "Timeout",
            cause: new Error(`lookup exceeded ${Duration.format(Duration.fromInputUnsafe(timeout))}`)
          })
        )
    })

// An `Exit`, which is also an `Effect`: `getById` returns it, `lookupUnsafe` hands it to `onExit`.
const memoryLookup = (byId: ReadonlyMap<string, User>, userId: UserId): Exit.Exit<User, UserNotFound> => {
  const user = byId.get(userId)
  return user === undefined ? Exit.fail(new UserNotFound({ userId })) : Exit.succeed(user)
}

const makeMemory = (users: Iterable<User>): UserRepo["Service"] => {
  const byId = new Map<string, User>()
  for (const user of users) byId.set(user.id, user)
  return UserRepo.of({
    getById: (id) =>
      isUserId(id)
        ? memoryLookup(byId, id)
        : Effect.flatMap(validateUserId(id), (userId) => memoryLookup(byId, userId)),
    lookupUnsafe: (userId, { onExit }) => {
      onExit(memoryLookup(byId, userId))
      return () => {}
    }
  })
}

const decodeUserRowSchema = Schema.decodeUnknownEffect(UserFromRow)

/** One warning per user whose metadata was replaced by `{}`, saying why. */
const warnMetadata = (userId: string, problem: string) =>
  Effect.annotateLogs(
    Effect.logWarning(`stored user metadata is ${metadataProblemText[problem] ?? problem}; using {}`),
    { userId, problem }
  )

const metadataProblemText: Record<string, string> = {
  InvalidJson: "not a JSON object",
  NotAnObject: "not a JSON object",
  TooLarge: "over metadataLimits.maxBytes",
  TooManyKeys: "over metadataLimits.maxKeys",
  TooDeep: "over metadataLimits.maxDepth"
}

/** The repository boundary: a row becomes a `User`, or a `"Decode"` error; bad metadata is logged. */
const decodeRow = (userId: UserId, row: unknown): Effect.Effect<User, UserRepoError> =>
  Effect.flatMap(
    Effect.mapError(decodeUserRowSchema(row), (cause) => new UserRepoError({ userId, reason: "Decode", cause })),
    (user) => {
      const problem = Predicate.hasProperty(row, "metadata") ? parseMetadata(row.metadata).problem : undefined
      return problem === undefined ? Effect.succeed(user) : Effect.as(warnMetadata(userId, problem), user)
    }
  )

const makeMemoryRows = (rows: Iterable<unknown>, options: UserRepo.MemoryRowsOptions): UserRepo["Service"] => {
  const byId = new Map<string, unknown>()
  for (const row of rows) {
    if (Predicate.hasProperty(row, "id") && Predicate.isString(row.id)) byId.set(row.id, row)
  }
  const timeout = options.timeout ?? defaultLookupTimeout
  const latency = options.latency === undefined ? Effect.void : Effect.sleep(options.latency)
  return UserRepo.of({
    getById: Effect.fn("UserRepo.getById")(function* (id: string) {
      const userId = yield* validateUserId(id)
      const row = yield* withLookupTimeout(userId, timeout)(Effect.as(latency, byId.get(userId)))
      if (row === undefined) return yield* new UserNotFound({ userId })
      return yield* decodeRow(userId, row)
    })
  })
}

/** What the statement found for one id: a decoded row, a row that did not decode, or nothing. */
type LookupResult = Decoded | DecodeFailure | undefined

/** The batch statement ran out of time: every id of the batch not answered yet gets this. */
class BatchTimeout {
  readonly _tag = "BatchTimeout"
  constructor(readonly cause: Error) {}
}

/**
 * One user to look up: `id` in the text form the id column writes, `userId` as the caller asked.
 * The resolver answers with the user itself or the caller's typed error.
 */
interface Lookup extends Request.Request<User, UserNotFound | UserRepoError> {
  readonly id: string
  readonly userId: UserId
}

/** What a batch found for one id (its row, not decoded yet), and the callers waiting for it. */
interface Answer {
  readonly waiting: ReadonlyArray<Request.Entry<Lookup>>
  readonly row: unknown
  readonly failure: SqlError | BatchTimeout | undefined
}

/** The longest a resumer runs before it yields to the event loop, in milliseconds. */
const resumeSliceMs = 1

/**
 * Resumes the callers of batches in arrival order, `resumeSliceMs` at a time, yielding to the event
 * loop before the first slice and between slices. `push` hands it a batch's answers, the batch's
 * services, and what to call when all of them are answered.
 */
const makeResumer = (answer: (answer: Answer, context: Context.Context<never>) => void) => {
  interface Queued {
    readonly answers: ReadonlyArray<Answer>
    readonly context: Context.Context<never>
    readonly done: () => void
  }
  const queue: Array<Queued> = []
  let batch = 0
  let next = 0
  let running = false
  const idleWaiters: Array<() => void> = []
  const wakeIdle = (): void => {
    for (const wake of idleWaiters.splice(0)) wake()
  }
  // One slice; `true` when the queue is empty.
  const slice = (): boolean => {
    const start = performance.now()
    while (batch < queue.length) {
      const current = queue[batch]
      if (current === undefined) break
      while (next < current.answers.length) {
        const item = current.answers[next++]
        if (item !== undefined) {
          try {
            answer(item, current.context)
          } catch (cause) {
            // Never expected (decoding returns failures as values): its callers get the defect,
            // and the other answers of the batch still go out.
            for (const entry of item.waiting) entry.completeUnsafe(Exit.die(cause))
          }
        }
        if (next < current.answers.length && performance.now() - start >= resumeSliceMs) return false
      }
      next = 0
      batch++
      current.done()
      if (batch < queue.length && performance.now() - start >= resumeSliceMs) return false
    }
    queue.length = 0
    batch = 0
    wakeIdle()
    return true
  }
  // The first slice too waits for the next turn: a batch arrives in the driver's socket callback,
  // which has just parsed its rows.
  const run: Effect.Effect<void> = Effect.andThen(
    Effect.yieldNow,
    Effect.suspend(() => (slice() ? Effect.void : run))
  )
  // Whatever ended the run, the next batch must not wait for it.
  const stopped = Effect.sync(() => {
    running = false
    wakeIdle()
  })
  return {
    /**
     * The delay of the next batch: the lookups the resumed callers ask for while the resumer has
     * batches to resume go out together, once it is done, instead of one small batch per slice.
     */
    idle: Effect.suspend(() =>
      running
        ? Effect.andThen(
            Effect.callback<void>((resume) => {
              idleWaiters.push(() => resume(Effect.void))
            }),
            // Then a turn: callers the last slice resumed may be waiting a few microtasks (for the
            // SDK's promise, see `settleDue`) before they ask again.
            Effect.yieldNow
          )
        : Effect.yieldNow
    ),
    push: (answers: ReadonlyArray<Answer>, context: Context.Context<never>, done: () => void): void => {
      queue.push({ answers, context, done })
      if (running) return
      running = true
      Effect.runFork(Effect.ensuring(run, stopped))
    }
  }
}

/** The SQLSTATE of a database error, when the server sent one. */
const sqlState = (error: SqlError): string | undefined => {
  const inner: unknown = error.reason.cause
  return Predicate.hasProperty(inner, "code") && Predicate.isString(inner.code) && /^[0-9A-Z]{5}$/.test(inner.code)
    ? inner.code
    : undefined
}

/** SQLSTATE classes no retry fixes and that may come from one row's data: worth isolating by bisection. */
const rowDependentClasses = new Set(["22", "2F", "38", "39", "54", "P0", "XX"])
/** SQLSTATE classes of a connection, a resource or a concurrency problem: may pass if tried later. */
const transientClasses = new Set(["08", "40", "53", "55", "57", "58"])

/** What a failed statement means to the caller. */
const classifySql = (error: SqlError): "Unavailable" | "Timeout" | "Misconfigured" => {
  const tag = error.reason._tag
  if (tag === "StatementTimeoutError" || tag === "LockTimeoutError") return "Timeout"
  if (tag === "ConnectionError") return "Unavailable"
  const code = sqlState(error)
  if (code === undefined) return "Unavailable"
  if (code === "57014") return "Timeout"
  return transientClasses.has(code.slice(0, 2)) ? "Unavailable" : "Misconfigured"
}

const isRowDependent = (error: SqlError): boolean => {
  const code = sqlState(error)
  return code !== undefined && rowDependentClasses.has(code.slice(0, 2))
}

const misconfigured = (problem: TableProblem): UserTableMisconfigured =>
  new UserTableMisconfigured({
    table: problem.table,
    column: problem.column,
    found: problem.found,
    expected: problem.expected,
    option: problem.option,
    message: problem.message
  })

/** Reads the table's columns from the catalog and writes the lookup for them. */
const inspectTable = (
  sql: SqlClient,
  config: TableConfig
): Effect.Effect<TablePlan, UserTableMisconfigured | SqlError> =>
  sql.unsafe<CatalogRow>(catalogSql, [config.table.quoted]).pipe(
    Effect.catchIf(
      (error) => classifySql(error) === "Misconfigured",
      (error) =>
        Effect.fail(
          new UserTableMisconfigured({
            table: config.display,
            option: "table",
            message: `the user table ${JSON.stringify(config.display)} cannot be inspected: ${describeCause(error)}`
          })
        )
    ),
    Effect.flatMap((rows) => {
      const planned = planTable(config, catalogColumns(rows))
      return "selectSql" in planned ? Effect.succeed(planned) : Effect.fail(misconfigured(planned))
    })
  )

const makePg = Effect.fnUntraced(function* (options: UserRepo.PgOptions) {
  const config = yield* Effect.try({
    try: () => resolveConfig(options),
    catch: (error) =>
      new UserTableMisconfigured({
        table: options.table ?? "User",
        option: error instanceof ConfigProblem ? error.option : "table",
        message: error instanceof Error ? error.message : String(error)
      })
  })
  if (options.migrate === true) {
    const named = Object.fromEntries(
      Object.entries(config.columns).filter(([key]) => options.columns?.[key as keyof PgColumns] !== undefined)
    )
    yield* UserTable.migrate({ table: options.table, columns: named, migrationsTable: options.migrationsTable })
  }
  const sql = (yield* SqlClient).withoutTransforms()
  const timeout = options.timeout ?? defaultLookupTimeout
  const timeoutText = Duration.format(Duration.fromInputUnsafe(timeout))
  const limits = config.limits

  // A database that can't be reached at build is an outage, not a misconfiguration: the check
  // then runs on the first lookups, which fall back meanwhile, so the application still starts.
  let plan: TablePlan | undefined =
    options.checkTable === "firstLookup"
      ? undefined
      : yield* inspectTable(sql, config).pipe(
          Effect.catchTag("SqlError", (error) =>
            Effect.as(
              Effect.annotateLogs(
                Effect.logWarning("the user table could not be checked at build; checking on the first lookup"),
                { table: config.display, cause: describeCause(error) }
              ),
              undefined
            )
          )
        )
  const inspecting = yield* Semaphore.make(1)
  /** The last failed check, answered to lookups for a second instead of checking again for each. */
  let lastFailure: { readonly at: number; readonly cause: UserTableMisconfigured | SqlError } | undefined
  const failedCheck = (userId: string, cause: UserTableMisconfigured | SqlError) =>
    new UserRepoError({
      userId,
      reason: cause._tag === "UserTableMisconfigured" ? "Misconfigured" : classifySql(cause),
      cause
    })
  /** The lookup, checked once; until the check passes, lookups run it (one at a time) or share its failure. */
  const currentPlan = (userId: string): Effect.Effect<TablePlan, UserRepoError> =>
    plan !== undefined
      ? Effect.succeed(plan)
      : inspecting
          .withPermits(1)(
            Effect.suspend(() => {
              if (plan !== undefined) return Effect.succeed(plan)
              const now = Date.now()
              if (lastFailure !== undefined && now - lastFailure.at < 1_000) {
                return Effect.fail(failedCheck(userId, lastFailure.cause))
              }
              return inspectTable(sql, config).pipe(
                Effect.tap((checked) =>
                  Effect.sync(() => {
                    plan = checked
                    lastFailure = undefined
                  })
                ),
                Effect.tapError((cause) =>
                  Effect.sync(() => {
                    lastFailure = { at: Date.now(), cause }
                  })
                ),
                Effect.mapError((cause) => failedCheck(userId, cause))
              )
            })
          )
          .pipe(withLookupTimeout(userId, timeout))

  /** The row of one id: `undefined` when there is none, or when the id column can't hold it. */
  const lookupError = (userId: UserId, error: SqlError | BatchTimeout): UserRepoError =>
    withoutStack(() =>
      error._tag === "BatchTimeout"
        ? new UserRepoError({ userId, reason: "Timeout", cause: error.cause })
        : new UserRepoError({ userId, reason: classifySql(error), cause: error })
    )

  const notFound = (userId: UserId) => Exit.fail(withoutStack(() => new UserNotFound({ userId })))

  /** What one caller gets for the batch's answer about its id. */
  const answerFor = (
    userId: UserId,
    result: LookupResult,
    failure: SqlError | BatchTimeout | undefined
  ): Exit.Exit<User, UserNotFound | UserRepoError> => {
    if (result === undefined) return failure === undefined ? notFound(userId) : Exit.fail(lookupError(userId, failure))
    if ("failure" in result) {
      return Exit.fail(new UserRepoError({ userId, reason: "Decode", cause: new Error(result.failure) }))
    }
    return Exit.succeed(result.user)
  }

  // One request per user once the table is known (the miss path): the resolver answers with the
  // user or the caller's typed error, so nothing runs per user after the request.
  const lookupWith = (current: TablePlan, userId: UserId): Effect.Effect<User, UserNotFound | UserRepoError> => {
    const key = current.normalizeId(userId)
    // An id the column can't hold (U+0000, "abc" for a uuid, "1.5" for an integer) matches no row.
    if (key === undefined) return notFound(userId)
    return Effect.request(Lookup({ id: key, userId }), resolver)
  }

  const lookupUser = (userId: UserId): Effect.Effect<User, UserNotFound | UserRepoError> =>
    plan !== undefined
      ? lookupWith(plan, userId)
      : Effect.flatMap(currentPlan(userId), (current) => lookupWith(current, userId))

  /** Looks `ids` up; a statement that fails on one row's data is split until only that row's id fails. */
  const fetch = (
    current: TablePlan,
    ids: ReadonlyArray<string>,
    rows: Map<string, unknown>,
    failures: Map<string, SqlError>
  ): Effect.Effect<void> =>
    sql<Record<string, unknown>>`${sql.literal(current.selectSql)}${ids}${sql.literal(current.selectEnd)}`.pipe(
      Effect.matchEffect({
        onSuccess: (found) =>
          Effect.sync(() => {
            for (const row of found) rows.set(row["id"] as string, row)
          }),
        onFailure: (error) => {
          if (ids.length > 1 && isRowDependent(error)) {
            const half = Math.ceil(ids.length / 2)
            return Effect.andThen(
              fetch(current, ids.slice(0, half), rows, failures),
              fetch(current, ids.slice(half), rows, failures)
            )
          }
          return Effect.sync(() => {
            for (const id of ids) failures.set(id, error)
          })
        }
      })
    )

  // Resuming a caller runs its continuation in the resumer's turn (its context build, its
  // evaluation, its next request): ≈ 20–30 µs each. One resumer per repository resumes the callers
  // of every batch in arrival order, at most `resumeSliceMs` at a time, and yields to the event
  // loop between slices, so batches that arrive together never add up to one long block.
  const resumer = makeResumer((answer, context) => {
    const result = answer.row === undefined ? undefined : decodeUserRow(answer.row, limits)
    // Bad metadata is logged once per user (in the batch's services), before its callers resume.
    if (result !== undefined && "user" in result && result.problem !== undefined) {
      Effect.runForkWith(context)(warnMetadata(result.user.id, result.problem))
    }
    for (const entry of answer.waiting) entry.completeUnsafe(answerFor(entry.request.userId, result, answer.failure))
  })

  const resolver = RequestResolver.make<Lookup>(
    Effect.fnUntraced(function* (entries) {
      const current = plan
      const byId = new Map<string, Array<Request.Entry<Lookup>>>()
      for (const entry of entries) {
        const same = byId.get(entry.request.id)
        if (same === undefined) byId.set(entry.request.id, [entry])
        else same.push(entry)
      }
      if (current === undefined) return // unreachable: lookups wait for the plan
      const rows = new Map<string, unknown>()
      const failures = new Map<string, SqlError>()
      // One deadline for the whole batch (its statement, and the bisection's): the lookups of the
      // batch share it instead of each running a timer of its own.
      // The statement runs in a fiber of its own so that running out of time answers at once: an
      // interrupted statement may take long to end (a session busy elsewhere), and it is not awaited.
      const fetching = yield* Effect.forkDetach(fetch(current, Array.from(byId.keys()), rows, failures), {
        startImmediately: true
      })
      const finished = yield* Effect.timeoutOption(Fiber.join(fetching), timeout).pipe(
        Effect.onInterrupt(() => Effect.sync(() => fetching.interruptUnsafe()))
      )
      if (Option.isNone(finished)) fetching.interruptUnsafe()
      const timedOut = Option.isNone(finished)
        ? new BatchTimeout(new Error(`lookup exceeded ${timeoutText}`))
        : undefined
      const answers: Array<Answer> = []
      for (const [id, waiting] of byId) {
        const row = rows.get(id)
        answers.push({ waiting, row, failure: row === undefined ? (failures.get(id) ?? timedOut) : undefined })
      }
      // The rows are decoded and their callers resumed by the repository's one resumer, a slice at
      // a time; the batch ends when the last of them is.
      const context = yield* Effect.context<never>()
      yield* Effect.callback<void>((resume) => {
        resumer.push(answers, context, () => resume(Effect.void))
      })
    })
  ).pipe(RequestResolver.batchN(options.maxBatchSize ?? 500), RequestResolver.setDelayEffect(resumer.idle))

  return UserRepo.of({
    // Untraced and without a timer of its own: this is the miss path, once per user loaded (the
    // batch statement carries the deadline, see the resolver).
    getById: (id: string) => (isUserId(id) ? lookupUser(id) : Effect.flatMap(validateUserId(id), lookupUser)),
    // The same request without a fiber: the context cache's miss path.
    lookupUnsafe: (userId, options) => {
      // Before the table is checked, a lookup runs the check first, in a fiber of its own.
      if (plan === undefined) return lookupInFiber(lookupUser(userId), options)
      const key = plan.normalizeId(userId)
      if (key === undefined) {
        options.onExit(notFound(userId))
        return () => {}
      }
      return Effect.requestUnsafe(Lookup({ id: key, userId }), { ...options, resolver })
    }
  })
})

const Lookup = Request.of<Lookup>()

const decodeUserJson = Schema.decodeUnknownEffect(UserFromJson)

/** What a failed HTTP lookup means to the caller. */
const classifyHttp = (userId: UserId, error: unknown): UserNotFound | UserRepoError => {
  if (Cause.isTimeoutError(error)) return new UserRepoError({ userId, reason: "Timeout", cause: error })
  if (error instanceof HttpAnswer.HttpAnswerRejected) return new UserRepoError({ userId, reason: "Http", cause: error })
  if (!HttpClientError.isHttpClientError(error)) return new UserRepoError({ userId, reason: "Decode", cause: error })
  switch (error.reason._tag) {
    case "StatusCodeError": {
      const status = error.reason.response.status
      if (status === 404) return new UserNotFound({ userId })
      const retryable = status === 408 || status === 429 || status >= 500
      return new UserRepoError({ userId, reason: retryable ? "Unavailable" : "Http", cause: error })
    }
    case "TransportError":
      return new UserRepoError({ userId, reason: "Unavailable", cause: error })
    case "DecodeError":
    case "EmptyBodyError":
      return new UserRepoError({ userId, reason: "Decode", cause: error })
    default:
      return new UserRepoError({ userId, reason: "Http", cause: error })
  }
}

const makeHttp = Effect.fnUntraced(function* (options: UserRepo.HttpOptions) {
  // Redirects are followed below, one checked hop at a time, each hop retried by the policy. Each
  // hop is scoped, so a response whose body is not read (a redirect) releases its connection.
  const client = (yield* HttpClient.HttpClient).pipe(
    HttpAnswer.manualRedirects,
    HttpClient.withScope,
    withHttpRetry(options.retry)
  )
  const baseUrl = options.baseUrl.replace(/\/+$/, "")
  const origin = URL.canParse(baseUrl) ? new URL(baseUrl).origin : baseUrl
  const timeout = options.timeout ?? defaultLookupTimeout
  const maxRedirects = HttpAnswer.checkCount("maxRedirects", options.maxRedirects, 3)
  const maxBodyBytes = HttpAnswer.checkCount("maxBodyBytes", options.maxBodyBytes, 1024 * 1024)

  const fetchBody = (url: string, redirects: number): Effect.Effect<string, unknown> =>
    client.get(url, { acceptJson: true }).pipe(
      Effect.flatMap((response) => HttpAnswer.readBounded(response, maxBodyBytes)),
      Effect.scoped,
      Effect.catch((error) => {
        const location = HttpAnswer.redirectLocation(error)
        if (location === undefined) return Effect.fail(error)
        if (redirects >= maxRedirects) {
          return Effect.fail(new HttpAnswer.HttpAnswerRejected(`more than ${maxRedirects} redirects`))
        }
        const next = HttpAnswer.sameOriginTarget(location, url, origin)
        return Predicate.isString(next) ? fetchBody(next, redirects + 1) : Effect.fail(next)
      })
    )

  return UserRepo.of({
    getById: Effect.fn("UserRepo.getById")(function* (id: string) {
      const userId = yield* validateUserId(id)
      // URLs normalise these segments away even when percent-encoded: they cannot name a user.
      if (userId === "." || userId === "..") {
        return yield* new UserRepoError({
          userId,
          reason: "Http",
          cause: new Error("this id cannot be written as a URL path segment")
        })
      }
      return yield* fetchBody(`${baseUrl}/users/${encodeURIComponent(userId)}`, 0).pipe(
        Effect.flatMap((body) => Effect.try({ try: () => JSON.parse(body) as unknown, catch: (error) => error })),
        Effect.flatMap(decodeUserJson),
        Effect.flatMap((user) =>
          user.id === userId
            ? Effect.succeed(user)
            : Effect.fail(
                new HttpAnswer.HttpAnswerRejected(
                  `the user service answered with user ${JSON.stringify(user.id)} for ${JSON.stringify(userId)}`
                )
              )
        ),
        Effect.mapError((error) => classifyHttp(userId, error)),
        withLookupTimeout(userId, timeout)
      )
    })
  })
})
