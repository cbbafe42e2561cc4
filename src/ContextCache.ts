/**
 * The context cache: users loaded from the {@link UserRepo}, kept with a time-to-live, and the
 * LaunchDarkly context built from each, rebuilt only when an age boundary passes.
 *
 * @since 0.1.0
 */
import {
  Cache,
  Clock,
  Config,
  Context,
  Duration,
  Effect,
  Exit,
  type Fiber,
  Layer,
  Metric,
  MutableHashMap,
  Option,
  Schema,
  type Scope
} from "effect"
import type { PgClient } from "@effect/sql-pg"
import { ContextBuilder } from "./ContextBuilder.js"
import { FrequencySketch, hashKey } from "./internal/frequencySketch.js"
import { lookupInFiber } from "./internal/lookupInFiber.js"
import { withoutStack } from "./internal/withoutStack.js"
import { type InvalidateOn, type ListenOptions, listenIfNotify } from "./internal/notifyListener.js"
import type { UserContext } from "./Segmentation.js"
import { type User, UserId } from "./User.js"
import {
  defaultLookupTimeout,
  type InvalidUserId,
  type UserNotFound,
  UserRepo,
  UserRepoError,
  validateUserId
} from "./UserRepo.js"

/**
 * What a lookup can fail with.
 *
 * @since 0.1.0
 * @category errors
 */
export type ContextCacheError = InvalidUserId | UserNotFound | UserRepoError

/**
 * Settings of the context cache. Every field is optional; see {@link contextCacheDefaults}.
 *
 * @since 0.1.0
 * @category models
 */
export interface ContextCacheOptions {
  /**
   * The most users kept. A recently used user is kept over one that was not (second chance), and a
   * new user is admitted only when asked for more often than the one it would evict (TinyLFU).
   */
  readonly capacity?: number | undefined
  /** How long a loaded user is kept. */
  readonly timeToLive?: Duration.Input | undefined
  /** How long "no such user" is remembered; `0` never remembers it. */
  readonly notFoundTimeToLive?: Duration.Input | undefined
  /** The bound on one repository lookup; running out counts as the repository being unavailable. */
  readonly lookupTimeout?: Duration.Input | undefined
  /**
   * How the cache learns that a user changed: `"ttl"` (the default) only by expiry; `"notify"` also
   * by Postgres notifications from the trigger of `UserChangeNotifier.migrate` (needs a `PgClient`).
   */
  readonly invalidateOn?: InvalidateOn | undefined
  /** The channel and reconnect schedule of the `"notify"` listener. */
  readonly notify?: ListenOptions | undefined
}

/**
 * The defaults: 1000 users, 24 hours, 60 seconds for a missing user, 1 second per lookup.
 *
 * @since 0.1.0
 * @category constants
 */
export const contextCacheDefaults = {
  capacity: 1000,
  timeToLive: Duration.hours(24),
  notFoundTimeToLive: Duration.seconds(60),
  lookupTimeout: defaultLookupTimeout
} as const

/**
 * The configuration of the cache: `CONTEXT_CACHE_CAPACITY` (a positive integer),
 * `CONTEXT_CACHE_TTL`, `CONTEXT_CACHE_NOT_FOUND_TTL` and `CONTEXT_CACHE_LOOKUP_TIMEOUT` (durations
 * such as `"24 hours"`, `"60 seconds"`, `"0 seconds"`).
 *
 * @since 0.1.0
 * @category config
 */
