import { assert, describe, it } from "@effect/vitest"
import { Cause, Clock, ConfigProvider, Effect, Exit, Fiber, Layer, Metric } from "effect"
import { TestClock } from "effect/testing"
import { ContextBuilder } from "../src/ContextBuilder.js"
import { ContextCache, ContextCacheMetrics, type ContextCacheOptions } from "../src/ContextCache.js"
import { FlagClient, TestFlags } from "../src/FlagClient.js"
import { DAY_MS } from "../src/Segmentation.js"
import type { User, UserId } from "../src/User.js"
import { UserRepo, UserRepoError } from "../src/UserRepo.js"
import { countingRepo, makeUser } from "./support/launchdarkly.js"

const NOW = Date.UTC(2026, 0, 1)
const HOUR_MS = 3_600_000
const id = (value: string) => value as UserId
const users = Array.from({ length: 50 }, (_, i) => makeUser(`user-${i}`, NOW, 100))

const cacheLayer = (repo: Layer.Layer<UserRepo>, options: ContextCacheOptions = {}) =>
  ContextCache.layer(options).pipe(Layer.provide(Layer.mergeAll(repo, ContextBuilder.layer())))

/** A counting in-memory repository and a cache over it, with a fresh metric registry. */
const withCache = <A, E>(
  seed: ReadonlyArray<User>,
  options: ContextCacheOptions,
  body: (repo: Effect.Success<ReturnType<typeof countingRepo>>) => Effect.Effect<A, E, ContextCache>
) =>
  Effect.gen(function* () {
    const repo = yield* countingRepo(seed)
    return yield* body(repo).pipe(Effect.provide(cacheLayer(repo.layer, options)))
  }).pipe(Effect.provideService(Metric.MetricRegistry, new Map()))

const metric = (m: Metric.Metric<never, { readonly count: number }>) => Effect.map(Metric.value(m), (s) => s.count)

