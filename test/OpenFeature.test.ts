/**
 * The OpenFeature provider, tested through `@openfeature/server-sdk` itself: the provider is
 * registered with `OpenFeature.setProviderAndWait` and evaluated with a client, never called
 * directly. Each test uses its own OpenFeature domain.
 */
import { randomUUID } from "node:crypto"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { basicLogger, integrations } from "@launchdarkly/node-server-sdk"
import { LaunchDarklyProvider } from "@launchdarkly/openfeature-node-server"
import { ErrorCode, OpenFeature, ProviderEvents, ProviderStatus, TypedInMemoryProvider } from "@openfeature/server-sdk"
import { afterAll, assert, describe, it } from "@effect/vitest"
import { Effect, Layer, ManagedRuntime, Redacted } from "effect"
import { measureOpenFeature } from "../bench/openFeature.js"
import { ContextBuilder } from "../src/ContextBuilder.js"
import { ContextCache } from "../src/ContextCache.js"
import { FlagClient, TestFlags } from "../src/FlagClient.js"
import { makeFlagClientPromise } from "../src/FlagClientPromise.js"
import { FlagClientProvider, richContextHook } from "../src/OpenFeature.js"
import { UserRepo } from "../src/UserRepo.js"
import { eventually, fakeLaunchDarkly, flagsFile, makeUser } from "./support/launchdarkly.js"
import { recordingLaunchDarkly } from "./support/recordingLaunchDarkly.js"

const NOW = Date.now()
const ada = makeUser("ada", NOW, 400, ["beta"])
const bob = makeUser("bob", NOW, 400)

afterAll(() => OpenFeature.close())

const domain = () => `test-${randomUUID()}`

