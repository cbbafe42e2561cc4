/**
 * The hit rate of the context cache on the skewed workload of `skewedLoad.ts` (Zipf s = 1.1 over
 * 100,000 users, capacity 1,000), without a database: the in-memory repository, so that only the
 * cache's admission and eviction decide. Compared with an oracle that holds the `capacity` most
 * popular users (the share of draws that fall on them).
 */
import { Effect, Layer, Metric } from "effect"
import { ContextBuilder } from "../src/ContextBuilder.js"
import { ContextCache, ContextCacheMetrics } from "../src/ContextCache.js"
import { UserRepo } from "../src/UserRepo.js"
import { makeUser, userId } from "./fixtures.js"
import { zipfDraws } from "./skewedLoad.js"

/** Options of {@link measureHitRate}. */
export interface HitRateOptions {
  readonly evaluations?: number | undefined
  readonly users?: number | undefined
  readonly s?: number | undefined
  readonly capacity?: number | undefined
  readonly callers?: number | undefined
}

export interface HitRateResult {
  readonly evaluations: number
  readonly users: number
  readonly capacity: number
  readonly callers: number
  /** Requests answered from the cache, over all requests. */
  readonly hitRate: number
  /** What a cache holding the `capacity` most popular users would hit. */
  readonly oracle: number
  readonly evictions: number
  readonly maxSize: number
}

export const measureHitRate = async (options: HitRateOptions = {}): Promise<HitRateResult> => {
  const evaluations = options.evaluations ?? 200_000
  const users = options.users ?? 100_000
  const s = options.s ?? 1.1
  const capacity = options.capacity ?? 1000
  const callers = options.callers ?? 64
  const { draws, cdf } = zipfDraws(users, s, evaluations)
  const population = Array.from({ length: users }, (_, i) => makeUser(i))

  const program = Effect.gen(function* () {
    const cache = yield* ContextCache
    let next = 0
    let maxSize = 0
    const caller = Effect.gen(function* () {
      for (let i = next++; i < evaluations; i = next++) {
        yield* Effect.ignore(cache.get(userId(draws[i] ?? 0)))
        const size = yield* cache.size
        if (size > maxSize) maxSize = size
      }
    })
    yield* Effect.forEach(Array.from({ length: callers }), () => caller, { concurrency: "unbounded", discard: true })
    const hits = (yield* Metric.value(ContextCacheMetrics.hits)).count
    const misses = (yield* Metric.value(ContextCacheMetrics.misses)).count
    const evictions = (yield* Metric.value(ContextCacheMetrics.evictions)).count
    return {
      evaluations,
      users,
      capacity,
      callers,
      hitRate: hits / (hits + misses),
      oracle: cdf[Math.min(capacity, users) - 1] ?? 1,
      evictions,
      maxSize
    }
  }).pipe(
    Effect.provide(
      ContextCache.layer({ capacity }).pipe(
        Layer.provide(Layer.mergeAll(UserRepo.layerMemory(population), ContextBuilder.layer()))
      )
    ),
    Effect.provideService(Metric.MetricRegistry, new Map())
  )
  return Effect.runPromise(program)
}