export const contextCacheConfig: Config.Config<{
  readonly capacity: number
  readonly timeToLive: Duration.Duration
  readonly notFoundTimeToLive: Duration.Duration
  readonly lookupTimeout: Duration.Duration
}> = Config.all({
  capacity: Config.schema(Schema.Int.check(Schema.isGreaterThanOrEqualTo(1)), "CONTEXT_CACHE_CAPACITY").pipe(
    Config.withDefault(contextCacheDefaults.capacity)
  ),
  timeToLive: Config.Duration("CONTEXT_CACHE_TTL").pipe(Config.withDefault(contextCacheDefaults.timeToLive)),
  notFoundTimeToLive: Config.Duration("CONTEXT_CACHE_NOT_FOUND_TTL").pipe(
    Config.withDefault(contextCacheDefaults.notFoundTimeToLive)
  ),
  lookupTimeout: Config.Duration("CONTEXT_CACHE_LOOKUP_TIMEOUT").pipe(
    Config.withDefault(contextCacheDefaults.lookupTimeout)
  )
})

/**
 * The cache's metrics. `lookups` counts repository calls; `misses` counts requests that found no
 * answer in the cache (so 1000 concurrent requests for one cold user are 1000 misses and 1 lookup);
 * `hits` counts requests answered from the cache (a remembered "no such user" included); `evictions`
 * counts users dropped for capacity; `size` is the number of entries.
 *
 * The counts live in the cache and the metric registry reads them when it takes a snapshot
 * (`Metric.registerUnsafe`), so a hit costs an increment, not a registry lookup. They are
 * registered in the registry of the context the cache is built in, and removed when its layer is
 * released.
 *
 * @since 0.1.0
 * @category metrics
 */
export const ContextCacheMetrics = {
  hits: Metric.counter("flag_context_cache_hits", {
    description: "Context requests answered from the cache",
    incremental: true
  }),
  misses: Metric.counter("flag_context_cache_misses", {
    description: "Context requests that found no answer in the cache",
    incremental: true
  }),
  lookups: Metric.counter("flag_context_cache_lookups", {
    description: "User repository lookups made by the context cache",
    incremental: true
  }),
  evictions: Metric.counter("flag_context_cache_evictions", {
    description: "Users evicted from the context cache for capacity",
    incremental: true
  }),
  size: Metric.gauge("flag_context_cache_size", { description: "Entries in the context cache" })
} as const

/**
 * A cached user and the context last built from it. The context is rebuilt when the clock passes
 * `validUntil` (a new day of account age, a new age bucket), so segments are right at the moment
 * of evaluation while a hit costs no rebuild.
 */
class CachedUser {
  /** Used since the last eviction scan passed it (second-chance eviction). */
  referenced = false
  private context: UserContext
  private builtAt: number
  private validUntil: number

  constructor(
    readonly user: User,
    private readonly builder: ContextBuilder["Service"],
    now: number,
    /** The key's hash in the frequency sketch. */
    readonly hash: number
  ) {
    this.context = builder.build(user, now)
    this.builtAt = now
    this.validUntil = builder.validUntil(user, now)
  }

  contextAt(now: number): UserContext {
    if (now >= this.validUntil || now < this.builtAt) {
      this.context = this.builder.build(this.user, now)
      this.builtAt = now
      this.validUntil = this.builder.validUntil(this.user, now)
    }
    return this.context
  }
}

const isUserId = Schema.is(UserId)

const noop = (): void => {}

/** Deadlines within this many milliseconds of each other share one timer. */
const deadlineGrain = 10

