/**
 * Fault suite: load. 64 concurrent callers for 10 seconds against the embedded database, with 1% of
 * the repository's lookups failing at random. Every call answers; the failures show in the
 * metrics as many as were injected; nothing is left running.
 */
import { assert, describe, it, layer } from "@effect/vitest"
import { DateTime, Effect, Exit, Fiber, Layer, Metric } from "effect"
import { ContextBuilder } from "../../src/ContextBuilder.js"
import { ContextCache, ContextCacheMetrics } from "../../src/ContextCache.js"
import { layerEmbedded } from "../../src/embedded.js"
import { FlagClient, FlagClientMetrics, TestFlags } from "../../src/FlagClient.js"
import { User, type UserId } from "../../src/User.js"
import { UserRepo, UserRepoError } from "../../src/UserRepo.js"
import { measureBurst } from "../../bench/burst.js"
import { fiberCount, sleepLive, watchProcess } from "../support/faults.js"
import { captureLogs } from "../support/launchdarkly.js"

const USERS = 5_000
const CALLERS = 64
const DURATION_MS = 10_000
const FAILURE_RATE = 0.01
const FLAG = "load-flag"

const users = Array.from(
  { length: USERS },
  (_, i) =>
    new User({
      id: `load-${i}` as UserId,
      email: `load-${i}@example.com`,
      email_verified: true,
      name: null,
      created_at: DateTime.makeUnsafe(Date.UTC(2024, 0, 1)),
      updated_at: DateTime.makeUnsafe(Date.UTC(2024, 0, 1)),
      metadata: { segments: ["beta"] }
    })
)

/** A small seeded generator (mulberry32): the same run every time. */
const random = (seed: number) => {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}

/** What the repository saw: every call, the failures injected, and the failures of its own. */
const repoStats = { calls: 0, injected: 0, ownFailures: 0 }
const failSome = random(2026)

/** The embedded repository, with 1% of its lookups failing as an unavailable store would. */
const FlakyRepo = Layer.effect(
  UserRepo,
  Effect.map(UserRepo, (inner) =>
    UserRepo.of({
      getById: (id) =>
        Effect.suspend(() => {
          repoStats.calls++
          if (failSome() < FAILURE_RATE) {
            repoStats.injected++
            return Effect.fail(
              new UserRepoError({ userId: id, reason: "Unavailable", cause: new Error("injected failure") })
            )
          }
          return Effect.tapError(inner.getById(id), () =>
            Effect.sync(() => {
              repoStats.ownFailures++
            })
          )
        })
    })
  )
).pipe(Layer.provide(layerEmbedded({ users, maxConnections: 8 })))

const logs = captureLogs()

// A small cache over many users: nearly every evaluation is a lookup.
const Stack = Layer.effectDiscard(TestFlags.use((flags) => flags.enableForSegments(FLAG, ["beta"]))).pipe(
  Layer.provideMerge(FlagClient.layerTest),
  Layer.provideMerge(ContextCache.layer({ capacity: 100, lookupTimeout: "2 seconds" })),
  Layer.provideMerge(Layer.mergeAll(FlakyRepo, ContextBuilder.layer())),
  Layer.provideMerge(logs.layer)
)

const evaluationsWith = (fallback: string) =>
  Effect.map(
    Metric.value(Metric.withAttributes(FlagClientMetrics.evaluations, { flag: FLAG, fallback })),
    (state) => state.count
  )

