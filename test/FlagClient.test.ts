import { assert, describe, it } from "@effect/vitest"
import { writeFileSync } from "node:fs"
import { ConfigProvider, Effect, Exit, Fiber, Layer, Metric, Redacted, Schema, Tracer, type Scope } from "effect"
import { HttpRouter, HttpServer } from "effect/http"
import { HttpApi, HttpApiBuilder, HttpApiEndpoint, HttpApiGroup } from "effect/http-api"
import { TestClock } from "effect/testing"
import { ContextBuilder } from "../src/ContextBuilder.js"
import { ContextCache } from "../src/ContextCache.js"
import {
  FeatureDisabled,
  FlagClient,
  FlagClientInitError,
  FlagClientMetrics,
  type FlagClientOptions,
  FlagClientSdkOptions,
  maxFlagSeries,
  TestFlags
} from "../src/FlagClient.js"
import { UserId } from "../src/User.js"
import { UserRepo } from "../src/UserRepo.js"
import {
  captureLogs,
  countingRepo,
  eventually,
  fakeLaunchDarkly,
  flagsFile,
  makeUser,
  repoDown,
  repoHung,
  segmentFlag
} from "./support/launchdarkly.js"
import { recordingLaunchDarkly } from "./support/recordingLaunchDarkly.js"

const NOW = Date.UTC(2026, 0, 1)
const present = makeUser("present", NOW, 10, ["beta"])
const VARIANT = segmentFlag("variant", "beta", ["beta-variant", "everyone-variant"])
const id = (value: string) => value as UserId

const quiet = { sendEvents: false, diagnosticOptOut: true } as const

/** Client options pointing the SDK at a loopback server that never answers. */
const notReadyOptions = (uri: string, extra: Partial<FlagClientOptions> = {}): FlagClientOptions => ({
  sdkKey: Redacted.make("sdk-key-never-logged"),
  baseUri: uri,
  streamUri: uri,
  eventsUri: uri,
  initTimeout: "100 millis",
  sdkOptions: quiet,
  ...extra
})

const cacheOver = (repo: Layer.Layer<UserRepo>) =>
  ContextCache.layer({ lookupTimeout: "1 second" }).pipe(Layer.provide(Layer.mergeAll(repo, ContextBuilder.layer())))

// ---------------------------------------------------------------------------------------------
// The fallback matrix
// ---------------------------------------------------------------------------------------------

type SdkMode = "ready" | "flags file" | "not ready"
type RepoMode = "present" | "absent" | "down" | "hung"

const sdkLayer = (mode: SdkMode): Effect.Effect<Layer.Layer<FlagClient, never, ContextCache>, never, Scope.Scope> => {
  switch (mode) {
    case "ready":
      return Effect.succeed(
        Layer.effectDiscard(
          TestFlags.use((flags) => Effect.promise(() => flags.testData.usePreconfiguredFlag(VARIANT)))
        ).pipe(Layer.provideMerge(FlagClient.layerTest))
      )
    case "flags file":
      return Effect.map(flagsFile("yaml", { flags: { variant: VARIANT } }), (path) =>
        Layer.orDie(FlagClient.layerWith({ flagsFile: path, requireInitialized: true }))
      )
    case "not ready":
      return Effect.map(fakeLaunchDarkly, (fake) => Layer.orDie(FlagClient.layerWith(notReadyOptions(fake.uri))))
  }
}

const repoLayer = (mode: RepoMode): Layer.Layer<UserRepo> =>
  mode === "down" ? repoDown : mode === "hung" ? repoHung : UserRepo.layerMemory([present])

const evaluated = { present: "beta-variant", other: "everyone-variant" }
const expected: Record<SdkMode, Record<RepoMode, readonly [string, string | null, string]>> = {
  ready: {
    present: [evaluated.present, null, "full"],
    absent: [evaluated.other, "UserNotFound", "id-only"],
    down: [evaluated.other, "UserRepoUnavailable", "id-only"],
    hung: [evaluated.other, "UserRepoUnavailable", "id-only"]
  },
  "flags file": {
    present: [evaluated.present, null, "full"],
    absent: [evaluated.other, "UserNotFound", "id-only"],
    down: [evaluated.other, "UserRepoUnavailable", "id-only"],
    hung: [evaluated.other, "UserRepoUnavailable", "id-only"]
  },
  "not ready": {
    present: ["caller-default", "ClientNotReady", "full"],
    absent: ["caller-default", "ClientNotReady", "id-only"],
    down: ["caller-default", "ClientNotReady", "id-only"],
    hung: ["caller-default", "ClientNotReady", "id-only"]
  }
}

