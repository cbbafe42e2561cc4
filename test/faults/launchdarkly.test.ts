/**
 * Fault suite: LaunchDarkly misbehaves. A loopback stand-in takes its place through
 * `baseUri`/`streamUri`/`eventsUri` and answers 401, answers 503 and then recovers, or hangs;
 * the real SDK and the production `FlagClient.layerWith` are on top.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Redacted } from "effect"
import { ContextBuilder } from "../../src/ContextBuilder.js"
import { ContextCache } from "../../src/ContextCache.js"
import { FlagClient, FlagClientInitError, type FlagClientOptions } from "../../src/FlagClient.js"
import type { UserId } from "../../src/User.js"
import { UserRepo } from "../../src/UserRepo.js"
import {
  hang,
  hungListener,
  type LaunchDarklyStandIn,
  launchDarklyStandIn,
  serve,
  sleepLive,
  status,
  watchProcess
} from "../support/faults.js"
import { captureLogs, eventually, type LogLine, makeUser, segmentFlag } from "../support/launchdarkly.js"

const NOW = Date.now()
const present = makeUser("present", NOW, 10, ["beta"])
const userId = present.id as UserId
const VARIANT = segmentFlag("variant", "beta", ["beta-variant", "everyone-variant"])
const FLAGS = { variant: VARIANT }

const cache = ContextCache.layer({ lookupTimeout: "1 second" }).pipe(
  Layer.provide(Layer.mergeAll(UserRepo.layerMemory([present]), ContextBuilder.layer()))
)

type Transport = "streaming" | "polling"

/** The production client pointed at `uri`, quiet (no events, no diagnostics), retrying fast. */
const options = (uri: string, transport: Transport, extra: Partial<FlagClientOptions> = {}): FlagClientOptions => ({
  sdkKey: Redacted.make("sdk-key-of-the-fault-suite"),
  baseUri: uri,
  streamUri: uri,
  eventsUri: uri,
  initTimeout: "3 seconds",
  ...extra,
  sdkOptions: {
    sendEvents: false,
    diagnosticOptOut: true,
    stream: transport === "streaming",
    streamInitialReconnectDelay: 0.05,
    ...extra.sdkOptions
  }
})

const clientLayer = (options: FlagClientOptions) => FlagClient.layerWith(options).pipe(Layer.provide(cache))

const evaluation = FlagClient.evaluate("variant", userId, "caller-default")

const errors = (lines: ReadonlyArray<LogLine>) => lines.filter((line) => line.level === "Error")
const show = (lines: ReadonlyArray<LogLine>) => JSON.stringify(lines.map((line) => `${line.level}: ${line.message}`))

/** The requests for flags the stand-in got, by what it answered. */
const answered = (standIn: LaunchDarklyStandIn) => standIn.requests().map((r) => r.status ?? r.answer)

