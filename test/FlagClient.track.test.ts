import { assert, describe, it } from "@effect/vitest"
import { integrations } from "@launchdarkly/node-server-sdk"
import { Effect, Layer, Redacted } from "effect"
import { ContextBuilder } from "../src/ContextBuilder.js"
import { ContextCache } from "../src/ContextCache.js"
import { FlagClient } from "../src/FlagClient.js"
import { makeFlagClientPromise } from "../src/FlagClientPromise.js"
import type { UserId } from "../src/User.js"
import { UserRepo } from "../src/UserRepo.js"
import { makeUser } from "./support/launchdarkly.js"
import { type RecordingLaunchDarkly, recordingLaunchDarkly } from "./support/recordingLaunchDarkly.js"

const NOW = Date.now()
const ada = makeUser("ada", NOW, 400, ["beta"])
const id = (value: string) => value as UserId

// The real SDK on TestData, sending its analytics events to a loopback server that records them.
const withRecordedEvents = <A, E>(
  body: (client: FlagClient["Service"], server: RecordingLaunchDarkly) => Effect.Effect<A, E>
) =>
  Effect.scoped(
    Effect.gen(function* () {
      const server = yield* recordingLaunchDarkly()
      const testData = new integrations.TestData()
      yield* Effect.promise(() =>
        testData.update(
          testData
            .flag("beta-only")
            .booleanFlag()
            .fallthroughVariation(false)
            .ifMatch("user", "segments", "beta")
            .thenReturn(true)
        )
      )
      const layer = FlagClient.layerWith({
        sdkKey: Redacted.make("sdk-test-key"),
        baseUri: server.uri,
        streamUri: server.uri,
        eventsUri: server.uri,
        initTimeout: "2 seconds",
        requireInitialized: true,
        sdkOptions: { updateProcessor: testData.getFactory(), diagnosticOptOut: true }
      }).pipe(
        Layer.provide(
          ContextCache.layer().pipe(Layer.provide(Layer.mergeAll(UserRepo.layerMemory([ada]), ContextBuilder.layer())))
        )
      )
      return yield* FlagClient.use((client) => body(client, server)).pipe(Effect.provide(layer), Effect.orDie)
    })
  )

const flush = (client: FlagClient["Service"]) => Effect.promise(() => client.sdk.flush())

const custom = (server: RecordingLaunchDarkly) => server.events().filter((event) => event.kind === "custom")
const indexed = (server: RecordingLaunchDarkly) =>
  server.events().flatMap((event) => (event.kind === "index" ? [event.context as Record<string, unknown>] : []))

describe("FlagClient.track", () => {
  it.live("track - the SDK sends the event with the user's rich context", () =>
    withRecordedEvents((client, server) =>
      Effect.gen(function* () {
        const result = yield* client.track("checkout-completed", id("ada"), { cart: 3 }, 42.5)
        assert.deepStrictEqual(result, { kind: "full", fallback: null })
        yield* flush(client)
        const [event] = custom(server)
        assert.strictEqual(event?.key, "checkout-completed")
        assert.deepStrictEqual(event?.data, { cart: 3 })
        assert.strictEqual(event?.metricValue, 42.5)
        // The rich context, as built from the user row (the private attributes redacted by the SDK).
        const context = event?.context as Record<string, unknown> | undefined
        assert.strictEqual(context?.key, "ada")
        assert.deepStrictEqual(context?.segments, ["beta", "established_user", "user"])
        assert.strictEqual(context?.account_age_days, 400)
        assert.deepStrictEqual(indexed(server), [context])
      })
    )
  )

  it.live("track - an unknown user is tracked with the id-only context, and the result says so", () =>
    withRecordedEvents((client, server) =>
      Effect.gen(function* () {
        const result = yield* client.track("signup", id("newcomer"))
        assert.deepStrictEqual(result, { kind: "id-only", fallback: "UserNotFound" })
        yield* flush(client)
        assert.deepStrictEqual(
          custom(server).map((event) => event.context),
          [{ kind: "user", key: "newcomer" }]
        )
      })
    )
  )

  it.live("track - per-evaluation attributes are sent on a copy of the cached context", () =>
    withRecordedEvents((client, server) =>
      Effect.gen(function* () {
        // Per-request attributes are private unless declared public: `page` is declared, `ip` is not.
        yield* client.track("clicked", id("ada"), undefined, undefined, {
          attributes: { page: "pricing", ip: "203.0.113.7" },
          publicAttributes: ["page"]
        })
        yield* flush(client)
        const [event] = custom(server)
        assert.strictEqual((event?.context as Record<string, unknown> | undefined)?.page, "pricing")
        assert.notInclude(JSON.stringify(event), "203.0.113.7")
        const sent = event?.context as Record<string, unknown> | undefined
        // Redacted by the SDK, as the user's email, name and metadata are.
        assert.includeMembers(
          [...((sent?._meta as { redactedAttributes?: Array<string> } | undefined)?.redactedAttributes ?? [])],
          ["ip", "email", "name", "/custom"]
        )
        const cached = yield* client.contextFor(id("ada"))
        assert.isUndefined(cached.context?.page)
      })
    )
  )

  it.live("track - an invalid id sends nothing and answers InvalidUserId", () =>
    withRecordedEvents((client, server) =>
      Effect.gen(function* () {
        const result = yield* client.track("signup", id("   "))
        assert.deepStrictEqual(result, { kind: "id-only", fallback: "InvalidUserId" })
        yield* flush(client)
        assert.deepStrictEqual(custom(server), [])
      })
    )
  )
})