const waitFor = async (check: () => boolean, what: string) => {
  const deadline = Date.now() + 10_000
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not reached in time: ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** A TestData-backed FlagClient behind a Promise facade, and an OpenFeature client on a provider over its runtime. */
const testSetup = async () => {
  const flags = makeFlagClientPromise(FlagClient.layerTestWith({ users: [ada, bob] }))
  const name = domain()
  await OpenFeature.setProviderAndWait(name, FlagClientProvider.fromRuntime(flags.runtime))
  const client = OpenFeature.getClient(name)
  const testFlags = <A>(f: (flags: TestFlags["Service"]) => Effect.Effect<A>) =>
    flags.runtime.runPromise(TestFlags.use(f))
  return {
    client,
    flags,
    testFlags,
    close: async () => {
      await OpenFeature.clearProviders()
      await flags.dispose()
    }
  }
}

describe("OpenFeature provider - evaluation", () => {
  it("targetingKey is the user id: the cached rich context is evaluated", async () => {
    const { client, testFlags, close } = await testSetup()
    try {
      await testFlags((flags) => flags.enableForSegments("beta-dashboard", ["beta"]))
      const details = await client.getBooleanDetails("beta-dashboard", false, { targetingKey: "ada" })
      assert.strictEqual(details.value, true)
      assert.strictEqual(details.reason, "RULE_MATCH")
      assert.strictEqual(details.variant, "0")
      assert.isUndefined(details.errorCode)
      assert.deepStrictEqual(details.flagMetadata, { context: "full" })
      const forBob = await client.getBooleanDetails("beta-dashboard", true, { targetingKey: "bob" })
      assert.strictEqual(forBob.value, false)
      assert.strictEqual(forBob.reason, "FALLTHROUGH")
      assert.strictEqual(forBob.variant, "1")
    } finally {
      await close()
    }
  })

  it("other context fields are per-evaluation attributes, on a copy of the cached context", async () => {
    const { client, flags, testFlags, close } = await testSetup()
    try {
      await testFlags((f) =>
        f.update("french-pricing", (flag) =>
          flag.booleanFlag().fallthroughVariation(false).ifMatch("user", "country", "fr").thenReturn(true)
        )
      )
      await testFlags((f) => f.enableForSegments("admin-console", ["admin"]))
      const fr = await client.getBooleanValue("french-pricing", false, {
        targetingKey: "ada",
        country: "fr",
        signedUpAt: new Date(0)
      })
      assert.isTrue(fr)
      assert.isFalse(await client.getBooleanValue("french-pricing", false, { targetingKey: "ada", country: "de" }))
      // `role` adds the role to the segments, as `EvaluationOptions.role` does.
      assert.isTrue(await client.getBooleanValue("admin-console", false, { targetingKey: "bob", role: "admin" }))
      const cached = await flags.contextFor("ada")
      assert.isUndefined(cached.context?.country)
      assert.notInclude(cached.context?.segments ?? [], "admin")
    } finally {
      await close()
    }
  })

  it("every flag type: boolean, string, number, object", async () => {
    const { client, testFlags, close } = await testSetup()
    try {
      await testFlags((f) =>
        Effect.all([f.set("banner", "hello"), f.set("retries", 3), f.set("limits", { rate: 10 }), f.enable("on")])
      )
      const ctx = { targetingKey: "ada" }
      assert.strictEqual(await client.getStringValue("banner", "none", ctx), "hello")
      assert.strictEqual(await client.getNumberValue("retries", 0, ctx), 3)
      assert.deepStrictEqual(await client.getObjectValue("limits", {}, ctx), { rate: 10 })
      assert.strictEqual(await client.getBooleanValue("on", false, ctx), true)
    } finally {
      await close()
    }
  })

  it("UserNotFound: the id-only answer, its reason stated in flagMetadata, no error", async () => {
    const { client, testFlags, close } = await testSetup()
    try {
      await testFlags((f) => f.enableForUsers("early-access", ["ghost"]))
      const details = await client.getBooleanDetails("early-access", false, { targetingKey: "ghost" })
      assert.strictEqual(details.value, true)
      assert.strictEqual(details.reason, "TARGET_MATCH")
      assert.isUndefined(details.errorCode)
      assert.deepStrictEqual(details.flagMetadata, { context: "id-only", fallback: "UserNotFound" })
    } finally {
      await close()
    }
  })

  it("fallbacks that answer the default map to error codes", async () => {
    const { client, testFlags, close } = await testSetup()
    try {
      await testFlags((f) => f.set("banner", "hello"))
      const missing = await client.getBooleanDetails("no-such-flag", true, { targetingKey: "ada" })
      assert.deepStrictEqual(
        [missing.value, missing.reason, missing.errorCode],
        [true, "ERROR", ErrorCode.FLAG_NOT_FOUND]
      )
      assert.deepStrictEqual(missing.flagMetadata, { context: "full", fallback: "FlagNotFound" })
      const wrongType = await client.getBooleanDetails("banner", false, { targetingKey: "ada" })
      assert.deepStrictEqual([wrongType.value, wrongType.errorCode], [false, ErrorCode.TYPE_MISMATCH])
      const noKey = await client.getStringDetails("banner", "default", { country: "fr" })
      assert.deepStrictEqual([noKey.value, noKey.errorCode], ["default", ErrorCode.TARGETING_KEY_MISSING])
      const invalid = await client.getStringDetails("banner", "default", { targetingKey: "   " })
      assert.deepStrictEqual([invalid.value, invalid.errorCode], ["default", ErrorCode.INVALID_CONTEXT])
      assert.deepStrictEqual(invalid.flagMetadata, { context: "id-only", fallback: "InvalidUserId" })
    } finally {
      await close()
    }
  })

  it("a malformed flag (EvaluationError) is GENERAL", async () =>
    Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const path = yield* flagsFile("json", {
            flags: {
              broken: {
                key: "broken",
                version: 1,
                on: true,
                salt: "broken",
                variations: [true, false],
                fallthrough: { variation: 7 },
                offVariation: 1,
                targets: [],
                rules: [],
                prerequisites: []
              }
            }
          })
          const cache = ContextCache.layer().pipe(
            Layer.provide(Layer.mergeAll(UserRepo.layerMemory([ada]), ContextBuilder.layer()))
          )
          const name = domain()
          yield* Effect.promise(() =>
            OpenFeature.setProviderAndWait(
              name,
              FlagClientProvider.fromLayer(FlagClient.layerWith({ flagsFile: path }).pipe(Layer.provide(cache)))
            )
          )
          const details = yield* Effect.promise(() =>
            OpenFeature.getClient(name).getBooleanDetails("broken", false, { targetingKey: "ada" })
          )
          yield* Effect.promise(() => OpenFeature.clearProviders())
          assert.deepStrictEqual([details.value, details.errorCode], [false, ErrorCode.GENERAL])
          assert.deepStrictEqual(details.flagMetadata, { context: "full", fallback: "EvaluationError" })
        })
      )
    ))
})

