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
import { benchFlag, flagStack, flagsFile, isBeta, makeUser, quietLogs, userId } from "./fixtures.js"
import { quantile, since } from "./harness.js"

/** Options of {@link measureBurst}. */
export interface BurstOptions {
  /** Distinct cold users asked at once. Default 10,000. */
  readonly users?: number | undefined
  /** The cache's lookup timeout (and the repository's). Default 1 second. */
  readonly lookupTimeout?: Duration.Input | undefined
  /** Also measure the in-memory baseline (`memoryCpuUsPerUser`). Default `true`. */
  readonly memoryBaseline?: boolean | undefined
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
  /** From the first caller's start to the last one's: how long starting the callers kept the loop. */
  readonly startSpreadMs: number
  /** Process CPU (user + system) during the burst, per user: the miss path and the evaluation. */
  readonly cpuUsPerUser: number
  /** The same burst over the in-memory repository (no database), CPU per user: median of 3 rounds after a warm-up; `NaN` when not measured. */
  readonly memoryCpuUsPerUser: number
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
    let firstStart = Number.POSITIVE_INFINITY
    let lastStart = Number.NEGATIVE_INFINITY
    const cpu = process.cpuUsage()
    let full = 0
    let idOnly = 0
    let wrong = 0
    yield* Effect.forEach(
      Array.from({ length: users }, (_, i) => i),
      (i) =>
        Effect.gen(function* () {
          const start = performance.now()
          if (start < firstStart) firstStart = start
          if (start > lastStart) lastStart = start
          const evaluation = yield* client.evaluate(benchFlag, userId(i), false)
          latencies.push(since(start))
          const expected = isBeta(i)
          if (evaluation.context === "full" && evaluation.fallback === null && evaluation.value === expected) full++
          else if (evaluation.context === "id-only" && evaluation.fallback === "UserRepoUnavailable") idOnly++
          else wrong++
        }),
      { concurrency: "unbounded", discard: true }
    )
    const used = process.cpuUsage(cpu)
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
      maxMs: sorted[sorted.length - 1] ?? Number.NaN,
      startSpreadMs: lastStart - firstStart,
      cpuUsPerUser: (used.user + used.system) / users
    }
  })
  const measured = await Effect.runPromise(quietLogs(Effect.scoped(program)))
  const memoryCpuUsPerUser = options.memoryBaseline === false ? Number.NaN : await measureMemoryMissCpu(users)
  return { ...measured, memoryCpuUsPerUser }
}

/**
 * CPU per cold user with the in-memory repository: `users` distinct cold users at once, four
 * rounds over fresh users (the first one warms up), the median of the last three.
 */
export const measureMemoryMissCpu = (users: number): Promise<number> => {
  const rounds = 4
  const population = Array.from({ length: users * rounds }, (_, i) => makeUser(i))
  const program = Effect.gen(function* () {
    const path = yield* flagsFile
    const services = yield* Layer.build(flagStack(path, UserRepo.layerMemory(population), { capacity: users * rounds }))
    const client = Context.get(services, FlagClient)
    const perUser: Array<number> = []
    for (let round = 0; round < rounds; round++) {
      const cpu = process.cpuUsage()
      yield* Effect.forEach(
        Array.from({ length: users }, (_, i) => round * users + i),
        (i) => client.evaluate(benchFlag, userId(i), false),
        { concurrency: "unbounded", discard: true }
      )
      const used = process.cpuUsage(cpu)
      if (round > 0) perUser.push((used.user + used.system) / users)
    }
    return quantile(
      perUser.sort((a, b) => a - b),
      0.5
    )
  })
  return Effect.runPromise(quietLogs(Effect.scoped(program)))
}