describe("faults - LaunchDarkly answers 401", () => {
  for (const transport of ["streaming", "polling"] as const) {
    it.live(`${transport} - degraded mode: the layer builds, defaults are served, one error is logged, no crash`, () =>
      Effect.gen(function* () {
        const watch = yield* watchProcess
        const standIn = yield* launchDarklyStandIn([status(401)])
        const logs = captureLogs()
        const started = Date.now()
        yield* Effect.gen(function* () {
          // A 401 is final: the SDK reports failure at once instead of waiting out the init timeout.
          assert.isBelow(Date.now() - started, 3_000, "the layer did not wait for the init timeout")
          const client = yield* FlagClient
          assert.isFalse(yield* client.initialized)
          for (let i = 0; i < 20; i++) {
            const detail = yield* evaluation
            assert.deepStrictEqual(
              [detail.value, detail.fallback, detail.variationIndex, detail.context],
              ["caller-default", "ClientNotReady", null, "full"]
            )
          }
          assert.isFalse(yield* client.isEnabled("variant", userId))
          assert.isTrue(yield* client.isEnabled("variant", userId, { default: true }))
          // It gives up: no retry loop against a key that was refused.
          yield* sleepLive(500)
          assert.deepStrictEqual(answered(standIn), [401])
        }).pipe(Effect.provide(clientLayer(options(standIn.uri, transport))), Effect.provide(logs.layer))
        yield* sleepLive(50)
        assert.strictEqual(errors(logs.lines).length, 1, show(logs.lines))
        assert.match(errors(logs.lines)[0]?.message ?? "", /401|SDK key/i)
        assert.isFalse(JSON.stringify(logs.lines).includes("sdk-key-of-the-fault-suite"), "the SDK key is not logged")
        assert.deepStrictEqual(watch.problems(), [])
      })
    )
  }

  it.live("with requireInitialized - the layer fails promptly with FlagClientInitError Failed, no crash", () =>
    Effect.gen(function* () {
      const watch = yield* watchProcess
      const standIn = yield* launchDarklyStandIn([status(401)])
      const logs = captureLogs()
      const started = Date.now()
      const exit = yield* Effect.exit(
        Layer.build(clientLayer(options(standIn.uri, "streaming", { requireInitialized: true }))).pipe(
          Effect.scoped,
          Effect.provide(logs.layer)
        )
      )
      assert.isBelow(Date.now() - started, 3_000)
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isFailure(exit)) {
        const reason = exit.cause.reasons.find((r) => r._tag === "Fail")
        const error = reason?._tag === "Fail" ? reason.error : undefined
        assert.instanceOf(error, FlagClientInitError)
        assert.strictEqual(error instanceof FlagClientInitError ? error.reason : undefined, "Failed")
      }
      yield* eventually(Effect.sync(standIn.connections), (open) => open === 0)
      assert.deepStrictEqual(watch.problems(), [])
    })
  )
})

describe("faults - LaunchDarkly answers 503, then recovers", () => {
  it.live("streaming, within the init timeout - the layer waits through the 503s and serves flags", () =>
    Effect.gen(function* () {
      const watch = yield* watchProcess
      const standIn = yield* launchDarklyStandIn([status(503), status(503), status(503), serve(FLAGS)])
      const logs = captureLogs()
      yield* Effect.gen(function* () {
        assert.isTrue(yield* FlagClient.use((client) => client.initialized))
        const detail = yield* evaluation
        assert.deepStrictEqual([detail.value, detail.fallback, detail.context], ["beta-variant", null, "full"])
      }).pipe(
        Effect.provide(clientLayer(options(standIn.uri, "streaming", { initTimeout: "5 seconds" }))),
        Effect.provide(logs.layer)
      )
      assert.deepStrictEqual(answered(standIn), [503, 503, 503, "Serve"])
      // Each 503 is a warning that the SDK will retry; nothing is an error.
      assert.deepStrictEqual(errors(logs.lines), [], show(logs.lines))
      assert.isAtLeast(
        logs.lines.filter((line) => line.level === "Warn" && /503/.test(line.message)).length,
        1,
        show(logs.lines)
      )
      assert.deepStrictEqual(watch.problems(), [])
    })
  )

  it.live("streaming, past the init timeout - defaults while 503, flags served once it recovers, no restart", () =>
    Effect.gen(function* () {
      const watch = yield* watchProcess
      const standIn = yield* launchDarklyStandIn([status(503)])
      const logs = captureLogs()
      yield* Effect.gen(function* () {
        const client = yield* FlagClient
        // Still answering 503: not ready, the caller's default.
        yield* eventually(Effect.sync(standIn.requests), (requests) => requests.length >= 3, "5 seconds")
        assert.isFalse(yield* client.initialized)
        const during = yield* evaluation
        assert.deepStrictEqual([during.value, during.fallback], ["caller-default", "ClientNotReady"])

        yield* standIn.answer([serve(FLAGS)])
        const after = yield* eventually(evaluation, (d) => d.fallback === null, "10 seconds")
        assert.deepStrictEqual([after.value, after.context, after.variationIndex], ["beta-variant", "full", 0])
        assert.isTrue(yield* client.initialized)
      }).pipe(
        Effect.provide(clientLayer(options(standIn.uri, "streaming", { initTimeout: "100 millis" }))),
        Effect.provide(logs.layer)
      )
      const statuses = answered(standIn)
      assert.isTrue(
        statuses.slice(0, -1).every((s) => s === 503),
        JSON.stringify(statuses)
      )
      assert.strictEqual(statuses.at(-1), "Serve")
      // The only error is the SDK's own note that the init timeout passed.
      assert.isAtMost(errors(logs.lines).length, 1, show(logs.lines))
      assert.deepStrictEqual(watch.problems(), [])
    })
  )

  it.live("polling - a 503 at start is retried on the next poll, not given up", () =>
    Effect.gen(function* () {
      // The SDK polls at most every 30 seconds: this checks the decision (retry, defaults meanwhile),
      // not the recovery, which the streaming cases cover.
      const watch = yield* watchProcess
      const standIn = yield* launchDarklyStandIn([status(503)])
      const logs = captureLogs()
      yield* Effect.gen(function* () {
        const detail = yield* evaluation
        assert.deepStrictEqual([detail.value, detail.fallback], ["caller-default", "ClientNotReady"])
      }).pipe(
        Effect.provide(clientLayer(options(standIn.uri, "polling", { initTimeout: "200 millis" }))),
        Effect.provide(logs.layer)
      )
      assert.deepStrictEqual(answered(standIn), [503])
      assert.isTrue(
        logs.lines.some((line) => line.level === "Warn" && /503/.test(line.message) && /retry/.test(line.message)),
        show(logs.lines)
      )
      assert.deepStrictEqual(watch.problems(), [])
    })
  )
})