describe("OpenFeature provider - status and events", () => {
  it("CONFIGURATION_CHANGED with flagsChanged on every flag update", async () => {
    const { client, testFlags, close } = await testSetup()
    try {
      const changed: Array<ReadonlyArray<string> | undefined> = []
      client.addHandler(ProviderEvents.ConfigurationChanged, (details) => {
        changed.push(details?.flagsChanged)
      })
      assert.strictEqual(client.providerStatus, ProviderStatus.READY)
      await testFlags((f) => f.enable("new-checkout"))
      await waitFor(() => changed.length >= 1, "a configuration change")
      assert.deepStrictEqual(changed, [["new-checkout"]])
    } finally {
      await close()
    }
  })

  it("an SDK without flags: ERROR and PROVIDER_NOT_READY answers, then READY when it gets them", async () =>
    Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const fake = yield* fakeLaunchDarkly
          const cache = ContextCache.layer().pipe(
            Layer.provide(Layer.mergeAll(UserRepo.layerMemory([ada]), ContextBuilder.layer()))
          )
          const layer = FlagClient.layerWith({
            sdkKey: Redacted.make("sdk-key"),
            baseUri: fake.uri,
            streamUri: fake.uri,
            eventsUri: fake.uri,
            initTimeout: "100 millis",
            sdkOptions: { sendEvents: false, diagnosticOptOut: true }
          }).pipe(Layer.provide(cache))
          const name = domain()
          const client = OpenFeature.getClient(name)
          let ready = 0
          client.addHandler(ProviderEvents.Ready, () => {
            ready++
          })
          const failed = yield* Effect.promise(() =>
            OpenFeature.setProviderAndWait(name, FlagClientProvider.fromLayer(layer)).then(
              () => false,
              () => true
            )
          )
          assert.isTrue(failed)
          assert.strictEqual(client.providerStatus, ProviderStatus.ERROR)
          const notReady = yield* Effect.promise(() => client.getBooleanDetails("on", false, { targetingKey: "ada" }))
          assert.strictEqual(notReady.errorCode, ErrorCode.PROVIDER_NOT_READY)
          yield* fake.serve({
            on: {
              key: "on",
              version: 1,
              on: true,
              salt: "on",
              variations: [true, false],
              fallthrough: { variation: 0 },
              offVariation: 1,
              targets: [],
              rules: [],
              prerequisites: []
            }
          })
          yield* eventually(
            Effect.sync(() => client.providerStatus),
            (status) => status === ProviderStatus.READY
          )
          assert.isAtLeast(ready, 1)
          const details = yield* Effect.promise(() => client.getBooleanDetails("on", false, { targetingKey: "ada" }))
          assert.deepStrictEqual([details.value, details.errorCode], [true, undefined])
          yield* Effect.promise(() => OpenFeature.clearProviders())
        })
      )
    ))

  it("a data source that fails after the flags arrived: STALE, and the flags keep being served", async () => {
    // Serves the flags on the first stream connection and drops it; every reconnection is
    // refused with 401, which the SDK does not retry.
    let connections = 0
    const server = createServer((request, response) => {
      if (!request.url?.endsWith("/all")) return void response.writeHead(202).end()
      connections++
      if (connections > 1) return void response.writeHead(401).end()
      response.writeHead(200, { "content-type": "text/event-stream" })
      response.write(
        `event: put\ndata: ${JSON.stringify({
          path: "/",
          data: {
            flags: {
              on: {
                key: "on",
                version: 1,
                on: true,
                salt: "on",
                variations: [true, false],
                fallthrough: { variation: 0 },
                offVariation: 1,
                targets: [],
                rules: [],
                prerequisites: []
              }
            },
            segments: {}
          }
        })}\n\n`
      )
      setTimeout(() => response.end(), 100)
    })
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    const uri = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    const layer = FlagClient.layerWith({
      sdkKey: Redacted.make("sdk-key"),
      baseUri: uri,
      streamUri: uri,
      eventsUri: uri,
      sdkOptions: { sendEvents: false, diagnosticOptOut: true, streamInitialReconnectDelay: 0.05 }
    }).pipe(
      Layer.provide(
        ContextCache.layer().pipe(Layer.provide(Layer.mergeAll(UserRepo.layerMemory([ada]), ContextBuilder.layer())))
      )
    )
    const name = domain()
    try {
      await OpenFeature.setProviderAndWait(name, FlagClientProvider.fromLayer(layer))
      const client = OpenFeature.getClient(name)
      let stale = 0
      client.addHandler(ProviderEvents.Stale, () => {
        stale++
      })
      await waitFor(() => client.providerStatus === ProviderStatus.STALE, "status STALE")
      assert.strictEqual(stale, 1)
      assert.isAtLeast(connections, 2)
      const details = await client.getBooleanDetails("on", false, { targetingKey: "ada" })
      assert.deepStrictEqual([details.value, details.errorCode], [true, undefined])
    } finally {
      await OpenFeature.clearProviders()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  })

  it("a layer that fails: FATAL, and evaluations answer the default with PROVIDER_FATAL", async () => {
    const name = domain()
    const layer = FlagClient.layerWith({
      flagsFile: "/nonexistent/flags.json",
      initTimeout: "100 millis",
      requireInitialized: true
    }).pipe(
      Layer.provide(
        ContextCache.layer().pipe(Layer.provide(Layer.mergeAll(UserRepo.layerMemory([]), ContextBuilder.layer())))
      )
    )
    const failed = await OpenFeature.setProviderAndWait(name, FlagClientProvider.fromLayer(layer)).then(
      () => false,
      () => true
    )
    assert.isTrue(failed)
    const client = OpenFeature.getClient(name)
    assert.strictEqual(client.providerStatus, ProviderStatus.FATAL)
    const details = await client.getBooleanDetails("on", true, { targetingKey: "ada" })
    assert.deepStrictEqual([details.value, details.errorCode], [true, ErrorCode.PROVIDER_FATAL])
    await OpenFeature.clearProviders()
  })

  it("shutdown closes what fromLayer opened, and leaves a caller's runtime open", async () => {
    let released = 0
    const marker = Layer.effectDiscard(
      Effect.addFinalizer(() =>
        Effect.sync(() => {
          released++
        })
      )
    )
    const layer = Layer.merge(FlagClient.layerTestWith({ users: [ada], flags: { on: true } }), marker)
    const owned = domain()
    await OpenFeature.setProviderAndWait(owned, FlagClientProvider.fromLayer(layer))
    assert.isTrue(await OpenFeature.getClient(owned).getBooleanValue("on", false, { targetingKey: "ada" }))
    const flags = makeFlagClientPromise(FlagClient.layerTestWith({ users: [ada], flags: { on: true } }))
    const borrowed = domain()
    await OpenFeature.setProviderAndWait(borrowed, FlagClientProvider.fromRuntime(flags.runtime))
    const sdk = await flags.runtime.runPromise(FlagClient.use((client) => Effect.succeed(client.sdk)))
    assert.strictEqual(sdk.listenerCount("update"), 1)
    await OpenFeature.clearProviders()
    assert.strictEqual(released, 1)
    assert.strictEqual(sdk.listenerCount("update"), 0)
    assert.isTrue(await flags.isEnabled("on", "ada"))
    await flags.dispose()
  })
})

