/**
 * The skewed load: evaluations for users drawn from a Zipf distribution (a few users are asked for
 * very often, most rarely), through a cache much smaller than the population, by concurrent
 * callers. The cache starts cold; the draws come from a seeded generator, so every run asks for
 * the same users in the same order.
 */
import { monitorEventLoopDelay } from "node:perf_hooks"
import { Context, Effect, Layer } from "effect"
import { FlagClient } from "../src/FlagClient.js"
import type { UserId } from "../src/User.js"
import { UserRepo } from "../src/UserRepo.js"
import { directClient, openDatabase, statementCounter } from "./database.js"
import { benchFlag, flagStack, flagsFile, quietLogs, userId } from "./fixtures.js"
import { quantile, since, watchLoop } from "./harness.js"

/** Options of {@link measureSkewedLoad}. */
export interface SkewedLoadOptions {
  /** Default 200,000. */
  readonly evaluations?: number | undefined
  /** The population, all in the database. Default 100,000. */
  readonly users?: number | undefined
  /** The Zipf exponent. Default 1.1. */
  readonly s?: number | undefined
  /** The cache's capacity. Default 1000. */
  readonly capacity?: number | undefined
  /** Concurrent callers. Default 64. */
  readonly callers?: number | undefined
}

export interface SkewedLoadResult {
  readonly database: "external" | "embedded"
  readonly evaluations: number
  readonly users: number
  readonly s: number
  readonly capacity: number
  readonly callers: number
  readonly seedMs: number
  readonly wallMs: number
  readonly evaluationsPerSecond: number
  readonly p50Us: number
  readonly p99Us: number
  /** p99 of the evaluations after the first tenth (the cache warmed up), µs. */
  readonly warmP99Us: number
  readonly statements: number
  readonly statementsPer10k: number
  /** Users loaded from the database (ids across lookup statements), per 10,000 evaluations. */
  readonly loadsPer10k: number
  /** Share of evaluations that used the id-only fallback (none expected). */
  readonly fallbackShare: number
  /** The share of draws that fall on the `capacity` most popular users: what a perfect cache would hit. */
  readonly topShare: number
  /** Event-loop delay during the run (`monitorEventLoopDelay`, 1 ms resolution): p99 and max, in ms. */
  readonly loopDelayP99Ms: number
  readonly loopDelayMaxMs: number
  /**
   * The longest stretch the event loop was kept from a 1 ms timer, GC pauses inside it subtracted:
   * the library's (and the driver's) longest block of work, in ms.
   */
  readonly longestBlockMs: number
  /** The longest GC pause during the run, and the share of the run spent in GC. */
  readonly gcMaxMs: number
  readonly gcShare: number
}

/** A seeded 32-bit generator (mulberry32), uniform in [0, 1). */
const mulberry32 = (seed: number) => {
  let a = seed >>> 0
  return (): number => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** `count` ranks in 0 … n-1 drawn from Zipf(s): rank k with probability ∝ 1 / (k + 1)^s. */
export const zipfDraws = (
  n: number,
  s: number,
  count: number,
  seed = 42
): { draws: Uint32Array; cdf: Float64Array } => {
  const cdf = new Float64Array(n)
  let total = 0
  for (let k = 0; k < n; k++) {
    total += 1 / (k + 1) ** s
    cdf[k] = total
  }
  for (let k = 0; k < n; k++) cdf[k] = (cdf[k] ?? 0) / total
  const random = mulberry32(seed)
  const draws = new Uint32Array(count)
  for (let i = 0; i < count; i++) {
    const u = random()
    let lo = 0
    let hi = n - 1
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if ((cdf[mid] ?? 1) < u) lo = mid + 1
      else hi = mid
    }
    draws[i] = lo
  }
  return { draws, cdf }
}

export const measureSkewedLoad = async (options: SkewedLoadOptions = {}): Promise<SkewedLoadResult> => {
  const evaluations = options.evaluations ?? 200_000
  const users = options.users ?? 100_000
  const s = options.s ?? 1.1
  const capacity = options.capacity ?? 1000
  const callers = options.callers ?? 64
  const { draws, cdf } = zipfDraws(users, s, evaluations)
  const ids: ReadonlyArray<UserId> = Array.from(draws, (rank) => userId(rank))

  const program = Effect.gen(function* () {
    const database = yield* openDatabase
    const seedStart = performance.now()
    yield* database.seed(0, users)
    const seedMs = since(seedStart)
    const path = yield* flagsFile
    // A direct connection: the recording proxy would run in this process and be measured too.
    const services = yield* Layer.build(
      flagStack(path, UserRepo.layerPg(), { capacity }).pipe(Layer.provide(directClient(database)))
    )
    const client = Context.get(services, FlagClient)
    const counter = statementCounter()

    const latencies = new Float64Array(evaluations)
    let next = 0
    let fallbacks = 0
    const caller = Effect.gen(function* () {
      for (let i = next++; i < evaluations; i = next++) {
        const start = performance.now()
        const evaluation = yield* client.evaluate(benchFlag, ids[i] ?? userId(0), false)
        latencies[i] = performance.now() - start
        if (evaluation.fallback !== null) fallbacks++
      }
    })
    const loopDelay = monitorEventLoopDelay({ resolution: 1 })
    loopDelay.enable()
    const stopWatching = watchLoop()
    const start = performance.now()
    yield* Effect.forEach(Array.from({ length: callers }), () => counter.counting(caller), {
      concurrency: "unbounded",
      discard: true
    })
    const wallMs = since(start)
    loopDelay.disable()
    const loop = yield* Effect.promise(stopWatching)
    const count = { statements: counter.statements, ids: counter.ids }
    const sorted = Array.from(latencies).sort((a, b) => a - b)
    // The same after the cache has warmed up: the evaluations after the first tenth.
    const warmed = Array.from(latencies.subarray(Math.floor(evaluations / 10))).sort((a, b) => a - b)
    return {
      database: database.db.kind,
      evaluations,
      users,
      s,
      capacity,
      callers,
      seedMs,
      wallMs,
      evaluationsPerSecond: evaluations / (wallMs / 1000),
      p50Us: quantile(sorted, 0.5) * 1000,
      p99Us: quantile(sorted, 0.99) * 1000,
      warmP99Us: quantile(warmed, 0.99) * 1000,
      statements: count.statements,
      statementsPer10k: (count.statements * 10_000) / evaluations,
      loadsPer10k: (count.ids * 10_000) / evaluations,
      fallbackShare: fallbacks / evaluations,
      topShare: cdf[Math.min(capacity, users) - 1] ?? 1,
      loopDelayP99Ms: loopDelay.percentile(99) / 1e6,
      loopDelayMaxMs: loopDelay.max / 1e6,
      ...loop
    }
  })
  return Effect.runPromise(quietLogs(Effect.scoped(program)))
}