describe("ContextCache", () => {
  it.effect("1000 concurrent evaluations for one cold user make exactly one repository lookup", () =>
    Effect.gen(function* () {
      const repo = yield* countingRepo([makeUser("cold", NOW, 3, ["beta"])])
      repo.hold()
      const layer = FlagClient.layerTest.pipe(Layer.provideMerge(cacheLayer(repo.layer)))
      yield* Effect.gen(function* () {
        yield* (yield* TestFlags).enableForSegments("beta", ["beta"])
        const all = yield* Effect.forkChild(
          Effect.all(
            Array.from({ length: 1000 }, () => FlagClient.evaluate("beta", id("cold"), false)),
            { concurrency: "unbounded" }
          )
        )
        // Every evaluation is waiting on the one lookup before it is let through.
        while ((yield* metric(ContextCacheMetrics.misses)) < 1000) yield* Effect.yieldNow
        assert.deepStrictEqual(repo.calls, ["cold"])
        yield* repo.release
        const results = yield* Fiber.join(all)
        assert.isTrue(results.every((r) => r.value === true && r.fallback === null && r.context === "full"))
        assert.deepStrictEqual(repo.calls, ["cold"])
        assert.strictEqual(yield* metric(ContextCacheMetrics.lookups), 1)
      }).pipe(Effect.provide(layer))
    }).pipe(Effect.provideService(Metric.MetricRegistry, new Map()))
  )

  it.effect(
    "a caller waits at most lookupTimeout, even for a lookup that can't be interrupted, and never cancels it",
    () =>
      Effect.gen(function* () {
        let started = 0
        let finished = 0
        const stuck = Layer.succeed(
          UserRepo,
          UserRepo.of({
            getById: (userId) =>
              Effect.uninterruptible(
                Effect.sync(() => started++).pipe(
                  Effect.andThen(Effect.sleep("5 seconds")),
                  Effect.andThen(Effect.sync(() => finished++)),
                  Effect.as(makeUser(userId, NOW, 3))
                )
              )
          })
        )
        yield* Effect.gen(function* () {
          const cache = yield* ContextCache
          const first = yield* Effect.forkChild(Effect.exit(cache.get("slow")))
          yield* TestClock.adjust("100 millis")
          const second = yield* Effect.forkChild(Effect.exit(cache.get("slow")))
          yield* TestClock.adjust("100 millis")
          const exit = yield* Fiber.join(first)
          assert.isTrue(Exit.isFailure(exit))
          assert.strictEqual(
            Exit.findErrorOption(exit).pipe((o) => (o._tag === "Some" ? o.value._tag : "none")),
            "UserRepoError"
          )
          assert.isUndefined(second.pollUnsafe())
          yield* TestClock.adjust("100 millis")
          assert.isTrue(Exit.isFailure(yield* Fiber.join(second)))
          assert.strictEqual(started, 1)
          assert.strictEqual(finished, 0)
          yield* TestClock.adjust("5 seconds")
          assert.strictEqual(finished, 1)
        }).pipe(Effect.provide(cacheLayer(stuck, { lookupTimeout: "200 millis" })))
      })
  )

  it.effect("a user whose only caller left before its lookup ended is still cached when it ends", () =>
    withCache(users, {}, (repo) =>
      Effect.gen(function* () {
        const cache = yield* ContextCache
        const now = yield* Clock.currentTimeMillis
        repo.hold()
        const caller = yield* Effect.forkChild(cache.get("user-0"))
        yield* Effect.yieldNow
        yield* Fiber.interrupt(caller)
        yield* repo.release
        yield* Effect.yieldNow
        assert.isDefined(cache.getCachedUnsafe("user-0", now))
        assert.strictEqual(repo.calls.length, 1)
      })
    )
  )

  it.effect("a user that expires between reading its entry and getting it is looked up again, not failed", () =>
    Effect.gen(function* () {
      // A clock that, once armed, moves one millisecond at every reading: the cache reads it when it
      // finds the entry live (999) and effect's Cache reads it again when it gets the entry (1000).
      let now = 0
      let armed = false
      const read = () => (armed ? now++ : now)
      const clock: Clock.Clock = {
        currentTimeMillisUnsafe: read,
        currentTimeMillis: Effect.sync(read),
        currentTimeNanosUnsafe: () => BigInt(read()) * 1_000_000n,
        currentTimeNanos: Effect.sync(() => BigInt(read()) * 1_000_000n),
        monotonicTimeNanosUnsafe: () => BigInt(read()) * 1_000_000n,
        monotonicTimeNanos: Effect.sync(() => BigInt(read()) * 1_000_000n),
        sleep: () => Effect.never
      }
      yield* withCache(users, { timeToLive: "1 second" }, (repo) =>
        Effect.gen(function* () {
          const cache = yield* ContextCache
          yield* cache.get("user-1")
          now = 999
          armed = true
          const again = yield* Effect.exit(cache.get("user-1"))
          armed = false
          assert.isTrue(Exit.isSuccess(again), "the expired entry is looked up, not answered with an error")
          assert.strictEqual(repo.calls.length, 2)
        })
      ).pipe(Effect.provideService(Clock.Clock, clock))
    })
  )

  it.effect(
    "a repository's lookupUnsafe that throws ends that lookup as a defect; the next caller looks up again",
    () =>
      Effect.gen(function* () {
        let calls = 0
        const user = makeUser("flaky", NOW, 3)
        const flaky = Layer.succeed(
          UserRepo,
          UserRepo.of({
            getById: () => Effect.succeed(user),
            lookupUnsafe: (_id, { onExit }) => {
              calls++
              if (calls === 1) throw new Error("boom")
              onExit(Exit.succeed(user))
              return () => {}
            }
          })
        )
        yield* Effect.gen(function* () {
          const cache = yield* ContextCache
          const first = yield* Effect.exit(cache.get("flaky"))
          assert.isTrue(Exit.isFailure(first) && Cause.hasDies(first.cause))
          const second = yield* cache.get("flaky")
          assert.strictEqual(second.key, "flaky")
          assert.strictEqual(calls, 2)
        }).pipe(Effect.provide(cacheLayer(flaky)))
      })
  )

  it.effect(
    "a lookup whose first caller is interrupted still ends at its deadline; the next caller looks up again",
    () =>
      Effect.gen(function* () {
        let started = 0
        const hanging = Layer.succeed(
          UserRepo,
          UserRepo.of({
            getById: () =>
              Effect.sync(() => {
                started++
              }).pipe(Effect.andThen(Effect.never))
          })
        )
        yield* Effect.gen(function* () {
          const cache = yield* ContextCache
          const first = yield* Effect.forkChild(cache.get("stuck"))
          yield* Effect.yieldNow
          assert.strictEqual(started, 1)
          yield* Fiber.interrupt(first)
          // The lookup's deadline passes: it is cancelled, though its first caller is gone.
          yield* TestClock.adjust("300 millis")
          const second = yield* Effect.forkChild(Effect.exit(cache.get("stuck")))
          yield* Effect.yieldNow
          assert.strictEqual(started, 2, "the next caller starts a lookup of its own")
          yield* TestClock.adjust("300 millis")
          assert.isTrue(Exit.isFailure(yield* Fiber.join(second)))
        }).pipe(Effect.provide(cacheLayer(hanging, { lookupTimeout: "200 millis" })))
      })
  )

  it.effect(
    "a user invalidated while its lookup runs is not cached from that lookup; waiting callers still answer",
    () =>
      Effect.gen(function* () {
        let calls = 0
        const slow = Layer.succeed(
          UserRepo,
          UserRepo.of({
            getById: (userId) =>
              Effect.suspend(() => {
                calls++
                return Effect.as(Effect.sleep("100 millis"), makeUser(userId, NOW, calls))
              })
          })
        )
        yield* Effect.gen(function* () {
          const cache = yield* ContextCache
          const first = yield* Effect.forkChild(cache.getUser("changing"))
          yield* TestClock.adjust("10 millis")
          yield* cache.invalidate("changing")
          yield* TestClock.adjust("100 millis")
          assert.strictEqual((yield* Fiber.join(first)).id, "changing")
          assert.strictEqual(yield* cache.size, 0)
          const second = yield* Effect.forkChild(cache.getUser("changing"))
          yield* TestClock.adjust("100 millis")
          yield* Fiber.join(second)
          assert.strictEqual(calls, 2)
          assert.strictEqual(yield* cache.size, 1)
          yield* cache.getUser("changing")
          assert.strictEqual(calls, 2)
        }).pipe(Effect.provide(cacheLayer(slow, { lookupTimeout: "1 second" })))
      })
  )

  it.effect("a failed lookup is never cached: the next call tries again", () =>
    Effect.gen(function* () {
      let calls = 0
      const flaky = Layer.succeed(
        UserRepo,
        UserRepo.of({
          getById: (userId) =>
            Effect.suspend(() =>
              ++calls === 1
                ? Effect.fail(new UserRepoError({ userId, reason: "Unavailable", cause: new Error("down") }))
                : Effect.succeed(makeUser(userId, NOW, 3))
            )
        })
      )
      yield* Effect.gen(function* () {
        const cache = yield* ContextCache
        const first = yield* Effect.exit(cache.get("flaky"))
        assert.isTrue(Exit.isFailure(first))
        assert.strictEqual((yield* cache.get("flaky")).key, "flaky")
        assert.strictEqual(calls, 2)
        yield* cache.get("flaky")
        assert.strictEqual(calls, 2)
      }).pipe(Effect.provide(cacheLayer(flaky)))
    })
  )

  it.effect("a hung repository is cut off by the lookup timeout, as UserRepoError Timeout, not cached", () =>
    Effect.gen(function* () {
      let calls = 0
      const hung = Layer.succeed(
        UserRepo,
        UserRepo.of({
          getById: () =>
            Effect.suspend(() => {
              calls++
              return Effect.never
            })
        })
      )
      yield* Effect.gen(function* () {
        const cache = yield* ContextCache
        for (let attempt = 1; attempt <= 2; attempt++) {
          const fiber = yield* Effect.forkChild(Effect.flip(cache.get("slow")))
          yield* TestClock.adjust("250 millis")
          const error = yield* Fiber.join(fiber)
          assert.deepStrictEqual(
            [error._tag, error._tag === "UserRepoError" ? error.reason : ""],
            ["UserRepoError", "Timeout"]
          )
          assert.strictEqual(calls, attempt)
        }
      }).pipe(Effect.provide(cacheLayer(hung, { lookupTimeout: "250 millis" })))
    })
  )

  it.effect("UserNotFound is cached for notFoundTimeToLive, then looked up again", () =>
    withCache([], { notFoundTimeToLive: "60 seconds" }, (repo) =>
      Effect.gen(function* () {
        const cache = yield* ContextCache
        const missing = () => Effect.flip(cache.get("ghost"))
        assert.strictEqual((yield* missing())._tag, "UserNotFound")
        assert.strictEqual((yield* missing())._tag, "UserNotFound")
        assert.strictEqual(repo.calls.length, 1)
        yield* TestClock.adjust("59 seconds")
        yield* missing()
        assert.strictEqual(repo.calls.length, 1)
        yield* TestClock.adjust("1 second")
        repo.set(makeUser("ghost", NOW, 1))
        assert.strictEqual((yield* cache.get("ghost")).key, "ghost")
        assert.strictEqual(repo.calls.length, 2)
      })
    )
  )

  it.effect("notFoundTimeToLive 0 never remembers a missing user", () =>
    withCache([], { notFoundTimeToLive: 0 }, (repo) =>
      Effect.gen(function* () {
        const cache = yield* ContextCache
        for (let i = 0; i < 3; i++) yield* Effect.flip(cache.get("ghost"))
        assert.strictEqual(repo.calls.length, 3)
        assert.strictEqual(yield* cache.size, 0)
      })
    )
  )

  it.effect("a loaded user is kept for timeToLive, then loaded again", () =>
    withCache(users, { timeToLive: "1 hour" }, (repo) =>
      Effect.gen(function* () {
        const cache = yield* ContextCache
        yield* cache.get("user-1")
        yield* TestClock.adjust("59 minutes")
        yield* cache.get("user-1")
        assert.strictEqual(repo.calls.length, 1)
        yield* TestClock.adjust("1 minute")
        yield* cache.get("user-1")
        assert.strictEqual(repo.calls.length, 2)
      })
    )
  )

  it.effect("capacity is never exceeded, and evictions are counted", () =>
    withCache(users, { capacity: 5 }, () =>
      Effect.gen(function* () {
        const cache = yield* ContextCache
        const now = yield* Clock.currentTimeMillis
        // Each user is asked for until it is popular enough to be admitted: 20 admitted, 5 kept.
        for (const user of users.slice(0, 20)) {
          let asked = 0
          do {
            yield* cache.get(user.id)
            assert.isAtMost(yield* cache.size, 5)
          } while (cache.getCachedUnsafe(user.id, now) === undefined && ++asked < 100)
          assert.isBelow(asked, 100)
        }
        assert.strictEqual(yield* metric(ContextCacheMetrics.evictions), 15)
        yield* Effect.all(
          users.slice(20).map((user) => cache.get(user.id)),
          { concurrency: "unbounded" }
        )
        assert.isAtMost(yield* cache.size, 5)
        assert.isAtMost(yield* metric(ContextCacheMetrics.evictions), 45)
        assert.strictEqual((yield* Metric.value(ContextCacheMetrics.size)).value, yield* cache.size)
      })
    )
  )

  it.effect("eviction spares a user that was used since it was loaded (second chance)", () =>
    withCache(users, { capacity: 3 }, (repo) =>
      Effect.gen(function* () {
        const cache = yield* ContextCache
        const now = yield* Clock.currentTimeMillis
        for (const userId of ["user-0", "user-1", "user-2"]) yield* cache.get(userId)
        assert.isDefined(cache.getCachedUnsafe("user-0", now))
        // Asked for twice, user-3 is more popular than user-1 (once) and takes its place.
        yield* cache.get("user-3")
        yield* cache.get("user-3")
        assert.isDefined(cache.getCachedUnsafe("user-0", now))
        assert.isUndefined(cache.getCachedUnsafe("user-1", now))
        assert.isDefined(cache.getCachedUnsafe("user-3", now))
        assert.deepStrictEqual(repo.calls, ["user-0", "user-1", "user-2", "user-3", "user-3"])
      })
    )
  )

  it.effect("admission - a user asked for once never evicts a popular one; it is answered, not kept", () =>
    withCache(users, { capacity: 2 }, (repo) =>
      Effect.gen(function* () {
        const cache = yield* ContextCache
        const now = yield* Clock.currentTimeMillis
        for (let i = 0; i < 5; i++) {
          yield* cache.get("user-0")
          yield* cache.get("user-1")
        }
        const once = yield* cache.get("user-2")
        assert.strictEqual(once.key, "user-2")
        assert.isDefined(cache.getCachedUnsafe("user-0", now))
        assert.isDefined(cache.getCachedUnsafe("user-1", now))
        assert.isUndefined(cache.getCachedUnsafe("user-2", now))
        assert.strictEqual(yield* metric(ContextCacheMetrics.evictions), 0)
        assert.strictEqual(yield* cache.size, 2)
        // Concurrent requests for a user not admitted still share one lookup.
        repo.hold()
        const calls = repo.calls.length
        const waiting = yield* Effect.forkChild(
          Effect.all(
            Array.from({ length: 100 }, () => cache.get("user-2")),
            { concurrency: "unbounded" }
          )
        )
        while ((yield* metric(ContextCacheMetrics.misses)) < 101) yield* Effect.yieldNow
        yield* repo.release
        assert.isTrue((yield* Fiber.join(waiting)).every((context) => context.key === "user-2"))
        assert.strictEqual(repo.calls.length, calls + 1)
        // Once it is asked for more often than the least popular entry, it is kept.
        for (let i = 0; i < 10; i++) yield* cache.get("user-2")
        assert.isDefined(cache.getCachedUnsafe("user-2", now))
        assert.strictEqual(yield* metric(ContextCacheMetrics.evictions), 1)
        assert.strictEqual(yield* cache.size, 2)
      })
    )
  )

  it.effect("account-age segments are right at evaluation time: a cached user moves bucket on time", () =>
    withCache([makeUser("aging", NOW, 7 - 1 / 24)], { timeToLive: "60 days" }, (repo) =>
      Effect.gen(function* () {
        yield* TestClock.setTime(NOW)
        const cache = yield* ContextCache
        const age = Effect.map(cache.get("aging"), (c) => [
          c.segments?.find((s) => s.endsWith("_user") && s !== "user"),
          c["account_age_days"]
        ])
        assert.deepStrictEqual(yield* age, ["new_user", 6])
        assert.deepStrictEqual(cache.getCachedUnsafe("aging", NOW + HOUR_MS - 1)?.segments?.includes("new_user"), true)
        yield* TestClock.adjust("1 hour")
        assert.deepStrictEqual(yield* age, ["recent_user", 7])
        assert.deepStrictEqual(cache.getCachedUnsafe("aging", NOW + 23 * DAY_MS + HOUR_MS)?.["account_age_days"], 30)
        yield* TestClock.adjust(`${23 * DAY_MS - 1} millis`)
        assert.deepStrictEqual(yield* age, ["recent_user", 29])
        yield* TestClock.adjust("1 millis")
        assert.deepStrictEqual(yield* age, ["established_user", 30])
        assert.strictEqual(repo.calls.length, 1)
      })
    )
  )

  it.effect("a flag on the new_user segment turns off when the cached user turns 7 days old", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(NOW)
      const layer = FlagClient.layerTestWith({
        users: [makeUser("aging", NOW, 7 - 1 / 24)],
        cache: { timeToLive: "60 days" }
      })
      yield* Effect.gen(function* () {
        yield* (yield* TestFlags).enableForSegments("onboarding", ["new_user"])
        assert.isTrue(yield* FlagClient.isEnabled("onboarding", id("aging")))
        assert.isTrue(yield* FlagClient.isEnabled("onboarding", id("aging")))
        yield* TestClock.adjust("1 hour")
        assert.isFalse(yield* FlagClient.isEnabled("onboarding", id("aging")))
      }).pipe(Effect.provide(layer))
    })
  )

  it.effect("invalidate and invalidateAll make the next request load the user again", () =>
    withCache(users, {}, (repo) =>
      Effect.gen(function* () {
        const cache = yield* ContextCache
        yield* cache.get("user-1")
        yield* cache.get("user-2")
        yield* cache.invalidate("user-1")
        yield* cache.get("user-1")
        yield* cache.get("user-2")
        assert.deepStrictEqual(repo.calls, ["user-1", "user-2", "user-1"])
        yield* cache.invalidateAll
        assert.strictEqual(yield* cache.size, 0)
        yield* cache.get("user-2")
        assert.deepStrictEqual(repo.calls, ["user-1", "user-2", "user-1", "user-2"])
      })
    )
  )

  it.effect("an invalid id fails with InvalidUserId, and neither the repository nor the cache sees it", () =>
    withCache(users, {}, (repo) =>
      Effect.gen(function* () {
        const cache = yield* ContextCache
        for (const bad of ["", "  ", "x".repeat(256)]) {
          assert.strictEqual((yield* Effect.flip(cache.get(bad)))._tag, "InvalidUserId")
        }
        assert.deepStrictEqual(repo.calls, [])
        assert.strictEqual(yield* cache.size, 0)
      })
    )
  )

  it.effect("metrics - hits, misses and lookups", () =>
    withCache(users, {}, () =>
      Effect.gen(function* () {
        const cache = yield* ContextCache
        yield* cache.get("user-1")
        yield* cache.get("user-1")
        cache.getCachedUnsafe("user-1", yield* Clock.currentTimeMillis)
        yield* Effect.flip(cache.get("ghost"))
        yield* Effect.flip(cache.get("ghost"))
        assert.deepStrictEqual(
          [
            yield* metric(ContextCacheMetrics.hits),
            yield* metric(ContextCacheMetrics.misses),
            yield* metric(ContextCacheMetrics.lookups)
          ],
          [3, 2, 2]
        )
      })
    )
  )

  it.effect("layerConfig - reads CONTEXT_CACHE_* from configuration", () =>
    Effect.gen(function* () {
      const repo = yield* countingRepo(users)
      const fromEnv = (env: Record<string, string>) =>
        ContextCache.layerConfig.pipe(
          Layer.provide(Layer.mergeAll(repo.layer, ContextBuilder.layer())),
          Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env })))
        )
      yield* Effect.gen(function* () {
        const cache = yield* ContextCache
        for (const user of users.slice(0, 4)) yield* cache.get(user.id)
        assert.strictEqual(yield* cache.size, 2)
        yield* Effect.flip(cache.get("ghost"))
        yield* Effect.flip(cache.get("ghost"))
        assert.strictEqual(repo.calls.filter((c) => c === "ghost").length, 2)
        yield* TestClock.adjust("2 hours")
        yield* cache.get("user-3")
        assert.strictEqual(repo.calls.filter((c) => c === "user-3").length, 2)
      }).pipe(
        Effect.provide(
          fromEnv({
            CONTEXT_CACHE_CAPACITY: "2",
            CONTEXT_CACHE_TTL: "2 hours",
            CONTEXT_CACHE_NOT_FOUND_TTL: "0 seconds",
            CONTEXT_CACHE_LOOKUP_TIMEOUT: "500 millis"
          })
        )
      )
      const invalid = yield* Effect.exit(Layer.build(fromEnv({ CONTEXT_CACHE_CAPACITY: "0" })).pipe(Effect.scoped))
      assert.isTrue(Exit.isFailure(invalid))
    })
  )
})