describe("OpenFeature provider - from an Effect program", () => {
  it("FlagClientProvider.make: the provider over the FlagClient of the current layer; closing it closes nothing", async () =>
    Effect.runPromise(
      Effect.gen(function* () {
        const provider = yield* FlagClientProvider.make
        const name = domain()
        yield* Effect.promise(() => OpenFeature.setProviderAndWait(name, provider))
        const value = yield* Effect.promise(() =>
          OpenFeature.getClient(name).getBooleanValue("on", false, { targetingKey: "ada" })
        )
        yield* Effect.promise(() => OpenFeature.clearProviders())
        assert.isTrue(value)
        // The layer's client still answers after OpenFeature closed the provider.
        assert.isTrue(yield* FlagClient.isEnabled("on", ada.id))
      }).pipe(Effect.provide(FlagClient.layerTestWith({ users: [ada], flags: { on: true } })))
    ))
})

describe("OpenFeature provider - track", () => {
  it("track is forwarded with the user's rich context; value is the metric value", async () =>
    Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const server = yield* recordingLaunchDarkly()
          const testData = new integrations.TestData()
          const layer = FlagClient.layerWith({
            sdkKey: Redacted.make("sdk-key"),
            baseUri: server.uri,
            streamUri: server.uri,
            eventsUri: server.uri,
            requireInitialized: true,
            sdkOptions: { updateProcessor: testData.getFactory(), diagnosticOptOut: true }
          }).pipe(
            Layer.provide(
              ContextCache.layer().pipe(
                Layer.provide(Layer.mergeAll(UserRepo.layerMemory([ada]), ContextBuilder.layer()))
              )
            )
          )
          const runtime = ManagedRuntime.make(layer)
          yield* Effect.addFinalizer(() => Effect.promise(() => runtime.dispose()))
          const name = domain()
          yield* Effect.promise(() => OpenFeature.setProviderAndWait(name, FlagClientProvider.fromRuntime(runtime)))
          OpenFeature.getClient(name).track(
            "purchase",
            { targetingKey: "ada", page: "checkout", plan: "pro", publicAttributes: ["plan"] },
            {
              value: 9.99,
              currency: "EUR"
            }
          )
          const sdk = yield* Effect.promise(() => runtime.runPromise(FlagClient.use((c) => Effect.succeed(c.sdk))))
          yield* eventually(Effect.promise(() => sdk.flush()).pipe(Effect.map(() => server.events())), (events) =>
            events.some((event) => event.kind === "custom")
          )
          yield* Effect.promise(() => OpenFeature.clearProviders())
          const event = server.events().find((e) => e.kind === "custom")
          assert.strictEqual(event?.key, "purchase")
          assert.strictEqual(event?.metricValue, 9.99)
          assert.deepStrictEqual(event?.data, { currency: "EUR" })
          const context = event?.context as Record<string, unknown> | undefined
          assert.strictEqual(context?.key, "ada")
          // Fields of the OpenFeature context are per-request attributes: private (redacted) by default.
          assert.isUndefined(context?.page)
          assert.notInclude(JSON.stringify(event), "checkout")
          assert.strictEqual(context?.plan, "pro")
          assert.includeMembers(
            [...((context?._meta as { redactedAttributes?: Array<string> } | undefined)?.redactedAttributes ?? [])],
            ["page", "email", "name", "/custom"]
          )
          assert.include(context?.segments as ReadonlyArray<string>, "beta")
        })
      )
    ))
})

