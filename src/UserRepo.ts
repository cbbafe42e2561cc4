/**
 * The repository of users: the only place that sees database rows. Everything it returns is a
 * {@link User}.
 *
 * @since 0.1.0
 */
import { PgClient } from "@effect/sql-pg"
import { Cause, Config, Context, Duration, Effect, Layer, Predicate, RequestResolver, Schema } from "effect"
import * as HttpClient from "effect/http/HttpClient"
import * as HttpClientError from "effect/http/HttpClientError"
import type { MigrationError } from "effect/sql/Migrator"
import { SqlClient } from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"
import * as SqlResolver from "effect/sql/SqlResolver"
import { type HttpRetryOptions, withHttpRetry } from "./HttpRetry.js"
import * as HttpAnswer from "./internal/httpAnswer.js"
import { resolveTable } from "./internal/userTable.js"
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
export const UserRepoErrorReason = Schema.Literals(["Unavailable", "Timeout", "Decode", "Http"])

/**
 * @since 0.1.0
 * @category errors
 */
export type UserRepoErrorReason = typeof UserRepoErrorReason.Type

/**
 * The repository could not answer: the store is unavailable, the lookup timed out, a stored row
 * did not decode, or a remote service gave a non-retryable HTTP answer.
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
    return `user ${JSON.stringify(this.userId)}: ${this.reason}`
  }
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
  ): Layer.Layer<UserRepo, MigrationError | SqlError, SqlClient> => Layer.effect(UserRepo, makePg(options ?? {}))

  /**
   * {@link UserRepo.layerPg} on a `PgClient` pool connected to `DATABASE_URL`.
   *
   * @since 0.1.0
   */
  static readonly layerPgConfig = (
    options?: UserRepo.PgOptions
  ): Layer.Layer<UserRepo, Config.ConfigError | MigrationError | SqlError> =>
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
   * Options of {@link UserRepo.layerPg}.
   *
   * @since 0.1.0
   * @category models
   */
  interface PgOptions extends UserTable.UserTableOptions {
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

/**
 * Checks an id before any I/O.
 *
 * @since 0.1.0
 * @category validation
 */
export const validateUserId = (id: string): Effect.Effect<UserId, InvalidUserId> =>
  Effect.mapError(decodeUserId(id), (error) => new InvalidUserId({ userId: id, message: error.message }))

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

const makeMemory = (users: Iterable<User>): UserRepo["Service"] => {
  const byId = new Map<string, User>()
  for (const user of users) byId.set(user.id, user)
  return UserRepo.of({
    getById: (id) =>
      Effect.flatMap(validateUserId(id), (userId) => {
        const user = byId.get(userId)
        return user === undefined ? Effect.fail(new UserNotFound({ userId })) : Effect.succeed(user)
      })
  })
}

const decodeUserRow = Schema.decodeUnknownEffect(UserFromRow)

/** The repository boundary: a row becomes a `User`, or a `"Decode"` error; bad metadata is logged. */
const decodeRow = (userId: UserId, row: unknown): Effect.Effect<User, UserRepoError> =>
  Effect.flatMap(
    Effect.mapError(decodeUserRow(row), (cause) => new UserRepoError({ userId, reason: "Decode", cause })),
    (user) => {
      const problem = Predicate.hasProperty(row, "metadata") ? parseMetadata(row.metadata).problem : undefined
      return problem === undefined
        ? Effect.succeed(user)
        : Effect.as(
            Effect.annotateLogs(Effect.logWarning("stored user metadata is not a JSON object; using {}"), {
              userId,
              problem
            }),
            user
          )
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

interface PgRow {
  readonly id: string
}

const makePg = Effect.fnUntraced(function* (options: UserRepo.PgOptions) {
  if (options.migrate === true) yield* UserTable.migrate(options)
  const sql = (yield* SqlClient).withoutTransforms()
  const table = resolveTable(options)
  const timeout = options.timeout ?? defaultLookupTimeout
  const columns = sql.literal(table.selectList)
  const from = sql.literal(table.quoted)
  const idColumn = sql.literal(table.column.id)
  const resolver = SqlResolver.findById({
    Id: Schema.String,
    // Rows are decoded one by one after the batch, so that one bad row fails only its own lookup.
    Result: Schema.Unknown,
    ResultId: (_, row: PgRow) => row.id,
    execute: (ids) => sql<PgRow>`SELECT ${columns} FROM ${from} WHERE ${idColumn} = ANY(${ids})`
  }).pipe(RequestResolver.batchN(options.maxBatchSize ?? 500))
  const lookup = SqlResolver.request(resolver)

  return UserRepo.of({
    getById: Effect.fn("UserRepo.getById")(function* (id: string) {
      const userId = yield* validateUserId(id)
      const row = yield* lookup(userId).pipe(
        Effect.mapError((error) =>
          Cause.isNoSuchElementError(error)
            ? new UserNotFound({ userId })
            : new UserRepoError({ userId, reason: error._tag === "SqlError" ? "Unavailable" : "Decode", cause: error })
        ),
        withLookupTimeout(userId, timeout)
      )
      return yield* decodeRow(userId, row)
    })
  })
})

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
