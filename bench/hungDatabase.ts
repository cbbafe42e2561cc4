/**
 * The hung database: a loopback TCP listener that accepts connections and never answers, standing
 * in for a Postgres that stopped responding. Every evaluation must answer within the lookup
 * timeout (plus a little), with the id-only fallback.
 *
 * `callers` fibers each evaluate `rounds` distinct users one after another, so later rounds meet
 * a pool whose earlier connection attempts are still hanging.
 */
import { PgClient } from "@effect/sql-pg"
import { Context, Duration, Effect, Layer } from "effect"
import { contextCacheDefaults } from "../src/ContextCache.js"
import { FlagClient } from "../src/FlagClient.js"
import { UserRepo } from "../src/UserRepo.js"
import { hungListener } from "../test/support/faults.js"
import { benchFlag, flagStack, flagsFile, quietLogs, userId } from "./fixtures.js"
import { quantile, since } from "./harness.js"

/** Options of {@link measureHungDatabase}. */
export interface HungDatabaseOptions {
  /** Concurrent callers. Default 64. */
  readonly callers?: number | undefined
  /** Evaluations per caller, one after another. Default 4. */
  readonly rounds?: number | undefined
  /** The cache's lookup timeout (and the repository's). Default the library's, 1 second. */
  readonly lookupTimeout?: Duration.Input | undefined
}

export interface HungDatabaseResult {
  readonly callers: number
  readonly evaluations: number
  readonly lookupTimeoutMs: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly maxMs: number
  /** Evaluations answered with the id-only context and the `UserRepoUnavailable` fallback (target: all). */
  readonly idOnly: number
  /** Connections the listener accepted (and never answered). */
  readonly connections: number
}

export const measureHungDatabase = async (options: HungDatabaseOptions = {}): Promise<HungDatabaseResult> => {
  const callers = options.callers ?? 64
  const rounds = options.rounds ?? 4
  const lookupTimeout = options.lookupTimeout ?? contextCacheDefaults.lookupTimeout
  const lookupTimeoutMs = Duration.toMillis(Duration.fromInputUnsafe(lookupTimeout))

  const program = Effect.gen(function* () {
    const listener = yield* hungListener
    const path = yield* flagsFile
    const database = PgClient.layer({
      host: listener.host,
      port: listener.port,
      username: "postgres",
      database: "postgres",
      applicationName: "efc-bench-hung"
    })
    const services = yield* Layer.build(
      flagStack(path, UserRepo.layerPg({ timeout: lookupTimeout }), { lookupTimeout }).pipe(Layer.provide(database))
    )
    const client = Context.get(services, FlagClient)

    const latencies: Array<number> = []
    let idOnly = 0
    yield* Effect.forEach(
      Array.from({ length: callers }, (_, caller) => caller),
      (caller) =>
        Effect.gen(function* () {
          for (let round = 0; round < rounds; round++) {
            const start = performance.now()
            const evaluation = yield* client.evaluate(benchFlag, userId(round * callers + caller), false)
            latencies.push(since(start))
            if (evaluation.context === "id-only" && evaluation.fallback === "UserRepoUnavailable") idOnly++
          }
        }),
      { concurrency: "unbounded", discard: true }
    )
    const sorted = latencies.sort((a, b) => a - b)
    return {
      callers,
      evaluations: sorted.length,
      lookupTimeoutMs,
      p50Ms: quantile(sorted, 0.5),
      p99Ms: quantile(sorted, 0.99),
      maxMs: sorted[sorted.length - 1] ?? Number.NaN,
      idOnly,
      connections: listener.accepted()
    }
  })
  return Effect.runPromise(quietLogs(Effect.scoped(program)))
}
