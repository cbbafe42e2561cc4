import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer, Metric, Tracer } from "effect"
import { ContextBuilder } from "../src/ContextBuilder.js"
import { ContextCache, ContextCacheMetrics } from "../src/ContextCache.js"
import { FlagClient, FlagClientMetrics, TestFlags } from "../src/FlagClient.js"
import type { UserId } from "../src/User.js"
import { countingRepo, makeUser } from "./support/launchdarkly.js"

// The hot path (a cached user, an SDK that answers synchronously) waits for the SDK's promise every
// 64 answers, and shares one reading of the default clock among the evaluations of a microtask.
// These tests hold what must not change with that: answers, counts, `runSync`, and expiry on the
// real clock.

const present = makeUser("present", Date.now(), 10, ["beta"])
const id = (value: string) => value as UserId

const count = (flag: string, fallback: string) =>
  Effect.map(Metric.value(Metric.withAttributes(FlagClientMetrics.evaluations, { flag, fallback })), (s) => s.count)
const hits = Effect.map(Metric.value(ContextCacheMetrics.hits), (s) => s.count)

describe("FlagClient - hot path", () => {
  it.live("300 evaluations in a row, in 8 fibers: every answer right, every one counted, every hit counted", () =>
    Effect.gen(function* () {
      yield* (yield* TestFlags).enableForSegments("beta", ["beta"])
      assert.isTrue(yield* FlagClient.isEnabled("beta", id("present")))
      const before = yield* hits
      const answers = yield* Effect.forEach(
        Array.from({ length: 8 }, (_, fiber) => fiber),
        () =>
          Effect.gen(function* () {
            const seen: Array<boolean> = []
            for (let i = 0; i < 300; i++) seen.push(yield* FlagClient.isEnabled("beta", id("present")))
            return seen
          }),
        { concurrency: "unbounded" }
      )
      assert.isTrue(answers.flat().every((value) => value))
      assert.strictEqual(answers.flat().length, 2400)
      assert.strictEqual(yield* count("beta", "none"), 2401)
      assert.strictEqual((yield* hits) - before, 2400)
    }).pipe(
      Effect.provide(FlagClient.layerTestWith({ users: [present] })),
      Effect.provideService(Metric.MetricRegistry, new Map())
    )
  )

  it.live("Effect.runSync - 300 evaluations of a cached user still answer synchronously", () =>
    Effect.gen(function* () {
      const services = yield* Layer.build(FlagClient.layerTestWith({ users: [present] }))
      const client = Context.get(services, FlagClient)
      yield* Context.get(services, TestFlags).enable("on")
      assert.isTrue(yield* client.isEnabled("on", id("present")))
      const loop = Effect.gen(function* () {
        let on = 0
        for (let i = 0; i < 300; i++) if (yield* client.isEnabled("on", id("present"))) on++
        const evaluation = yield* client.evaluate("on", id("present"), false)
        return [on, evaluation.value] as const
      })
      assert.deepStrictEqual(Effect.runSync(loop), [300, true])
    }).pipe(Effect.scoped)
  )

  it.live("span events - recorded for every evaluation, the ones that wait for the SDK included", () =>
    Effect.gen(function* () {
      yield* (yield* TestFlags).enable("on")
      const span = yield* Effect.gen(function* () {
        for (let i = 0; i < 130; i++) assert.isTrue(yield* FlagClient.isEnabled("on", id("present")))
        return yield* Effect.currentSpan
      }).pipe(Effect.withSpan("request"))
      assert.instanceOf(span, Tracer.NativeSpan)
      const events = (span as Tracer.NativeSpan).events.filter(([name]) => name === "feature_flag.evaluation")
      assert.strictEqual(events.length, 130)
    }).pipe(Effect.provide(FlagClient.layerTestWith({ users: [present] })))
  )

  it.live("the default clock - a cached user expires after its time to live", () =>
    Effect.gen(function* () {
      const repo = yield* countingRepo([present])
      const layer = FlagClient.layerTest.pipe(
        Layer.provideMerge(
          ContextCache.layer({ timeToLive: "50 millis" }).pipe(
            Layer.provide(Layer.mergeAll(repo.layer, ContextBuilder.layer()))
          )
        )
      )
      yield* Effect.gen(function* () {
        yield* (yield* TestFlags).enable("on")
        for (let i = 0; i < 100; i++) assert.isTrue(yield* FlagClient.isEnabled("on", id("present")))
        assert.deepStrictEqual(repo.calls, ["present"])
        yield* Effect.sleep("80 millis")
        assert.isTrue(yield* FlagClient.isEnabled("on", id("present")))
        assert.deepStrictEqual(repo.calls, ["present", "present"])
      }).pipe(Effect.provide(layer))
    })
  )
})