const make = Effect.fnUntraced(function* (options: ContextCacheOptions) {
  const repo = yield* UserRepo
  const builder = yield* ContextBuilder
  const capacity = Math.max(1, Math.floor(options.capacity ?? contextCacheDefaults.capacity))
  const timeToLive = Duration.fromInputUnsafe(options.timeToLive ?? contextCacheDefaults.timeToLive)
  const notFoundTimeToLive = Duration.fromInputUnsafe(
    options.notFoundTimeToLive ?? contextCacheDefaults.notFoundTimeToLive
  )
  const lookupTimeout = options.lookupTimeout ?? contextCacheDefaults.lookupTimeout
  const counts = { hits: 0, misses: 0, lookups: 0, evictions: 0 }

  // The repository's fiber-less lookup, or `getById` in a fiber of its own (the caller's context).
  const repoLookup = repo.lookupUnsafe
  const lookupUnsafe = (
    userId: UserId,
    options: {
      readonly context: Context.Context<never>
      readonly onExit: (exit: Exit.Exit<User, ContextCacheError>) => void
    }
  ): (() => void) =>
    repoLookup !== undefined ? repoLookup(userId, options) : lookupInFiber(repo.getById(userId), options)

  // The Cache's own lookup. `insert` uses it to put "no such user" in (a lookup's exit, settled);
  // otherwise it is a lookup through `getById`, for a `Cache.get` of an entry that expired between
  // reading it and getting it.
  const settled = new Map<string, Exit.Exit<CachedUser, ContextCacheError>>()
  const settleLookup = (userId: string): Effect.Effect<CachedUser, ContextCacheError> =>
    settled.get(userId) ??
    Effect.withFiber((fiber) => {
      counts.lookups++
      return Effect.map(
        repo.getById(userId),
        (user) => new CachedUser(user, builder, fiber.getRef(Clock.Clock).currentTimeMillisUnsafe(), hashKey(userId))
      )
    })

  const cache = yield* Cache.makeWith(settleLookup, {
    // Eviction is done below, before each insertion; the cache's own check is a safety net.
    capacity,
    timeToLive: (exit) => {
      if (Exit.isSuccess(exit)) return timeToLive
      const error = Exit.findErrorOption(exit)
      return Option.isSome(error) && error.value._tag === "UserNotFound" ? notFoundTimeToLive : Duration.zero
    }
  })
  const map = cache.map

  const settledUser = (entry: Cache.Entry<CachedUser, ContextCacheError>): CachedUser | undefined => {
    const exit = entry.fiber.pollUnsafe()
    return exit !== undefined && Exit.isSuccess(exit) ? exit.value : undefined
  }

  // How often each key was asked for lately (hits and misses), in a sketch of fixed size.
  const sketch = new FrequencySketch(capacity)

  // The Cache evicts silently and in insertion order. Eviction is done here instead, when a lookup
  // ends and right before the `Cache.get` that puts its result in, so that it is counted and keeps
  // popular users: a hit only marks its entry and counts in the sketch (no reordering on the hot
  // path); the scan from the oldest end moves a marked entry to the young end (second chance), and
  // the first unmarked one is the victim. The newcomer is admitted only when it was asked for more
  // often than the victim (TinyLFU admission); otherwise its callers get it without it being kept,
  // and the victim stays. On the skewed benchmark this took the hit rate from 66.4% to 73.1% (an
  // oracle: 75.1%). Both steps run without yielding, so the Cache's own check never fires.
  const makeRoomFor = (userId: string, hash: number): boolean => {
    let excess = MutableHashMap.size(map) + 1 - capacity
    if (excess <= 0 || MutableHashMap.has(map, userId)) return true
    const frequency = sketch.frequency(hash)
    for (const [key, entry] of map) {
      const cached = settledUser(entry)
      if (cached?.referenced === true) {
        MutableHashMap.remove(map, key)
        cached.referenced = false
        MutableHashMap.set(map, key, entry)
        continue
      }
      if (sketch.frequency(cached?.hash ?? hashKey(key)) >= frequency) return false
      MutableHashMap.remove(map, key)
      counts.evictions++
      if (--excess <= 0) return true
    }
    return true
  }

  const liveEntry = (userId: string, now: number): Cache.Entry<CachedUser, ContextCacheError> | undefined => {
    const entry = MutableHashMap.get(map, userId)
    if (Option.isNone(entry)) return undefined
    const expiresAt = entry.value.expiresAt
    return expiresAt !== undefined && now >= expiresAt ? undefined : entry.value
  }

  // A caller waits for a lookup at most `lookupTimeout` from its own request, whatever the lookup
  // does: under a burst a lookup may start late (the pool busy), and a custom repository may not
  // be interruptible.
  //
  // Deadlines are grouped: every deadline that falls in the same slice of `deadlineGrain` ms
  // (rounded up) shares one timer, a sleep on the caller's `Clock`. A burst of 10,000 cold users
  // then costs a handful of timers instead of two fibers per caller and per lookup.
  const lookupTimeoutMillis = Duration.toMillis(Duration.fromInputUnsafe(lookupTimeout))
  const groups = new Map<number, Set<() => void>>()
  const timers = new Set<Fiber.Fiber<void>>()
  const atDeadline = (fiber: Fiber.Fiber<unknown, unknown>, now: number, onDeadline: () => void): (() => void) => {
    const at = Math.ceil((now + lookupTimeoutMillis) / deadlineGrain) * deadlineGrain
    let group = groups.get(at)
    if (group === undefined) {
      const members = new Set<() => void>()
      group = members
      groups.set(at, members)
      const timer: Fiber.Fiber<void> = Effect.runForkWith(fiber.context)(
        Effect.andThen(
          Effect.sleep(Duration.millis(Math.max(0, at - now))),
          Effect.sync(() => {
            groups.delete(at)
            timers.delete(timer)
            for (const member of members) member()
          })
        )
      )
      timers.add(timer)
    }
    const members = group
    members.add(onDeadline)
    return () => {
      members.delete(onDeadline)
    }
  }

  const timedOut = (userId: string) =>
    withoutStack(
      () =>
        new UserRepoError({
          userId,
          reason: "Timeout",
          cause: new Error(`no answer within ${lookupTimeoutMillis} ms of the request`)
        })
    )

  // What a lookup leaves in the Cache when it ends: a user (when admitted, see `makeRoomFor`), or
  // "no such user" (for `notFoundTimeToLive`); a failure, never. A user is put in as a settled
  // value; "no such user" goes through the Cache's lookup (`settleLookup`).
  const insert = (userId: string, hash: number, exit: Exit.Exit<CachedUser, ContextCacheError>): Effect.Effect<void> =>
    Effect.suspend(() => {
      if (!makeRoomFor(userId, hash)) return Effect.void
      if (Exit.isSuccess(exit)) return Cache.set(cache, userId, exit.value)
      settled.set(userId, exit)
      return Effect.ensuring(
        Effect.ignore(Cache.get(cache, userId)),
        Effect.sync(() => settled.delete(userId))
      )
    })
  const keeps = (exit: Exit.Exit<CachedUser, ContextCacheError>): boolean =>
    Exit.isSuccess(exit) || Option.getOrUndefined(Exit.findErrorOption(exit))?._tag === "UserNotFound"

  /** One caller of a lookup: its answer once it has one, and how to resume it. */
  interface Waiter {
    answer: Exit.Exit<CachedUser, ContextCacheError> | undefined
    resume: ((effect: Effect.Effect<CachedUser, ContextCacheError>) => void) | undefined
    stopDeadline: () => void
  }

  /**
   * A lookup in flight: the callers waiting for it, and its result once it has one. Concurrent
   * callers of a user not in the Cache share it (single flight); it is not in the Cache while it
   * runs, and costs no fiber: the repository calls back (`lookupUnsafe`).
   */
  interface Loading {
    readonly waiters: Array<Waiter>
    exit: Exit.Exit<CachedUser, ContextCacheError> | undefined
    cancel: () => void
    /** `lookupUnsafe` has not returned yet. */
    starting: boolean
    /** The insert left to the first caller of a lookup that ended while starting. */
    put: Effect.Effect<void> | undefined
  }
  const loading = new Map<string, Loading>()

  const answer = (
    waiter: Waiter,
    exit: Exit.Exit<CachedUser, ContextCacheError>,
    first?: Effect.Effect<void>
  ): void => {
    if (waiter.answer !== undefined) return
    waiter.answer = exit
    waiter.stopDeadline()
    waiter.resume?.(first === undefined ? exit : Effect.andThen(first, exit))
  }

  const waitFor = (waiter: Waiter): Effect.Effect<CachedUser, ContextCacheError> =>
    waiter.answer ??
    Effect.callback<CachedUser, ContextCacheError>((resume) => {
      if (waiter.answer !== undefined) return resume(waiter.answer)
      // No canceler (it would cost every waiting caller a finalizer): an interrupted caller stays
      // in the lookup's list and its deadline group; the answer or the deadline, when it comes,
      // resumes nothing (effect ignores a resumption after an interruption), and an insert handed
      // to it is run by the lookup instead (`settle`).
      waiter.resume = resume
    })

  // A lookup ends once, with the repository's answer: its user is built with the caller's clock,
  // put in the Cache unless the user was invalidated meanwhile (a newer lookup, or none, owns the
  // key), and handed to every caller still waiting.
  const settle = (
    state: Loading,
    context: Context.Context<never>,
    clock: Clock.Clock,
    userId: string,
    hash: number,
    result: Exit.Exit<User, ContextCacheError>
  ): void => {
    if (state.exit !== undefined) return
    const exit: Exit.Exit<CachedUser, ContextCacheError> = Exit.isSuccess(result)
      ? Exit.succeed(new CachedUser(result.value, builder, clock.currentTimeMillisUnsafe(), hash))
      : Exit.hasInterrupts(result)
        ? Exit.fail(timedOut(userId))
        : Exit.failCause(result.cause)
    state.exit = exit
    // What to put in the Cache: nothing when the user was invalidated meanwhile (a newer lookup, or
    // none, owns the key). It runs in the fiber of the first caller still waiting, before that
    // caller goes on (no fiber of its own), else here; a lookup that ended before `lookupUnsafe`
    // returned (a synchronous repository) leaves it to its first caller (`startLookup`).
    let put: Effect.Effect<void> | undefined
    let inserted = false
    if (loading.get(userId) === state) {
      loading.delete(userId)
      if (keeps(exit)) {
        const inserting = insert(userId, hash, exit)
        put = Effect.suspend(() => {
          if (inserted) return Effect.void
          inserted = true
          return inserting
        })
      }
    }
    const waiters = state.waiters
    let handed = false
    for (let i = 0; i < waiters.length; i++) {
      const waiter = waiters[i]
      if (waiter === undefined) continue
      if (put !== undefined && !handed && waiter.answer === undefined && waiter.resume !== undefined) {
        handed = true
        answer(waiter, exit, put)
      } else answer(waiter, exit)
    }
    waiters.length = 0
    // A resumed caller runs the insert before `answer` returns; one that was interrupted did not.
    if (put === undefined || inserted) return
    if (state.starting) state.put = put
    else Effect.runSyncWith(context)(put)
  }

  // The first caller's deadline is the lookup's: it cancels the repository's lookup (which ends it,
  // unless the repository can't stop it) and answers that caller. A caller that joins later waits
  // up to its own deadline, for as long as the lookup runs.
  const startLookup = (
    fiber: Fiber.Fiber<unknown, unknown>,
    now: number,
    userId: UserId,
    hash: number
  ): Effect.Effect<CachedUser, ContextCacheError> => {
    counts.lookups++
    const context = fiber.context
    const clock = fiber.getRef(Clock.Clock)
    const first: Waiter = { answer: undefined, resume: undefined, stopDeadline: noop }
    const state: Loading = { waiters: [first], exit: undefined, cancel: noop, starting: true, put: undefined }
    loading.set(userId, state)
    try {
      state.cancel = lookupUnsafe(userId, {
        context,
        onExit: (result) => settle(state, context, clock, userId, hash, result)
      })
    } catch (cause) {
      // A repository's `lookupUnsafe` that throws ends its lookup as a defect, as `getById` would.
      settle(state, context, clock, userId, hash, Exit.die(cause))
    }
    state.starting = false
    if (first.answer !== undefined)
      return state.put === undefined ? first.answer : Effect.andThen(state.put, first.answer)
    return waitUntilDeadline(fiber, now, userId, state, first, true)
  }

  // A caller waits for the lookup up to its deadline, `lookupTimeout` from `now`; at the first
  // caller's deadline the repository's lookup is cancelled too.
  const waitUntilDeadline = (
    fiber: Fiber.Fiber<unknown, unknown>,
    now: number,
    userId: string,
    state: Loading,
    waiter: Waiter,
    first: boolean
  ): Effect.Effect<CachedUser, ContextCacheError> => {
    waiter.stopDeadline = atDeadline(fiber, now, () => {
      waiter.stopDeadline = noop
      if (first) state.cancel()
      answer(waiter, Exit.fail(timedOut(userId)))
    })
    return waitFor(waiter)
  }

  const join = (
    fiber: Fiber.Fiber<unknown, unknown>,
    now: number,
    userId: string,
    state: Loading
  ): Effect.Effect<CachedUser, ContextCacheError> => {
    const waiter: Waiter = { answer: undefined, resume: undefined, stopDeadline: noop }
    state.waiters.push(waiter)
    return waitUntilDeadline(fiber, now, userId, state, waiter, false)
  }

  const getCachedWith = (
    fiber: Fiber.Fiber<unknown, unknown>,
    clock: Clock.Clock,
    userId: UserId
  ): Effect.Effect<CachedUser, ContextCacheError> => {
    const hash = hashKey(userId)
    sketch.increment(hash)
    const now = clock.currentTimeMillisUnsafe()
    const entry = liveEntry(userId, now)
    if (entry !== undefined) {
      counts.hits++
      return Cache.get(cache, userId)
    }
    counts.misses++
    const inFlight = loading.get(userId)
    if (inFlight !== undefined) return join(fiber, now, userId, inFlight)
    return startLookup(fiber, now, userId, hash)
  }

  const getCached = (userId: UserId): Effect.Effect<CachedUser, ContextCacheError> =>
    Effect.withFiber((fiber) => getCachedWith(fiber, fiber.getRef(Clock.Clock), userId))

  const getValid = (userId: string): Effect.Effect<CachedUser, ContextCacheError> =>
    isUserId(userId) ? getCached(userId) : Effect.flatMap(validateUserId(userId), getCached)

  // A valid id costs one `withFiber` and one `map` around the lookup: the clock is the caller's,
  // read again when the user arrives.
  const get = (userId: string): Effect.Effect<UserContext, ContextCacheError> =>
    isUserId(userId)
      ? Effect.withFiber((fiber) => {
          const clock = fiber.getRef(Clock.Clock)
          return Effect.map(getCachedWith(fiber, clock, userId), (cached) =>
            cached.contextAt(clock.currentTimeMillisUnsafe())
          )
        })
      : Effect.flatMap(getValid(userId), (cached) =>
          Effect.clockWith((clock) => Effect.succeed(cached.contextAt(clock.currentTimeMillisUnsafe())))
        )

  // Keys are strings, which a `MutableHashMap` keeps in its native `backing` map: one lookup, no `Option`.
  const getCachedUnsafe = (userId: string, now: number): UserContext | undefined => {
    const entry = map.backing.get(userId)
    if (entry === undefined) return undefined
    if (entry.expiresAt !== undefined && now >= entry.expiresAt) return undefined
    const cached = settledUser(entry)
    if (cached === undefined) return undefined
    cached.referenced = true
    sketch.increment(cached.hash)
    counts.hits++
    return cached.contextAt(now)
  }

  const services = yield* Effect.context<never>()
  const counter = (metric: Metric.Counter<number>, read: () => number) =>
    Metric.registerUnsafe(metric, services, {
      get: () => ({ count: read(), incremental: true }),
      update: () => {},
      modify: () => {}
    })
  const registrations = [
    counter(ContextCacheMetrics.hits, () => counts.hits),
    counter(ContextCacheMetrics.misses, () => counts.misses),
    counter(ContextCacheMetrics.lookups, () => counts.lookups),
    counter(ContextCacheMetrics.evictions, () => counts.evictions),
    Metric.registerUnsafe(ContextCacheMetrics.size, services, {
      get: () => ({ value: MutableHashMap.size(map) }),
      update: () => {},
      modify: () => {}
    })
  ]
  yield* Effect.addFinalizer(() =>
    Effect.sync(() => {
      for (const registration of registrations) registration.remove()
      for (const timer of timers) timer.interruptUnsafe()
      timers.clear()
      groups.clear()
      for (const running of loading.values()) running.cancel()
      loading.clear()
    })
  )

  const service = ContextCache.of({
    get,
    getUser: (userId) => Effect.map(getValid(userId), (cached) => cached.user),
    getCachedUnsafe,
    invalidate: (userId) =>
      Effect.andThen(
        Effect.sync(() => loading.delete(userId)),
        Cache.invalidate(cache, userId)
      ),
    invalidateAll: Effect.andThen(
      Effect.sync(() => loading.clear()),
      Cache.invalidateAll(cache)
    ),
    size: Cache.size(cache)
  })
  yield* listenIfNotify(service, options)
  return service
})