describe("FlagClient - fallback matrix", () => {
  for (const sdk of ["ready", "flags file", "not ready"] as const) {
    for (const repo of ["present", "absent", "down", "hung"] as const) {
      const [value, fallback, context] = expected[sdk][repo]
      it.effect(`SDK ${sdk} × user ${repo} - value ${value}, fallback ${fallback}, context ${context}`, () =>
        Effect.gen(function* () {
          const layer = (yield* sdkLayer(sdk)).pipe(Layer.provide(cacheOver(repoLayer(repo))))
          const userId = id(repo === "present" ? "present" : "someone-else")
          const result = yield* Effect.gen(function* () {
            const flags = yield* FlagClient
            const fiber = yield* Effect.forkChild(flags.evaluate("variant", userId, "caller-default"))
            // A hung repository is cut off by the cache's lookup timeout (1 second).
            if (repo === "hung") yield* TestClock.adjust("1 second")
            return yield* Fiber.join(fiber)
          }).pipe(Effect.provide(layer))
          assert.deepStrictEqual([result.value, result.fallback, result.context], [value, fallback, context])
          if (fallback === null) assert.strictEqual(result.variationIndex, 0)
          else assert.strictEqual(result.variationIndex, fallback === "ClientNotReady" ? null : 1)
        })
      )
    }
  }
})

// ---------------------------------------------------------------------------------------------
// Operations, on the real SDK over TestData
// ---------------------------------------------------------------------------------------------

const newbie = makeUser("newbie", NOW, 1)
const testLayer = () => FlagClient.layerTestWith({ users: [present, newbie] })