layer(Stack, { excludeTestServices: true, timeout: "60 seconds" })("faults - load", (it) => {
  it.effect(
    "64 callers for 10 s, 1% of lookups failing - every call answers, the failures show in the metrics",
    () =>
      Effect.gen(function* () {
        const watch = yield* watchProcess
        const fibers = fiberCount()
        const client = yield* FlagClient
        const lookupsBefore = (yield* Metric.value(ContextCacheMetrics.lookups)).count
        const statsBefore = { ...repoStats }
        const fallbacksBefore = yield* evaluationsWith("UserRepoUnavailable")
        const fullBefore = yield* evaluationsWith("none")
        const outcomes = { full: 0, fallback: 0, other: 0, unanswered: 0, failed: 0 }

        const deadline = Date.now() + DURATION_MS
        const caller = (seed: number) =>
          Effect.gen(function* () {
            const pick = random(seed)
            for (let i = 0; i < 1_000_000 && Date.now() < deadline; i++) {
              const userId = `load-${Math.floor(pick() * USERS)}` as UserId
              const exit = yield* Effect.exit(
                client.evaluate(FLAG, userId, false).pipe(Effect.timeoutOption("5 seconds"))
              )
              if (Exit.isFailure(exit)) outcomes.failed++
              else if (exit.value._tag === "None") outcomes.unanswered++
              else if (exit.value.value.fallback === null && exit.value.value.value === true) outcomes.full++
              else if (exit.value.value.fallback === "UserRepoUnavailable" && exit.value.value.context === "id-only")
                outcomes.fallback++
              else outcomes.other++
            }
          })
        const callers = yield* fibers.track(
          Effect.forEach(
            Array.from({ length: CALLERS }, (_, i) => i + 1),
            (seed) => Effect.forkChild(caller(seed))
          )
        )
        yield* Fiber.joinAll(callers)

        const report = JSON.stringify({ outcomes, repoStats, statsBefore })
        const total = outcomes.full + outcomes.fallback + outcomes.other + outcomes.unanswered + outcomes.failed
        // Every call answered, with the full context or the id-only fallback, and there were many.
        assert.strictEqual(outcomes.failed, 0, report)
        assert.strictEqual(outcomes.unanswered, 0, report)
        assert.strictEqual(outcomes.other, 0, report)
        assert.isAbove(total, 5_000, report)

        // Lookups: the cache's counter is the repository's count of calls.
        const lookups = (yield* Metric.value(ContextCacheMetrics.lookups)).count - lookupsBefore
        const calls = repoStats.calls - statsBefore.calls
        assert.strictEqual(lookups, calls, report)
        assert.isAbove(lookups, total * 0.5, `the cache is small, so most evaluations look up: ${report}`)

        // Failures: about 1% injected, and the evaluations answered with the fallback are as many as
        // the failed lookups (one failed lookup can answer a few callers waiting on the same user).
        const injected = repoStats.injected - statsBefore.injected
        const failedLookups = injected + (repoStats.ownFailures - statsBefore.ownFailures)
        assert.isAbove(injected, lookups * 0.005, report)
        assert.isBelow(injected, lookups * 0.02, report)
        const fallbacks = (yield* evaluationsWith("UserRepoUnavailable")) - fallbacksBefore
        assert.strictEqual(fallbacks, outcomes.fallback, report)
        assert.isAtLeast(fallbacks, failedLookups, report)
        assert.isAtMost(fallbacks, Math.ceil(failedLookups * 1.25) + 5, report)
        assert.strictEqual((yield* evaluationsWith("none")) - fullBefore, outcomes.full, report)
        // The database itself kept up: the failures are (nearly all) the injected ones.
        assert.isAtMost(failedLookups - injected, Math.max(5, injected * 0.1), report)

        // Nothing left running, nothing rejected unhandled.
        const until = Date.now() + 3_000
        while (fibers.running() > 0 && Date.now() < until) yield* sleepLive(20)
        assert.strictEqual(fibers.running(), 0, report)
        assert.deepStrictEqual(watch.problems(), [])
      }),
    30_000
  )
})

// ---------------------------------------------------------------------------------------------
// A cold burst: 10,000 users asked at once over a pool of 10 (the client's default), on the test
// database (the server of DATABASE_URL, else PGlite). Timing is the benchmark's business
// (`bench/burst.ts`); here every answer must arrive, right or the id-only fallback.
// ---------------------------------------------------------------------------------------------

const BURST_USERS = 10_000

describe("faults - load (cold burst)", () => {
  it.live(
    "10,000 concurrent cold users, pool of 10 - every answer arrives, the full context or the id-only fallback",
    () =>
      Effect.promise(() => measureBurst({ users: BURST_USERS, lookupTimeout: "1 second", memoryBaseline: false })).pipe(
        Effect.tap((result) => {
          const report = JSON.stringify(result)
          assert.strictEqual(result.full + result.idOnly + result.wrong, BURST_USERS, report)
          assert.strictEqual(result.wrong, 0, report)
          return Effect.void
        })
      ),
    120_000
  )
})