/**
 * Users loaded from the {@link UserRepo} and the LaunchDarkly contexts built from them, cached.
 *
 * Concurrent requests for one user share one lookup. A `UserRepoError` is never cached (the next
 * request tries again); a `UserNotFound` is cached for `notFoundTimeToLive`; an invalid id never
 * reaches the repository or the cache.
 *
 * @since 0.1.0
 * @category services
 */
export class ContextCache extends Context.Service<
  ContextCache,
  {
    /** The user's context at the current instant (of the `Clock`). */
    readonly get: (userId: string) => Effect.Effect<UserContext, ContextCacheError>
    /** The cached user. */
    readonly getUser: (userId: string) => Effect.Effect<User, ContextCacheError>
    /**
     * The context of a user already in the cache, loaded successfully and not expired, at `now`
     * (epoch milliseconds, from the same `Clock`); `undefined` otherwise, without starting a
     * lookup. Synchronous: this is the evaluation hot path.
     */
    readonly getCachedUnsafe: (userId: string, now: number) => UserContext | undefined
    /** Forgets one user: the next request loads it again. A lookup in flight is not interrupted. */
    readonly invalidate: (userId: string) => Effect.Effect<void>
    /** Forgets every user. */
    readonly invalidateAll: Effect.Effect<void>
    /** The number of entries, expired ones not yet removed included. */
    readonly size: Effect.Effect<number>
  }