describe("FlagClient - operations", () => {
  it.effect("isEnabled - true for a user in the targeted segment, false for another", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(NOW)
      const testFlags = yield* TestFlags
      yield* testFlags.enableForSegments("beta-dashboard", ["beta"])
      assert.isTrue(yield* FlagClient.isEnabled("beta-dashboard", id("present")))
      assert.isFalse(yield* FlagClient.isEnabled("beta-dashboard", id("newbie")))
      yield* testFlags.disable("beta-dashboard")
      assert.isFalse(yield* FlagClient.isEnabled("beta-dashboard", id("present")))
    }).pipe(Effect.provide(testLayer()))
  )

  it.effect("isEnabled - a non-boolean flag answers the default (WRONG_TYPE), never a truthy value", () =>
    Effect.gen(function* () {
      const testFlags = yield* TestFlags
      yield* testFlags.set("object-flag", { enabled: true })
      yield* testFlags.set("string-flag", "true")
      assert.isFalse(yield* FlagClient.isEnabled("object-flag", id("present")))
      assert.isTrue(yield* FlagClient.isEnabled("object-flag", id("present"), { default: true }))
      assert.isFalse(yield* FlagClient.isEnabled("string-flag", id("present")))
      const detail = yield* FlagClient.evaluate("object-flag", id("present"), false)
      assert.deepStrictEqual(
        [detail.value, detail.fallback, detail.reason.kind, detail.reason.errorKind, detail.variationIndex],
        [false, "WrongType", "ERROR", "WRONG_TYPE", null]
      )
    }).pipe(Effect.provide(testLayer()))
  )

  it.effect("evaluate - an unknown flag answers the default with fallback FlagNotFound", () =>
    Effect.gen(function* () {
      const detail = yield* FlagClient.evaluate("no-such-flag", id("present"), 42)
      assert.deepStrictEqual([detail.value, detail.fallback, detail.context], [42, "FlagNotFound", "full"])
      assert.isFalse(yield* FlagClient.isEnabled("no-such-flag", id("present")))
    }).pipe(Effect.provide(testLayer()))
  )

  it.effect("evaluate - reports the SDK's reason and variation index; a value of another kind is WrongType", () =>
    Effect.gen(function* () {
      const testFlags = yield* TestFlags
      yield* Effect.promise(() => testFlags.testData.usePreconfiguredFlag(VARIANT))
      const hit = yield* FlagClient.evaluate("variant", id("present"), "none")
      assert.deepStrictEqual([hit.value, hit.variationIndex, hit.reason.kind], ["beta-variant", 0, "RULE_MATCH"])
      const miss = yield* FlagClient.evaluate("variant", id("newbie"), "none")
      assert.deepStrictEqual(
        [miss.value, miss.variationIndex, miss.reason.kind],
        ["everyone-variant", 1, "FALLTHROUGH"]
      )
      const wrong = yield* FlagClient.evaluate("variant", id("present"), 7)
      assert.deepStrictEqual([wrong.value, wrong.fallback, wrong.reason.errorKind], [7, "WrongType", "WRONG_TYPE"])
      const anyJson = yield* FlagClient.evaluate("variant", id("present"), null)
      assert.deepStrictEqual([anyJson.value, anyJson.fallback], ["beta-variant", null])
    }).pipe(Effect.provide(testLayer()))
  )

  it.effect("variation - decodes the flag's JSON with a schema; a value that does not decode gives the default", () =>
    Effect.gen(function* () {
      const testFlags = yield* TestFlags
      const Limits = Schema.Struct({ maxItems: Schema.Number, plan: Schema.Literals(["free", "pro"]) })
      yield* testFlags.set("limits", { maxItems: 50, plan: "pro" })
      const fallback = { maxItems: 10, plan: "free" } as const
      assert.deepStrictEqual(yield* FlagClient.variation("limits", id("present"), Limits, fallback), {
        maxItems: 50,
        plan: "pro"
      })
      yield* testFlags.set("limits", { maxItems: "many", plan: "pro" })
      assert.deepStrictEqual(yield* FlagClient.variation("limits", id("present"), Limits, fallback), fallback)
    }).pipe(Effect.provide(testLayer()))
  )

  it.effect("request attributes - role admin applies to one evaluation only; the cached context never sees it", () =>
    Effect.gen(function* () {
      const testFlags = yield* TestFlags
      yield* testFlags.enableForSegments("admin-panel", ["admin"])
      yield* testFlags.update("nz-only", (flag) =>
        flag.booleanFlag().fallthroughVariation(false).ifMatch("user", "country", "NZ").thenReturn(true)
      )
      assert.isTrue(yield* FlagClient.isEnabled("admin-panel", id("present"), { role: "admin" }))
      assert.isFalse(yield* FlagClient.isEnabled("admin-panel", id("present")))
      assert.isTrue(yield* FlagClient.isEnabled("nz-only", id("present"), { attributes: { country: "NZ" } }))
      assert.isFalse(yield* FlagClient.isEnabled("nz-only", id("present")))
      const context = yield* (yield* ContextCache).get("present")
      assert.isFalse(context.segments?.includes("admin"))
      assert.isUndefined(context["country"])
      // The same holds for the id-only fallback.
      assert.isTrue(yield* FlagClient.isEnabled("admin-panel", id("nobody"), { role: "admin" }))
      assert.isFalse(yield* FlagClient.isEnabled("admin-panel", id("nobody")))
    }).pipe(Effect.provide(testLayer()))
  )

  it.effect("useUserIdOnly - no repository lookup; evaluated against the id, with targeting by key", () =>
    Effect.gen(function* () {
      const repo = yield* countingRepo([present])
      const layer = FlagClient.layerTest.pipe(Layer.provideMerge(cacheOver(repo.layer)))
      yield* Effect.gen(function* () {
        const testFlags = yield* TestFlags
        yield* testFlags.enableForUsers("early-access", ["present"])
        const detail = yield* FlagClient.evaluate("early-access", id("present"), false, { useUserIdOnly: true })
        assert.deepStrictEqual([detail.value, detail.fallback, detail.context], [true, null, "id-only"])
        assert.isFalse(yield* FlagClient.isEnabled("early-access", id("other"), { useUserIdOnly: true }))
        assert.deepStrictEqual(repo.calls, [])
      }).pipe(Effect.provide(layer))
    })
  )

  it.effect("invalid user id - the caller's default with fallback InvalidUserId, and no lookup", () =>
    Effect.gen(function* () {
      const repo = yield* countingRepo([present])
      const layer = FlagClient.layerTest.pipe(Layer.provideMerge(cacheOver(repo.layer)))
      yield* Effect.gen(function* () {
        yield* (yield* TestFlags).enable("everyone")
        for (const options of [{}, { useUserIdOnly: true }]) {
          const detail = yield* FlagClient.evaluate("everyone", id("   "), false, options)
          assert.deepStrictEqual(
            [detail.value, detail.fallback, detail.context, detail.reason.errorKind],
            [false, "InvalidUserId", "id-only", "USER_NOT_SPECIFIED"]
          )
          assert.isTrue(yield* FlagClient.isEnabled("everyone", id(""), { ...options, default: true }))
        }
        assert.deepStrictEqual(repo.calls, [])
      }).pipe(Effect.provide(layer))
    })
  )

  it.effect("allFlags - the SDK's allFlagsState JSON for the user's context", () =>
    Effect.gen(function* () {
      const testFlags = yield* TestFlags
      yield* Effect.promise(() => testFlags.testData.usePreconfiguredFlag(VARIANT))
      yield* testFlags.enable("everyone")
      const state = yield* FlagClient.allFlags(id("present"))
      assert.deepStrictEqual([state.$valid, state["variant"], state["everyone"]], [true, "beta-variant", true])
      const other = yield* FlagClient.allFlags(id("nobody"))
      assert.deepStrictEqual([other.$valid, other["variant"]], [true, "everyone-variant"])
      assert.deepStrictEqual(yield* FlagClient.allFlags(id("")), { $valid: false, $flagsState: {} })
    }).pipe(Effect.provide(testLayer()))
  )

  it.effect("require - fails with FeatureDisabled only when the flag is off for the user", () =>
    Effect.gen(function* () {
      yield* (yield* TestFlags).enableForSegments("beta", ["beta"])
      yield* FlagClient.require("beta", id("present"))
      const exit = yield* Effect.exit(FlagClient.require("beta", id("newbie")))
      assert.deepStrictEqual(exit, Exit.fail(new FeatureDisabled({ flagKey: "beta" })))
      yield* FlagClient.require("unknown-flag", id("newbie"), { default: true })
    }).pipe(Effect.provide(testLayer()))
  )

  it("require - an effect/http-api endpoint declaring FeatureDisabled answers 404, not 500", async () => {
    class Api extends HttpApi.make("features").add(
      HttpApiGroup.make("features").add(
        HttpApiEndpoint.get("dashboard", "/dashboard/:userId", {
          params: { userId: UserId },
          success: Schema.String,
          error: FeatureDisabled
        })
      )
    ) {}
    const handlers = HttpApiBuilder.group(
      Api,
      "features",
      Effect.fn(function* (handlers) {
        const flags = yield* FlagClient
        return handlers.handle("dashboard", ({ params }) =>
          flags.require("new-dashboard", params.userId).pipe(Effect.as("the new dashboard"))
        )
      })
    )
    const app = HttpApiBuilder.layer(Api).pipe(
      Layer.provide(handlers),
      Layer.provide(
        Layer.effectDiscard(TestFlags.use((flags) => flags.enableForSegments("new-dashboard", ["beta"]))).pipe(
          Layer.provideMerge(FlagClient.layerTestWith({ users: [present, newbie] }))
        )
      ),
      Layer.provide(HttpServer.layerServices)
    )
    const { handler, dispose } = HttpRouter.toWebHandler(app, { disableLogger: true })
    try {
      const allowed = await handler(new Request("http://localhost/dashboard/present"))
      assert.deepStrictEqual([allowed.status, await allowed.json()], [200, "the new dashboard"])
      const denied = await handler(new Request("http://localhost/dashboard/newbie"))
      assert.strictEqual(denied.status, 404)
      assert.deepStrictEqual(await denied.json(), { _tag: "FeatureDisabled", flagKey: "new-dashboard" })
    } finally {
      await dispose()
    }
  })

  it.effect("UserNotFound / UserRepoError - a warning with the fallback and the reason, not repeated within 10 s", () =>
    Effect.gen(function* () {
      const logs = captureLogs()
      yield* Effect.gen(function* () {
        const warnings = () =>
          logs.lines.filter((line) => line.level === "Warn" && line.annotations["userId"] === "ghost")
        for (let i = 0; i < 5; i++) yield* FlagClient.isEnabled("x", id("ghost"))
        assert.strictEqual(warnings().length, 1)
        assert.deepStrictEqual(warnings()[0]?.annotations["reason"], "UserNotFound")
        yield* TestClock.adjust("61 seconds")
        yield* FlagClient.isEnabled("x", id("ghost"))
        assert.strictEqual(warnings().length, 2)
      }).pipe(Effect.provide(testLayer()), Effect.provide(logs.layer))
      const down = captureLogs()
      yield* Effect.gen(function* () {
        for (let i = 0; i < 3; i++) yield* FlagClient.isEnabled("x", id("present"))
        const lines = down.lines.filter((line) => line.level === "Warn" && line.annotations["userId"] === "present")
        assert.deepStrictEqual(
          lines.map((line) => [line.annotations["fallback"], line.annotations["reason"]]),
          [["UserRepoUnavailable", "Unavailable"]]
        )
      }).pipe(Effect.provide(FlagClient.layerTest.pipe(Layer.provide(cacheOver(repoDown)))), Effect.provide(down.layer))
    })
  )

  it.effect("metrics - a counter of evaluations by flag and fallback", () =>
    Effect.gen(function* () {
      yield* Effect.gen(function* () {
        yield* (yield* TestFlags).enable("counted")
        yield* (yield* TestFlags).set("stringy", "yes")
        for (let i = 0; i < 3; i++) yield* FlagClient.isEnabled("counted", id("present"))
        assert.isFalse(yield* FlagClient.isEnabled("stringy", id("present")))
        for (let i = 0; i < 2; i++) yield* FlagClient.isEnabled("counted", id("ghost"))
        yield* FlagClient.isEnabled("missing", id("present"))
        const count = (flag: string, fallback: string) =>
          Effect.map(
            Metric.value(Metric.withAttributes(FlagClientMetrics.evaluations, { flag, fallback })),
            (s) => s.count
          )
        assert.strictEqual(yield* count("counted", "none"), 3)
        assert.strictEqual(yield* count("counted", "UserNotFound"), 2)
        assert.strictEqual(yield* count("(unknown)", "FlagNotFound"), 1)
        assert.strictEqual(yield* count("stringy", "WrongType"), 1)
        assert.strictEqual(yield* count("stringy", "none"), 0)
      }).pipe(Effect.provide(testLayer()))
    }).pipe(Effect.provideService(Metric.MetricRegistry, new Map()))
  )

  it.effect(
    "metrics - series stay bounded: unknown flags share (unknown), known flags past the cap share (other)",
    () =>
      Effect.gen(function* () {
        yield* Effect.gen(function* () {
          const testFlags = yield* TestFlags
          for (let i = 0; i < 100_000; i++) yield* FlagClient.isEnabled(`nope-${i}`, id("present"))
          const flags = Array.from({ length: maxFlagSeries + 5 }, (_, i) => `known-${i}`)
          for (const flag of flags) yield* testFlags.enable(flag)
          for (const flag of flags) yield* FlagClient.isEnabled(flag, id("present"))
          const snapshot = yield* Metric.snapshot
          const series = snapshot.filter((metric) => metric.id === FlagClientMetrics.evaluations.id)
          assert.isAtMost(series.length, maxFlagSeries + 2)
          const count = (flag: string, fallback: string) =>
            Effect.map(
              Metric.value(Metric.withAttributes(FlagClientMetrics.evaluations, { flag, fallback })),
              (s) => s.count
            )
          assert.strictEqual(yield* count("(unknown)", "FlagNotFound"), 100_000)
          assert.strictEqual(yield* count("known-0", "none"), 1)
          assert.strictEqual(yield* count("(other)", "none"), 5)
          const total = series.reduce(
            (sum, metric) => sum + (metric.type === "Counter" ? Number(metric.state.count) : 0),
            0
          )
          assert.strictEqual(total, 100_000 + maxFlagSeries + 5)
        }).pipe(Effect.provide(testLayer()))
      }).pipe(Effect.provideService(Metric.MetricRegistry, new Map()))
  )

  it.effect(
    "warnings - one line per cause per 10 s with the root cause and the count, whatever the number of users",
    () =>
      Effect.gen(function* () {
        const logs = captureLogs()
        yield* Effect.gen(function* () {
          const warnings = () => logs.lines.filter((line) => line.level === "Warn")
          for (let i = 0; i < 10_000; i++) yield* FlagClient.isEnabled("x", id(`user-${i}`))
          assert.strictEqual(warnings().length, 1)
          const first = warnings()[0]
          assert.strictEqual(first?.annotations["reason"], "Unavailable")
          assert.strictEqual(first?.annotations["affected"], 1)
          assert.match(String(first?.annotations["cause"]), /connection refused/)
          assert.match(first?.message ?? "", /connection refused/)
          yield* TestClock.adjust("9 seconds")
          yield* FlagClient.isEnabled("x", id("late"))
          assert.strictEqual(warnings().length, 1)
          yield* TestClock.adjust("1 second")
          yield* FlagClient.isEnabled("x", id("later"))
          assert.strictEqual(warnings().length, 2)
          assert.strictEqual(warnings()[1]?.annotations["affected"], 10_001)
          assert.strictEqual(warnings()[1]?.annotations["userId"], "later")
        }).pipe(
          Effect.provide(FlagClient.layerTest.pipe(Layer.provide(cacheOver(repoDown)))),
          Effect.provide(logs.layer)
        )
      })
  )

  it.effect("tracing - a span FlagClient.evaluate per evaluation, with the flag key and the fallback", () =>
    Effect.gen(function* () {
      const spans: Array<Tracer.NativeSpan> = []
      const tracer = Tracer.make({
        span: (options) => {
          const span = new Tracer.NativeSpan(options)
          spans.push(span)
          return span
        }
      })
      yield* Effect.gen(function* () {
        yield* (yield* TestFlags).enable("traced")
        yield* FlagClient.isEnabled("traced", id("present"))
        yield* FlagClient.evaluate("traced", id("ghost"), false)
      }).pipe(Effect.provide(testLayer()), Effect.withTracer(tracer))
      const evaluations = spans.filter((span) => span.name === "FlagClient.evaluate")
      assert.deepStrictEqual(
        evaluations.map((span) => [span.attributes.get("flag.key"), span.attributes.get("flag.fallback")]),
        [
          ["traced", "none"],
          ["traced", "UserNotFound"]
        ]
      )
      assert.strictEqual(evaluations[0]?.attributes.get("feature_flag.key"), "traced")
      assert.strictEqual(evaluations[0]?.attributes.get("feature_flag.provider.name"), "LaunchDarkly")
      assert.deepStrictEqual(
        evaluations.map((span) =>
          span.events
            .filter(([name]) => name === "feature_flag.evaluation")
            .map(([name, , attributes]) => [name, attributes])
        ),
        [
          [
            [
              "feature_flag.evaluation",
              {
                "feature_flag.key": "traced",
                "feature_flag.provider.name": "LaunchDarkly",
                "feature_flag.context.id": "present",
                "feature_flag.result.reason": "default",
                "feature_flag.result.variant": "0",
                "flag.context": "full"
              }
            ]
          ],
          [
            [
              "feature_flag.evaluation",
              {
                "feature_flag.key": "traced",
                "feature_flag.provider.name": "LaunchDarkly",
                "feature_flag.context.id": "ghost",
                "feature_flag.result.reason": "default",
                "feature_flag.result.variant": "0",
                "flag.context": "id-only",
                "flag.fallback": "UserNotFound"
              }
            ]
          ]
        ]
      )
    })
  )

  it.effect("tracing - with Effect's native tracer, feature_flag.evaluation events on the caller's span", () =>
    Effect.gen(function* () {
      const span = yield* Effect.gen(function* () {
        yield* (yield* TestFlags).enable("traced")
        yield* FlagClient.isEnabled("traced", id("present"))
        yield* FlagClient.isEnabled("absent-flag", id("present"))
        yield* FlagClient.isEnabled("traced", id("   "))
        return yield* Effect.currentSpan
      }).pipe(Effect.withSpan("request"), Effect.provide(testLayer()))
      assert.instanceOf(span, Tracer.NativeSpan)
      const events = (span as Tracer.NativeSpan).events.filter(([name]) => name === "feature_flag.evaluation")
      assert.deepStrictEqual(
        events.map(([name, , attributes]) => [
          name,
          attributes["feature_flag.key"],
          attributes["feature_flag.context.id"],
          attributes["feature_flag.result.reason"],
          attributes["error.type"]
        ]),
        [
          ["feature_flag.evaluation", "traced", "present", "default", undefined],
          ["feature_flag.evaluation", "absent-flag", "present", "error", "flag_not_found"],
          ["feature_flag.evaluation", "traced", undefined, "error", "invalid_context"]
        ]
      )
    })
  )

  it.effect("tracing - off: no span around, or tracing disabled, records nothing", () =>
    Effect.gen(function* () {
      const span = yield* Effect.gen(function* () {
        yield* (yield* TestFlags).enable("traced")
        yield* FlagClient.isEnabled("traced", id("present")).pipe(Effect.withTracerEnabled(false))
        return yield* Effect.currentSpan
      }).pipe(Effect.withSpan("request"), Effect.provide(testLayer()))
      assert.strictEqual((span as Tracer.NativeSpan).events.length, 0)
    })
  )
})