describe("faults - LaunchDarkly hangs", () => {
  const INIT_TIMEOUT_MS = 500

  it.live("a peer that accepts and never answers - the init timeout holds, evaluations answer ClientNotReady", () =>
    Effect.gen(function* () {
      const watch = yield* watchProcess
      const hung = yield* hungListener
      const uri = `http://${hung.host}:${hung.port}`
      const logs = captureLogs()
      const started = Date.now()
      yield* Effect.gen(function* () {
        const built = Date.now() - started
        // Generous bounds: the layer waited for the init timeout, and not much longer.
        assert.isAtLeast(built, INIT_TIMEOUT_MS - 50, `built in ${built} ms`)
        assert.isBelow(built, INIT_TIMEOUT_MS + 2_500, `built in ${built} ms`)
        assert.isAbove(hung.accepted(), 0, "the SDK really connected to the hung peer")
        const client = yield* FlagClient
        const before = Date.now()
        for (let i = 0; i < 50; i++) {
          const detail = yield* evaluation
          assert.deepStrictEqual(
            [detail.value, detail.fallback, detail.variationIndex],
            ["caller-default", "ClientNotReady", null]
          )
        }
        assert.isBelow(Date.now() - before, 1_000, "evaluations do not wait for the SDK")
        assert.isFalse(yield* client.initialized)
      }).pipe(
        Effect.provide(clientLayer(options(uri, "streaming", { initTimeout: `${INIT_TIMEOUT_MS} millis` }))),
        Effect.provide(logs.layer)
      )
      assert.isTrue(
        logs.lines.some((line) => line.level === "Warn" && /not initialized/.test(line.message)),
        show(logs.lines)
      )
      assert.deepStrictEqual(watch.problems(), [])
    })
  )

  it.live("an HTTP server that holds the stream open without data - same, and requireInitialized fails on time", () =>
    Effect.gen(function* () {
      const watch = yield* watchProcess
      const standIn = yield* launchDarklyStandIn([hang])
      const logs = captureLogs()
      const started = Date.now()
      const exit = yield* Effect.exit(
        Layer.build(
          clientLayer(
            options(standIn.uri, "streaming", { initTimeout: `${INIT_TIMEOUT_MS} millis`, requireInitialized: true })
          )
        ).pipe(Effect.scoped, Effect.provide(logs.layer))
      )
      const elapsed = Date.now() - started
      assert.isAtLeast(elapsed, INIT_TIMEOUT_MS - 50)
      assert.isBelow(elapsed, INIT_TIMEOUT_MS + 2_500)
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isFailure(exit)) {
        const reason = exit.cause.reasons.find((r) => r._tag === "Fail")
        const error = reason?._tag === "Fail" ? reason.error : undefined
        assert.strictEqual(error instanceof FlagClientInitError ? error.reason : undefined, "Timeout")
      }
      // The failed layer closed its client: the held connection is released.
      yield* eventually(Effect.sync(standIn.connections), (open) => open === 0)
      assert.deepStrictEqual(watch.problems(), [])
    })
  )
})
