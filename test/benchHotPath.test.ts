/**
 * `bench/hotPath.ts` at a tiny scale: every competitor, `FlagClient` and the SDK on the context in
 * today's shape and in the 0.1 shape, answers the same. Behaviour only; the timings live in
 * `docs/benchmarks.md`.
 */
import { assert, describe, it } from "@effect/vitest"
import { measureHotPath } from "../bench/hotPath.js"

describe("benchmarks", () => {
  it("hot path - every competitor answers the same, on today's context and the 0.1 shape", {
    timeout: 60_000
  }, async () => {
    const result = await measureHotPath({ iterations: 20, rounds: 2, warmup: 20, alternativesIterations: 10 })
    assert.isTrue(result.agreed)
    assert.strictEqual(result.results.length, 7)
    assert.strictEqual(result.concurrent.length, 3)
    assert.strictEqual(result.alternatives.length, 3)
  })
})
