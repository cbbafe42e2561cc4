/**
 * The cold burst: `users` distinct users that are not cached, all asked at once, over a pool of 10
 * connections. Every answer must arrive within the lookup timeout (plus a little): the full
 * context when the lookup made it in time, the id-only fallback otherwise, never a late answer.
 *
 * The test database is the tests' `TestDatabase` (the server of `DATABASE_URL`, else PGlite).
 */
import { Context, Duration, Effect, Layer } from "effect"
import { FlagClient } from "../src/FlagClient.js"
import { UserRepo } from "../src/UserRepo.js"
import { openDatabase } from "./database.js"
import { benchFlag, flagStack, flagsFile, isBeta, quietLogs, userId } from "./fixtures.js"
import { quantile, since } from "./harness.js"

/** Options of {@link measureBurst}. */
export interface BurstOptions {
  /** Distinct cold users asked at once. Default 10,000. */
  readonly users?: number | undefined
  /** The cache's lookup timeout (and the repository's). Default 1 second. */
  readonly lookupTimeout?: Duration.Input | undefined
}

export interface BurstResult {
  readonly database: "external" | "embedded"
  readonly users: number
  readonly lookupTimeoutMs: number
  /** Answers with the full context and the right value. */
  readonly full: number
  /** Answers with the id-only context and the `UserRepoUnavailable` fallback. */
  readonly idOnly: number
  /** Anything else: a wrong value or another fallback (target: 0). */
  readonly wrong: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly maxMs: number
}

export const measureBurst = async (options: BurstOptions = {}): Promise<BurstResult> => {
  const users = options.users ?? 10_000
  const lookupTimeout = options.lookupTimeout ?? Duration.seconds(1)
  const lookupTimeoutMs = Duration.toMillis(Duration.fromInputUnsafe(lookupTimeout))

  const program = Effect.gen(function* () {
    const database = yield* openDatabase
    yield* database.seed(0, users)
    const path = yield* flagsFile
    // The recorded client of the test database: a pool of 10 connections (the client's default).
    const services = yield* Layer.build(
      flagStack(path, UserRepo.layerPg({ table: `${database.db.schema}.User`, timeout: lookupTimeout }), {
        lookupTimeout,
        capacity: users
      }).pipe(Layer.provide(Layer.succeedContext(database.services)))
    )
    const client = Context.get(services, FlagClient)

    const latencies: Array<number> = []
    let full = 0
    let idOnly = 0
    let wrong = 0
    yield* Effect.forEach(
      Array.from({ length: users }, (_, i) => i),
      (i) =>
        Effect.gen(function* () {
          const start = performance.now()
          const evaluation = yield* client.evaluate(benchFlag, userId(i), false)
          latencies.push(since(start))
          const expected = isBeta(i)
          if (evaluation.context === "full" && evaluation.fallback === null && evaluation.value === expected) full++
          else if (evaluation.context === "id-only" && evaluation.fallback === "UserRepoUnavailable") idOnly++
          else wrong++
        }),
      { concurrency: "unbounded", discard: true }
    )
    const sorted = latencies.sort((a, b) => a - b)
    return {
      database: database.db.kind,
      users,
      lookupTimeoutMs,
      full,
      idOnly,
      wrong,
      p50Ms: quantile(sorted, 0.5),
      p99Ms: quantile(sorted, 0.99),
      maxMs: sorted[sorted.length - 1] ?? Number.NaN
    }
  })
  return Effect.runPromise(quietLogs(Effect.scoped(program)))
}
