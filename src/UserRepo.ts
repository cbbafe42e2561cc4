/**
 * The repository of users: the only place that sees database rows. Everything it returns is a
 * {@link User}.
 *
 * @since 0.1.0
 */
import { Context, Duration, Effect, Layer, Schema } from "effect"
import { type User, UserId } from "./User.js"

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
