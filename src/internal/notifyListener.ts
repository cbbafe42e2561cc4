/**
 * The listener behind live invalidation: LISTEN on a channel, drop each notified user from a cache,
 * and reconnect with backoff, dropping everything once back. It depends on no cache module, so that
 * `ContextCache` can start it itself (`invalidateOn: "notify"`) without an import cycle.
 *
 * @internal
 */
import { PgClient, PgConnection } from "@effect/sql-pg"
import type { Notification } from "@effect/sql-pg/PgConnection"
import {
  Clock,
  Duration,
  Effect,
  Latch,
  Metric,
  Option,
  Predicate,
  Queue,
  Redacted,
  Schedule,
  Schema,
  type Scope
} from "effect"
import type * as Arr from "effect/Array"
import type { SqlError } from "effect/sql/SqlError"
import { UserId } from "../User.js"

/** The channel the trigger notifies and the listener listens on, unless configured otherwise. */
export const defaultChannel = "effect_flag_context_user_changed"

/**
 * Checks a channel name once, at construction. Postgres refuses (`pg_notify`) or truncates
 * (`LISTEN`) names over 63 bytes, so a bad name is a configuration error: a defect.
 */
export const checkChannel = (channel: string): string => {
  if (channel.length === 0) throw new Error("the notification channel must not be empty")
  if (channel.includes("\u0000")) throw new Error("the notification channel must not contain NUL")
  if (new TextEncoder().encode(channel).byteLength > 63) {
    throw new Error(`the notification channel ${JSON.stringify(channel)} is longer than 63 bytes`)
  }
  return channel
}

/** What the listener invalidates: `ContextCache` has this shape. */
export interface InvalidationTarget {
  readonly invalidate: (userId: UserId) => Effect.Effect<void>
  readonly invalidateAll: Effect.Effect<void>
}

/** Options of the listener. */
export interface ListenOptions {
  /** The channel to listen on. Default {@link defaultChannel}. */
  readonly channel?: string | undefined
  /**
   * When to try again after the connection is lost or can't be made; it receives the `SqlError`.
   * Default: exponential from 100 ms, capped at 10 s, jittered, forever. A schedule that ends
   * stops the listener (logged); the cache then relies on its time-to-live.
   */
  readonly reconnect?: Schedule.Schedule<unknown, SqlError> | undefined
  /**
   * A connection string for the listener alone. Given, the listener opens its own connection with
   * it for each session (and closes it with the session) instead of holding one of the `PgClient`
   * pool: for an application whose pool goes through PgBouncer in transaction or statement mode,
   * where `LISTEN` can't work, point this at Postgres directly (or at a session-mode pool).
   */
  readonly listenUrl?: Redacted.Redacted | string | undefined
}

/** The running listener. */
export interface ListenerHandle {
  readonly channel: string
  /** Whether a `LISTEN` is confirmed right now. */
  readonly isListening: Effect.Effect<boolean>
  /** Waits until a `LISTEN` is confirmed (at once when it is). Bound it with a timeout. */
  readonly awaitListening: Effect.Effect<void>
}

/** Counters of the listener. */
export const metrics = {
  received: Metric.counter("flag_context_notify_received", {
    description: "User-change notifications received",
    incremental: true
  }),
  applied: Metric.counter("flag_context_notify_applied", {
    description: "User-change notifications that invalidated a user",
    incremental: true
  }),
  rejected: Metric.counter("flag_context_notify_rejected", {
    description: "User-change notifications ignored because the payload is not a valid user id",
    incremental: true
  }),
  reconnects: Metric.counter("flag_context_notify_reconnects", {
    description: "Times the user-change listener listened again after losing its connection",
    incremental: true
  })
} as const

/** Exponential from 100 ms, capped at 10 s, with jitter so that instances don't reconnect in step. */
export const defaultReconnect: Schedule.Schedule<Duration.Duration> = Schedule.min([
  Schedule.exponential("100 millis"),
  Schedule.spaced("10 seconds")
]).pipe(Schedule.jittered)

/** A session that lived this long was healthy: losing it starts the backoff afresh. */
const healthyAfter = Duration.toMillis(Duration.seconds(10))

const isUserId = Schema.is(UserId)

/** The driver's message and the server's ("terminating connection due to administrator command"). */
const describe = (error: SqlError): string => {
  const cause: unknown = error.reason.cause
  return cause instanceof Error && cause.message !== error.message
    ? `${error.message}: ${cause.message}`
    : error.message
}

/**
 * Starts the listener in the current scope, on a connection reserved from the `PgClient` pool of the
 * environment (or one of its own, with `listenUrl`), and returns at once (it connects in the
 * background). Closing the scope runs `UNLISTEN` and gives the connection back (or closes it).
 */
