/**
 * Fault suite, unbounded flag keys: a caller that sends 100,000 distinct flag keys the SDK does not
 * know must not grow the process. Measured on the heap after a full GC (the issue saw ≈ 98 MB
 * kept for 100,000 keys, ≈ 1 KB per key, before per-key state was bounded).
 */
import { assert, describe, it } from "@effect/vitest"
import { setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"
import { Effect, Layer, Metric } from "effect"
import { ContextBuilder } from "../../src/ContextBuilder.js"
import { ContextCache } from "../../src/ContextCache.js"
import { FlagClient, FlagClientMetrics } from "../../src/FlagClient.js"
import { UserId } from "../../src/User.js"
import { UserRepo } from "../../src/UserRepo.js"
import { makeUser } from "../support/launchdarkly.js"

// `global.gc` without `--expose-gc` on the command line: the flag is honoured by a new context.
setFlagsFromString("--expose-gc")
const gc = runInNewContext("gc") as () => void

const heapAfterGc = (): number => {
  for (let i = 0; i < 3; i++) gc()
  return process.memoryUsage().heapUsed
}

const user = makeUser("present", Date.UTC(2026, 0, 1), 10, [])

const layer = FlagClient.layerTest.pipe(
  Layer.provide(
    ContextCache.layer().pipe(Layer.provide(Layer.mergeAll(UserRepo.layerMemory([user]), ContextBuilder.layer())))
  )
)

const evaluateDistinct = (prefix: string, count: number) =>
  Effect.gen(function* () {
    for (let i = 0; i < count; i++) yield* FlagClient.isEnabled(`${prefix}-${i}`, UserId.make("present"))
  })

describe("faults - flag keys", () => {
  it.effect("100,000 distinct unknown flag keys keep the heap flat after GC (< 8 MiB growth)", () =>
    Effect.gen(function* () {
      yield* Effect.gen(function* () {
        // Warm up every code path (SDK log limiter, metric series, JIT) before the baseline.
        yield* evaluateDistinct("warm", 2_000)
        const before = heapAfterGc()
        yield* evaluateDistinct("attack", 100_000)
        const after = heapAfterGc()
        const series = (yield* Metric.snapshot).filter((metric) => metric.id === FlagClientMetrics.evaluations.id)
        assert.isAtMost(series.length, 2, "unknown keys share one series")
        const growth = after - before
        assert.isBelow(growth, 8 * 1024 * 1024, `heap grew by ${(growth / 1024 / 1024).toFixed(1)} MiB`)
      }).pipe(Effect.provide(layer))
    }).pipe(Effect.provideService(Metric.MetricRegistry, new Map()))
  )
})