// ---------------------------------------------------------------------------------------------
// The production layer: offline, flags file, not ready, configuration, life cycle
// ---------------------------------------------------------------------------------------------

const memoryCache = cacheOver(UserRepo.layerMemory([present]))

// A loopback events endpoint (the recording LaunchDarkly stand-in); `indexed` is the context of the
// first index event.
const loopbackEvents = Effect.map(recordingLaunchDarkly(), (server) => ({
  uri: server.uri,
  indexed: (): Record<string, unknown> | undefined => {
    const events = server.events() as Array<{ readonly kind?: unknown; readonly context?: Record<string, unknown> }>
    const context = events.find((event) => event.kind === "index")?.context
    assert.isDefined(context, JSON.stringify(events))
    return context
  }
}))

const redactedOf = (context: Record<string, unknown> | undefined): Array<string> => [
  ...((context?.["_meta"] as { readonly redactedAttributes?: ReadonlyArray<string> } | undefined)?.redactedAttributes ??
    [])
]

describe("FlagClient - production layer", () => {
  it.effect("offline - no key and no flags file: one warning at start, every flag answers the default", () =>
    Effect.gen(function* () {
      const logs = captureLogs()
      yield* Effect.gen(function* () {
        const flags = yield* FlagClient
        for (let i = 0; i < 5; i++) {
          const detail = yield* flags.evaluate("anything", id("present"), "default")
          assert.deepStrictEqual([detail.value, detail.fallback], ["default", "ClientNotReady"])
        }
        assert.isTrue(yield* flags.isEnabled("anything", id("present"), { default: true }))
      }).pipe(Effect.provide(FlagClient.layerWith({}).pipe(Layer.provide(memoryCache))), Effect.provide(logs.layer))
      const warnings = logs.lines.filter((line) => line.level === "Warn")
      assert.strictEqual(warnings.length, 1)
      assert.match(warnings[0]?.message ?? "", /offline/)
    })
  )

  it.effect("flags file - JSON flagValues, reloaded when the file changes", () =>
    Effect.gen(function* () {
      const path = yield* flagsFile("json", { flagValues: { banner: "spring" } })
      yield* Effect.gen(function* () {
        assert.strictEqual((yield* FlagClient.evaluate("banner", id("present"), "none")).value, "spring")
        writeFileSync(path, JSON.stringify({ flagValues: { banner: "summer" } }))
        const reloaded = yield* eventually(
          FlagClient.evaluate("banner", id("present"), "none"),
          (d) => d.value === "summer"
        )
        assert.strictEqual(reloaded.fallback, null)
      }).pipe(Effect.provide(FlagClient.layerWith({ flagsFile: path }).pipe(Layer.provide(memoryCache))))
    })
  )

  it.effect("SDK log lines - 1,000 distinct unknown flag keys write one line, not one per key", () =>
    Effect.gen(function* () {
      const logs = captureLogs()
      const path = yield* flagsFile("json", { flagValues: { banner: "spring" } })
      yield* Effect.gen(function* () {
        const client = yield* FlagClient
        for (let i = 0; i < 1_000; i++) yield* client.isEnabled(`no-such-flag-${i}`, id("present"))
      }).pipe(
        Effect.provide(FlagClient.layerWith({ flagsFile: path }).pipe(Layer.provide(memoryCache))),
        Effect.provide(logs.layer)
      )
      yield* eventually(
        Effect.sync(() => logs.lines.filter((line) => /Unknown feature flag/.test(line.message)).length),
        (n) => n > 0
      )
      const unknown = logs.lines.filter((line) => /Unknown feature flag/.test(line.message))
      assert.strictEqual(unknown.length, 1)
      assert.strictEqual(unknown[0]?.annotations["source"], "launchdarkly-sdk")
    })
  )

  it.effect("privacy - events sent to LaunchDarkly redact PII and per-request attributes unless declared public", () =>
    Effect.gen(function* () {
      const events = yield* loopbackEvents
      const path = yield* flagsFile("json", { flagValues: { banner: "spring" } })
      yield* Effect.gen(function* () {
        const client = yield* FlagClient
        yield* client.evaluate("banner", id("present"), "none", {
          attributes: { ip: "203.0.113.9", country: "NZ" },
          publicAttributes: ["country"]
        })
        yield* Effect.promise(() => client.sdk.flush())
      }).pipe(
        Effect.provide(
          FlagClient.layerWith({
            flagsFile: path,
            sdkOptions: { sendEvents: true, diagnosticOptOut: true, eventsUri: events.uri }
          }).pipe(Layer.provide(memoryCache))
        )
      )
      const indexed = events.indexed()
      assert.strictEqual(indexed?.["key"], "present")
      assert.strictEqual(indexed?.["country"], "NZ")
      assert.strictEqual(indexed?.["email_domain"], "example.com")
      // The user's metadata (`custom`), email and name are private through the SDK's options, the
      // request's `ip` through the context's own `_meta`.
      for (const name of ["ip", "email", "name", "custom"]) assert.isFalse(name in (indexed ?? {}), name)
      const redacted = redactedOf(indexed)
      assert.includeMembers(redacted, ["ip", "email", "name", "/custom"])
      assert.notInclude(redacted, "country")
    })
  )

  it.effect(
    "privacy - the rules' private list (custom_<key> read as /custom/<key>), FlagClientSdkOptions' and sdkOptions' all apply",
    () =>
      Effect.gen(function* () {
        const events = yield* loopbackEvents
        const path = yield* flagsFile("json", { flagValues: { banner: "spring" } })
        yield* Effect.gen(function* () {
          const client = yield* FlagClient
          yield* client.evaluate("banner", id("present"), "none")
          yield* Effect.promise(() => client.sdk.flush())
        }).pipe(
          Effect.provide(
            FlagClient.layerWith({
              flagsFile: path,
              sdkOptions: {
                sendEvents: true,
                diagnosticOptOut: true,
                eventsUri: events.uri,
                privateAttributes: ["email_domain"]
              }
            }).pipe(
              Layer.provide(Layer.succeed(FlagClientSdkOptions, { privateAttributes: ["email_verified"] })),
              Layer.provideMerge(ContextCache.layer({ lookupTimeout: "1 second" })),
              Layer.provideMerge(
                Layer.mergeAll(
                  UserRepo.layerMemory([present]),
                  ContextBuilder.layer({ privateAttributes: ["email", "custom_plan"] })
                )
              )
            )
          )
        )
        const indexed = events.indexed()
        assert.strictEqual(indexed?.["name"], "present")
        assert.deepStrictEqual(indexed?.["custom"], {})
        for (const name of ["email", "email_domain", "email_verified"]) assert.isFalse(name in (indexed ?? {}), name)
        assert.sameMembers(redactedOf(indexed), ["email", "email_domain", "email_verified", "/custom/plan"])
      })
  )

  it.effect("not ready - with requireInitialized the layer fails with FlagClientInitError and closes the client", () =>
    Effect.gen(function* () {
      const fake = yield* fakeLaunchDarkly
      const exit = yield* Effect.exit(
        Layer.build(
          FlagClient.layerWith(notReadyOptions(fake.uri, { requireInitialized: true })).pipe(Layer.provide(memoryCache))
        )
      )
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isFailure(exit)) {
        const error = exit.cause.reasons.find((reason) => reason._tag === "Fail")
        assert.instanceOf(error?._tag === "Fail" ? error.error : undefined, FlagClientInitError)
        assert.strictEqual(error?._tag === "Fail" ? error.error.reason : undefined, "Timeout")
      }
      yield* eventually(Effect.sync(fake.connections), (open) => open === 0)
    })
  )

  it.live("not ready - evaluations answer ClientNotReady, then recover by themselves once the SDK connects", () =>
    Effect.gen(function* () {
      const fake = yield* fakeLaunchDarkly
      const layer = FlagClient.layerWith(
        notReadyOptions(fake.uri, { sdkOptions: { ...quiet, streamInitialReconnectDelay: 0.05 } })
      ).pipe(Layer.provide(memoryCache))
      yield* Effect.gen(function* () {
        const flags = yield* FlagClient
        assert.isFalse(yield* flags.initialized)
        const before = yield* flags.evaluate("variant", id("present"), "caller-default")
        assert.deepStrictEqual([before.value, before.fallback], ["caller-default", "ClientNotReady"])
        yield* fake.serve({ variant: VARIANT })
        const after = yield* eventually(
          flags.evaluate("variant", id("present"), "caller-default"),
          (d) => d.fallback === null
        )
        assert.deepStrictEqual([after.value, after.context], ["beta-variant", "full"])
        assert.isTrue(yield* flags.initialized)
      }).pipe(Effect.provide(layer))
    })
  )

  it.live("life cycle - releasing the layer closes the SDK client and its stream connection", () =>
    Effect.gen(function* () {
      const fake = yield* fakeLaunchDarkly
      yield* Effect.scoped(
        Effect.gen(function* () {
          yield* Layer.build(FlagClient.layerWith(notReadyOptions(fake.uri)).pipe(Layer.provide(memoryCache)))
          yield* eventually(Effect.sync(fake.connections), (open) => open > 0)
        })
      )
      yield* eventually(Effect.sync(fake.connections), (open) => open === 0)
      // A closed client does not reconnect.
      yield* Effect.sleep("300 millis")
      assert.strictEqual(fake.connections(), 0)
    })
  )

  it.effect("layerConfig - reads LAUNCHDARKLY_* from configuration; the SDK key is never logged", () =>
    Effect.gen(function* () {
      const fake = yield* fakeLaunchDarkly
      const path = yield* flagsFile("yaml", { flags: { variant: VARIANT } })
      const fromEnv = (env: Record<string, string>) =>
        FlagClient.layerConfig.pipe(
          Layer.provide(memoryCache),
          Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env })))
        )
      const logs = captureLogs()
      const fromFile = yield* FlagClient.evaluate("variant", id("present"), "none").pipe(
        Effect.provide(fromEnv({ LAUNCHDARKLY_FLAGS_FILE: path, LAUNCHDARKLY_SDK_KEY: "" })),
        Effect.provide(logs.layer)
      )
      assert.deepStrictEqual([fromFile.value, fromFile.fallback], ["beta-variant", null])
      const failed = yield* Effect.exit(
        Layer.build(
          fromEnv({
            LAUNCHDARKLY_SDK_KEY: "sdk-secret-123",
            LAUNCHDARKLY_STREAM_URI: fake.uri,
            LAUNCHDARKLY_BASE_URI: fake.uri,
            LAUNCHDARKLY_EVENTS_URI: fake.uri,
            LAUNCHDARKLY_INIT_TIMEOUT: "100 millis",
            LAUNCHDARKLY_REQUIRE_INITIALIZED: "true"
          })
        ).pipe(Effect.scoped, Effect.provide(logs.layer))
      )
      assert.isTrue(Exit.isFailure(failed))
      assert.isTrue(logs.lines.length > 0)
      assert.isFalse(logs.lines.some((line) => JSON.stringify(line).includes("sdk-secret-123")))
      const invalid = yield* Effect.exit(
        Layer.build(fromEnv({ LAUNCHDARKLY_INIT_TIMEOUT: "soon" })).pipe(Effect.scoped)
      )
      assert.isTrue(Exit.isFailure(invalid))
    })
  )

  it.effect("layer - the whole stack from configuration over a UserRepo", () =>
    Effect.gen(function* () {
      const path = yield* flagsFile("json", { flagValues: { banner: "spring" } })
      const layer = FlagClient.layer.pipe(
        Layer.provide(UserRepo.layerMemory([present])),
        Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env: { LAUNCHDARKLY_FLAGS_FILE: path } })))
      )
      yield* Effect.gen(function* () {
        const detail = yield* FlagClient.evaluate("banner", id("present"), "none")
        assert.deepStrictEqual([detail.value, detail.context], ["spring", "full"])
        assert.strictEqual(yield* (yield* ContextCache).size, 1)
      }).pipe(Effect.provide(layer))
    })
  )
})