describe("benchmark", () => {
  it("bench/openFeature.ts - every competitor answers the same", { timeout: 60_000 }, async () => {
    const result = await measureOpenFeature({ iterations: 20, rounds: 2, warmup: 20 })
    assert.isTrue(result.agreed)
    assert.strictEqual(result.results.length, 4)
  })
})

describe("richContextHook", () => {
  it("the official LaunchDarkly provider targets segments it could not see without the hook", async () => {
    const flags = makeFlagClientPromise(FlagClient.layerTestWith({ users: [ada, bob] }))
    const testData = new integrations.TestData()
    await testData.update(
      testData
        .flag("beta-dashboard")
        .booleanFlag()
        .fallthroughVariation(false)
        .ifMatch("user", "segments", "beta")
        .thenReturn(true)
    )
    const name = domain()
    await OpenFeature.setProviderAndWait(
      name,
      new LaunchDarklyProvider("sdk-key", {
        updateProcessor: testData.getFactory(),
        sendEvents: false,
        diagnosticOptOut: true,
        logger: basicLogger({ level: "none" })
      })
    )
    const client = OpenFeature.getClient(name)
    try {
      assert.isFalse(await client.getBooleanValue("beta-dashboard", false, { targetingKey: "ada" }))
      client.addHooks(richContextHook(flags.runtime))
      const details = await client.getBooleanDetails("beta-dashboard", false, { targetingKey: "ada" })
      assert.deepStrictEqual([details.value, details.reason], [true, "RULE_MATCH"])
      assert.isFalse(await client.getBooleanValue("beta-dashboard", false, { targetingKey: "bob" }))
    } finally {
      await OpenFeature.clearProviders()
      await flags.dispose()
    }
  })

  it("a before hook that gives any provider the rich context", async () => {
    const flags = makeFlagClientPromise(FlagClient.layerTestWith({ users: [ada, bob] }))
    const name = domain()
    const seen: Array<Record<string, unknown>> = []
    await OpenFeature.setProviderAndWait(
      name,
      new TypedInMemoryProvider({
        "beta-dashboard": {
          variants: { on: true, off: false },
          defaultVariant: "off",
          disabled: false,
          contextEvaluator: (context) => {
            seen.push({ ...context })
            return Array.isArray(context.segments) && context.segments.includes("beta") ? "on" : "off"
          }
        }
      })
    )
    const client = OpenFeature.getClient(name)
    try {
      assert.isFalse(await client.getBooleanValue("beta-dashboard", false, { targetingKey: "ada" }))
      client.addHooks(richContextHook(flags.runtime))
      assert.isTrue(await client.getBooleanValue("beta-dashboard", false, { targetingKey: "ada" }))
      assert.isFalse(await client.getBooleanValue("beta-dashboard", false, { targetingKey: "bob" }))
      // The client's private attributes travel with the rich context, for the provider's own events.
      assert.deepStrictEqual(seen.at(-2)?.["privateAttributes"], ["email", "name", "/custom"])
      // Fields the caller set win over the rich context.
      assert.isFalse(await client.getBooleanValue("beta-dashboard", false, { targetingKey: "ada", segments: [] }))
    } finally {
      await OpenFeature.clearProviders()
      await flags.dispose()
    }
  })
})