>()("effect-flag-context/ContextCache") {
  /**
   * Builds a cache over the current {@link UserRepo} and {@link ContextBuilder}.
   *
   * @since 0.1.0
   */
  static readonly make = (
    options: ContextCacheOptions = {}
  ): Effect.Effect<ContextCache["Service"], never, UserRepo | ContextBuilder | Scope.Scope> => make(options)

  /**
   * A cache with explicit settings (defaults for those left out).
   *
   * @since 0.1.0
   */
  static readonly layer: {
    (
      options: ContextCacheOptions & { readonly invalidateOn: "notify" }
    ): Layer.Layer<ContextCache, never, UserRepo | ContextBuilder | PgClient.PgClient>
    (options?: ContextCacheOptions): Layer.Layer<ContextCache, never, UserRepo | ContextBuilder>
  } = (options: ContextCacheOptions = {}) => Layer.effect(ContextCache, make(options))

  /**
   * A cache with its settings read from {@link contextCacheConfig}.
   *
   * @since 0.1.0
   */
  static readonly layerConfig: Layer.Layer<ContextCache, Config.ConfigError, UserRepo | ContextBuilder> = Layer.effect(
    ContextCache,
    Effect.flatMap(contextCacheConfig, make)
  )

  /**
   * The cache's metrics.
   *
   * @since 0.1.0
   */
  static readonly metrics = ContextCacheMetrics
}