export const listenForUserChanges = Effect.fnUntraced(function* (
  target: InvalidationTarget,
  options?: ListenOptions
): Effect.fn.Return<ListenerHandle, never, Scope.Scope> {
  const channel = checkChannel(options?.channel ?? defaultChannel)
  const schedule = options?.reconnect ?? defaultReconnect
  const listen = listenerConnection(yield* Effect.serviceOption(PgClient.PgClient), options?.listenUrl)
  const listening = yield* Latch.make(false)
  let sessions = 0

  const apply = (batch: Arr.NonEmptyReadonlyArray<Notification>): Effect.Effect<void> => {
    // One burst (a bulk UPDATE) may name a user many times: invalidate each once.
    const userIds = new Set<UserId>()
    let rejected = 0
    for (const { payload } of batch) {
      if (isUserId(payload)) userIds.add(payload)
      else rejected++
    }
    return Effect.gen(function* () {
      yield* Metric.update(metrics.received, batch.length)
      if (rejected > 0) {
        yield* Metric.update(metrics.rejected, rejected)
        yield* Effect.logWarning("ignored user-change notifications whose payload is not a user id").pipe(
          Effect.annotateLogs({ channel, count: rejected })
        )
      }
      for (const userId of userIds) yield* target.invalidate(userId)
      yield* Metric.update(metrics.applied, batch.length - rejected)
    })
  }

  // Fails when LISTEN can't be established, or when a young session is lost (keep backing off);
  // returns when a healthy session is lost, so that the next attempt starts a fresh backoff.
  const session: Effect.Effect<void, SqlError> = Effect.scoped(
    Effect.gen(function* () {
      const queue = yield* listen(channel).pipe(
        Effect.tapError((error) =>
          Effect.logWarning("the user-change listener can't listen; retrying").pipe(
            Effect.annotateLogs({ channel, error: describe(error) })
          )
        )
      )
      const since = yield* Clock.currentTimeMillis
      if (sessions++ > 0) yield* Metric.update(metrics.reconnects, 1)
      // Whatever changed before this LISTEN was confirmed was not notified to us.
      yield* target.invalidateAll
      yield* listening.open
      yield* Effect.logDebug("listening for user changes").pipe(Effect.annotateLogs({ channel }))
      const error = yield* Effect.flip(Effect.forever(Effect.flatMap(Queue.takeAll(queue), apply)))
      yield* listening.close
      yield* Effect.logWarning("lost the user-change listener's connection; reconnecting").pipe(
        Effect.annotateLogs({ channel, error: describe(error) })
      )
      if ((yield* Clock.currentTimeMillis) - since < healthyAfter) return yield* Effect.fail(error)
    })
  )

  yield* session.pipe(
    Effect.retry(schedule),
    Effect.forever,
    Effect.catch((error) =>
      Effect.logError("the user-change listener gave up; cached users now expire by time-to-live only").pipe(
        Effect.annotateLogs({ channel, error: describe(error) })
      )
    ),
    Effect.ensuring(listening.close),
    Effect.forkScoped
  )

  return {
    channel,
    isListening: Effect.sync(() => listening.isOpen()),
    awaitListening: listening.await
  }
})

/**
 * Where the listener listens: a connection of its own when `listenUrl` is given, else one reserved
 * from the pool for as long as the listener lives. A pool of one connection would then have none
 * left for lookups, which would all wait until they time out: that is refused, with the reason.
 */
const listenerConnection = (
  client: Option.Option<PgClient.PgClient>,
  listenUrl: Redacted.Redacted | string | undefined
): ((channel: string) => Effect.Effect<Queue.Dequeue<Notification, SqlError>, SqlError, Scope.Scope>) => {
  if (listenUrl !== undefined) {
    const url = Predicate.isString(listenUrl) ? Redacted.make(listenUrl) : listenUrl
    return (channel) => Effect.flatMap(PgConnection.make({ url }), (connection) => connection.listen(channel))
  }
  if (Option.isNone(client)) {
    throw new Error(
      'invalidateOn: "notify" needs a PgClient (provide PgClient.layer(…) to the ContextCache layer) or a listenUrl'
    )
  }
  const pg = client.value
  const max = Predicate.hasProperty(pg.config, "maxConnections") ? pg.config.maxConnections : undefined
  if (Predicate.isNumber(max) && max < 2) {
    throw new Error(
      `user-change notifications need a connection of their own: the PgClient pool has maxConnections ${max}, ` +
        "and the listener would hold it for good, leaving every user lookup to time out. Raise maxConnections " +
        "to 2 or more, or give the listener a direct connection with the listenUrl option (DATABASE_LISTEN_URL)"
    )
  }
  return (channel) => pg.listen(channel)
}

/** How a cache learns that a user changed: its time-to-live only, or Postgres notifications too. */
export type InvalidateOn = "ttl" | "notify"

/**
 * For `ContextCache`'s `invalidateOn` option: starts the listener when it is `"notify"`, on the
 * `PgClient` of the environment (or its own connection with `listenUrl`), and does nothing
 * otherwise. The client is looked up rather than required, so that the option can come from
 * configuration; when it is missing or too small, this dies with a message saying what to provide.
 */
export const listenIfNotify = (
  target: InvalidationTarget,
  options: { readonly invalidateOn?: InvalidateOn | undefined; readonly notify?: ListenOptions | undefined }
): Effect.Effect<void, never, Scope.Scope> =>
  options.invalidateOn !== "notify" ? Effect.void : Effect.asVoid(listenForUserChanges(target, options.notify))
