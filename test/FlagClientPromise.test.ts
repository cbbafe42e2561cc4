import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Redacted, Schema, Scope } from "effect"
import { ContextBuilder } from "../src/ContextBuilder.js"
import { ContextCache } from "../src/ContextCache.js"
import { FeatureDisabled, FlagClient, FlagClientInitError, TestFlags } from "../src/FlagClient.js"
import { makeFlagClientPromise } from "../src/FlagClientPromise.js"
import { UserRepo } from "../src/UserRepo.js"
import { eventually, fakeLaunchDarkly, makeUser } from "./support/launchdarkly.js"

const NOW = Date.UTC(2026, 0, 1)
const ada = makeUser("ada", NOW, 10, ["beta"])
const memoryCache = ContextCache.layer().pipe(
  Layer.provide(Layer.mergeAll(UserRepo.layerMemory([ada]), ContextBuilder.layer()))
)

describe("FlagClientPromise", () => {
  it("evaluates through a ManagedRuntime and disposes it", async () => {
    const flags = makeFlagClientPromise(
      FlagClient.layerTestWith({ users: [ada], flags: { everyone: true, limit: 25 } })
    )
    await flags.ready()
    assert.isTrue(await flags.isEnabled("everyone", "ada"))
    assert.isFalse(await flags.isEnabled("unknown", "ada"))
    await flags.runtime.runPromise(TestFlags.use((testFlags) => testFlags.enableForSegments("unknown", ["beta"])))
    assert.isTrue(await flags.isEnabled("unknown", "ada"))
    assert.isFalse(await flags.isEnabled("unknown", "nobody"))
    assert.strictEqual(await flags.variation("limit", "ada", Schema.Number, 10), 25)
    const detail = await flags.evaluate("limit", "nobody", 10)
    assert.deepStrictEqual([detail.value, detail.fallback, detail.context], [25, "UserNotFound", "id-only"])
    const invalid = await flags.evaluate("limit", "", 10)
    assert.deepStrictEqual([invalid.value, invalid.fallback], [10, "InvalidUserId"])
    assert.strictEqual((await flags.allFlags("ada"))["limit"], 25)
    await flags.require("everyone", "ada")
    const rejection = await flags.require("unknown", "nobody").then(
      () => undefined,
      (error: unknown) => error
    )
    assert.instanceOf(rejection, FeatureDisabled)
    await flags.dispose()
  })

  it("dispose releases the layer: the SDK client closes its connection", async () => {
    const scope = Effect.runSync(Scope.make())
    const fake = await Effect.runPromise(Scope.provide(fakeLaunchDarkly, scope))
    const flags = makeFlagClientPromise(
      FlagClient.layerWith({
        sdkKey: Redacted.make("sdk-key"),
        streamUri: fake.uri,
        baseUri: fake.uri,
        eventsUri: fake.uri,
        initTimeout: "100 millis",
        sdkOptions: { sendEvents: false, diagnosticOptOut: true }
      }).pipe(Layer.provide(memoryCache))
    )
    await flags.ready()
    assert.isAbove(fake.connections(), 0)
    const detail = await flags.evaluate("x", "ada", "default")
    assert.deepStrictEqual([detail.value, detail.fallback], ["default", "ClientNotReady"])
    await flags.dispose()
    await Effect.runPromise(eventually(Effect.sync(fake.connections), (open) => open === 0))
    await Effect.runPromise(Scope.close(scope, Exit.void))
  })

  it("ready rejects with the layer's error", async () => {
    const flags = makeFlagClientPromise(
      FlagClient.layerWith({
        flagsFile: "/nonexistent/flags.json",
        requireInitialized: true,
        initTimeout: "1 second"
      }).pipe(Layer.provide(memoryCache))
    )
    const error = await flags.ready().then(
      () => undefined,
      (e: unknown) => e
    )
    assert.instanceOf(error, FlagClientInitError)
    await flags.dispose()
  })
})
