/**
 * The benchmarks' statement counts, at a small scale: counts are behaviour, not timing, so they are
 * asserted here (the timings live in `docs/benchmarks.md`, written by `npm run bench`). On the
 * server of `DATABASE_URL` when it is set, else on embedded Postgres.
 */
import { assert, describe, it } from "@effect/vitest"
import { measureFanOut } from "../bench/fanOut.js"
import { measureSkewedLoad } from "../bench/skewedLoad.js"
import { measureStampede } from "../bench/stampede.js"

describe("benchmarks", () => {
  it("stampede - concurrent evaluations of one cold user send exactly one statement", { timeout: 60_000 }, async () => {
    const result = await measureStampede({ concurrency: 200 })
    assert.strictEqual(result.statements, 1)
    assert.strictEqual(result.lookups, 1)
    assert.strictEqual(result.fullContexts, 200)
  })

  it("cold fan-out - 600 cold users are loaded in at most 10 statements", { timeout: 60_000 }, async () => {
    const result = await measureFanOut({ users: 600, repetitions: 1, baseline: false })
    assert.isAtMost(result.batched.statements, 10)
    assert.isAtLeast(result.batched.lookups, 2, "more ids than one batch holds (500) take a second statement")
    assert.strictEqual(result.batched.fullContexts, 600)
  })

  it("skewed load - callers resumed from one batch ask again together: statements stay full", {
    timeout: 60_000
  }, async () => {
    const result = await measureSkewedLoad({ evaluations: 20_000, users: 10_000, callers: 64 })
    const idsPerStatement = result.loadsPer10k / result.statementsPer10k
    // Each caller misses about once per batch cycle: a statement carries most of the 64 callers'
    // ids, unless the next batch leaves before the callers that wait on the SDK's promise ask.
    assert.isAtLeast(idsPerStatement, 48)
    assert.strictEqual(result.fallbackShare, 0)
  })
})