describe("FlagClient.contextFor", () => {
  it.live("contextFor - the context an evaluation uses: the SDK answers the same with it", () =>
    withRecordedEvents((client) =>
      Effect.gen(function* () {
        const resolved = yield* client.contextFor(id("ada"))
        assert.strictEqual(resolved.kind, "full")
        assert.isNull(resolved.fallback)
        assert.include(resolved.context?.segments ?? [], "beta")
        const context = resolved.context
        assert.isDefined(context)
        if (context === undefined) return
        const direct = yield* Effect.promise(() => client.sdk.variation("beta-only", context, false))
        const evaluated = yield* client.isEnabled("beta-only", id("ada"))
        assert.isTrue(direct)
        assert.strictEqual(direct, evaluated)
      })
    )
  )

  it.live("contextFor - fallbacks: UserNotFound gives the id-only context, an invalid id none", () =>
    withRecordedEvents((client) =>
      Effect.gen(function* () {
        assert.deepStrictEqual(yield* client.contextFor(id("ghost")), {
          context: { kind: "user", key: "ghost" },
          kind: "id-only",
          fallback: "UserNotFound",
          privateAttributes: ["email", "name", "/custom"]
        })
        assert.deepStrictEqual(yield* client.contextFor(id("")), {
          context: undefined,
          kind: "id-only",
          fallback: "InvalidUserId",
          privateAttributes: ["email", "name", "/custom"]
        })
        const idOnly = yield* client.contextFor(id("ada"), { useUserIdOnly: true, role: "admin" })
        assert.deepStrictEqual(idOnly.context, { kind: "user", key: "ada", role: "admin", segments: ["admin"] })
        assert.strictEqual(idOnly.kind, "id-only")
      })
    )
  )

  it.live("contextFor - privateAttributes are the references of the layer's rules", () =>
    Effect.gen(function* () {
      const resolved = yield* FlagClient.contextFor(id("ada"))
      assert.deepStrictEqual(resolved.privateAttributes, ["email", "/custom/plan"])
      assert.isFalse("_meta" in (resolved.context ?? {}))
    }).pipe(
      Effect.provide(FlagClient.layerTestWith({ users: [ada], rules: { privateAttributes: ["email", "custom_plan"] } }))
    )
  )

  it.live("contextFor - the static accessor reads the current FlagClient", () =>
    FlagClient.contextFor(id("ada")).pipe(
      Effect.map((resolved) => assert.strictEqual(resolved.kind, "full")),
      Effect.provide(FlagClient.layerTestWith({ users: [ada] }))
    )
  )
})

describe("FlagClientPromise", () => {
  it("track and contextFor - the Promise facade answers like the service", async () => {
    const flags = makeFlagClientPromise(FlagClient.layerTestWith({ users: [ada] }))
    try {
      const resolved = await flags.contextFor("ada")
      assert.strictEqual(resolved.kind, "full")
      assert.include(resolved.context?.segments ?? [], "beta")
      assert.deepStrictEqual(await flags.track("signup", "ghost"), { kind: "id-only", fallback: "UserNotFound" })
      assert.deepStrictEqual(await flags.track("signup", ""), { kind: "id-only", fallback: "InvalidUserId" })
    } finally {
      await flags.dispose()
    }
  })
})
