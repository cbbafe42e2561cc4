/**
 * Fleet mode on real services: SDK options for the config-driven layers (`FlagClientSdkOptions`),
 * the Relay Proxy (`LAUNCHDARKLY_RELAY_URI`, a loopback server stands in for it), and the
 * LaunchDarkly Redis store on the Redis of this machine (`REDIS_URL`, else 127.0.0.1:6379) under a
 * random key prefix: one instance writes the flags, another reads them in daemon mode.
 */
import { randomUUID } from "node:crypto"
import { writeFileSync } from "node:fs"
import { assert, describe, it } from "@effect/vitest"
import type { integrations, LDOptions } from "@launchdarkly/node-server-sdk"
import { RedisFeatureStore } from "@launchdarkly/node-server-sdk-redis"
import { ConfigProvider, Effect, Layer } from "effect"
import { Redis } from "ioredis"
import { ContextBuilder } from "../src/ContextBuilder.js"
import { ContextCache } from "../src/ContextCache.js"
import { FlagClient, FlagClientSdkOptions } from "../src/FlagClient.js"
import type { UserId } from "../src/User.js"
import { UserRepo } from "../src/UserRepo.js"
import { eventually, flagsFile, makeUser, segmentFlag } from "./support/launchdarkly.js"
import { recordingLaunchDarkly } from "./support/recordingLaunchDarkly.js"

const NOW = Date.now()
const ada = makeUser("ada", NOW, 400, ["beta"])
const bob = makeUser("bob", NOW, 400)
const id = (value: string) => value as UserId
const VARIANT = segmentFlag("variant", "beta", ["beta-variant", "everyone-variant"])

/** `FlagClient.layer`, the config-driven production stack, over these users and this environment. */
const production = (env: Record<string, string>, sdkOptions?: LDOptions) => {
  const layer = FlagClient.layer.pipe(
    Layer.provide(UserRepo.layerMemory([ada, bob])),
    Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env })))
  )
  return sdkOptions === undefined ? layer : layer.pipe(Layer.provide(Layer.succeed(FlagClientSdkOptions, sdkOptions)))
}

describe("FlagClientSdkOptions", () => {
  it.live("hooks given as a service reach the SDK of the config-driven FlagClient.layer", () =>
    Effect.gen(function* () {
      const path = yield* flagsFile("json", { flags: { variant: VARIANT } })
      const seen: Array<{ readonly flagKey: string; readonly segments: unknown; readonly value: unknown }> = []
      const hook: integrations.Hook = {
        getMetadata: () => ({ name: "recording-hook" }),
        afterEvaluation: (hookContext, data, detail) => {
          const context = hookContext.context as { readonly segments?: unknown }
          seen.push({ flagKey: hookContext.flagKey, segments: context.segments, value: detail.value })
          return data
        }
      }
      const value = yield* FlagClient.evaluate("variant", id("ada"), "none").pipe(
        Effect.provide(production({ LAUNCHDARKLY_FLAGS_FILE: path }, { hooks: [hook] }))
      )
      assert.strictEqual(value.value, "beta-variant")
      assert.deepStrictEqual(seen, [
        { flagKey: "variant", segments: ["beta", "established_user", "user"], value: "beta-variant" }
      ])
    }).pipe(Effect.scoped)
  )

  it.live("hooks of the service and of layerWith's sdkOptions are both kept", () =>
    Effect.gen(function* () {
      const path = yield* flagsFile("json", { flags: { variant: VARIANT } })
      const seen: Array<string> = []
      const recording = (name: string): integrations.Hook => ({
        getMetadata: () => ({ name }),
        afterEvaluation: (hookContext, data) => {
          seen.push(`${name}:${hookContext.flagKey}`)
          return data
        }
      })
      yield* FlagClient.evaluate("variant", id("ada"), "none").pipe(
        Effect.provide(
          FlagClient.layerWith({ flagsFile: path, sdkOptions: { hooks: [recording("explicit")] } }).pipe(
            Layer.provide(Layer.succeed(FlagClientSdkOptions, { hooks: [recording("service")] })),
            Layer.provide(
              ContextCache.layer().pipe(
                Layer.provide(Layer.mergeAll(UserRepo.layerMemory([ada]), ContextBuilder.layer()))
              )
            )
          )
        )
      )
      assert.deepStrictEqual(seen.sort(), ["explicit:variant", "service:variant"])
    }).pipe(Effect.scoped)
  )
})

describe("Relay Proxy", () => {
  it.live("LAUNCHDARKLY_RELAY_URI: the SDK's stream and events go to the relay", () =>
    Effect.gen(function* () {
      const relay = yield* recordingLaunchDarkly({ variant: VARIANT })
      const env = {
        LAUNCHDARKLY_SDK_KEY: "sdk-relay-test",
        LAUNCHDARKLY_RELAY_URI: relay.uri,
        LAUNCHDARKLY_REQUIRE_INITIALIZED: "true",
        LAUNCHDARKLY_INIT_TIMEOUT: "5 seconds"
      }
      yield* Effect.gen(function* () {
        const client = yield* FlagClient
        const evaluation = yield* client.evaluate("variant", id("ada"), "none")
        assert.strictEqual(evaluation.value, "beta-variant")
        assert.isNull(evaluation.fallback)
        yield* client.track("relay-event", id("ada"))
        yield* Effect.promise(() => client.sdk.flush())
      }).pipe(Effect.provide(production(env, { diagnosticOptOut: true })))
      const requests = relay.requests()
      assert.isTrue(requests.some((request) => request.method === "GET" && request.path.endsWith("/all")))
      assert.isTrue(requests.some((request) => request.headers.authorization === "sdk-relay-test"))
      assert.isTrue(relay.events().some((event) => event.kind === "custom" && event.key === "relay-event"))
    }).pipe(Effect.scoped)
  )

  it.live("a specific URI wins over the relay's: LAUNCHDARKLY_EVENTS_URI takes the events elsewhere", () =>
    Effect.gen(function* () {
      const relay = yield* recordingLaunchDarkly({ variant: VARIANT })
      const events = yield* recordingLaunchDarkly()
      const env = {
        LAUNCHDARKLY_SDK_KEY: "sdk-relay-test",
        LAUNCHDARKLY_RELAY_URI: relay.uri,
        LAUNCHDARKLY_EVENTS_URI: events.uri,
        LAUNCHDARKLY_REQUIRE_INITIALIZED: "true"
      }
      yield* Effect.gen(function* () {
        const client = yield* FlagClient
        yield* client.track("elsewhere", id("ada"))
        yield* Effect.promise(() => client.sdk.flush())
      }).pipe(Effect.provide(production(env, { diagnosticOptOut: true })))
      assert.isTrue(events.events().some((event) => event.kind === "custom" && event.key === "elsewhere"))
      assert.isFalse(relay.requests().some((request) => request.path.endsWith("/bulk")))
    }).pipe(Effect.scoped)
  )
})

// ---------------------------------------------------------------------------------------------
// Redis
// ---------------------------------------------------------------------------------------------

const redisUrl = process.env["REDIS_URL"] ?? "redis://127.0.0.1:6379"

/** A Redis connection, closed with the scope. */
const redisClient = Effect.acquireRelease(
  Effect.sync(() => new Redis(redisUrl, { lazyConnect: false, maxRetriesPerRequest: 1 })),
  (redis) => Effect.promise(() => redis.quit().catch(() => "closed"))
)

/** A random key prefix; its keys are deleted with the scope. */
const randomPrefix = Effect.gen(function* () {
  const redis = yield* redisClient
  const prefix = `efc-test-${randomUUID()}`
  yield* Effect.addFinalizer(() =>
    Effect.promise(async () => {
      const keys = await redis.keys(`${prefix}:*`)
      if (keys.length > 0) await redis.del(...keys)
    })
  )
  return prefix
})

/** The SDK options of the LaunchDarkly Redis store under `prefix`, on a connection of its own. */
const redisStore = (prefix: string, cacheTTL?: number) =>
  Effect.map(
    redisClient,
    (client): LDOptions => ({
      featureStore: RedisFeatureStore({ client, prefix, ...(cacheTTL === undefined ? {} : { cacheTTL }) })
    })
  )

describe("Redis store (fleet mode)", () => {
  it.live("instance A writes the flags into Redis; instance B, in daemon mode, evaluates from Redis", () =>
    Effect.gen(function* () {
      const prefix = yield* randomPrefix
      const path = yield* flagsFile("json", { flags: { variant: VARIANT }, flagValues: { banner: "one" } })
      const storeA = yield* redisStore(prefix)
      const storeB = yield* redisStore(prefix, 0)
      // Where B would fetch flags from if it did: a recording stand-in, that must see no such request.
      const launchDarkly = yield* recordingLaunchDarkly()
      // Instance A: a data source (the flags file) and the Redis store, from configuration.
      const instanceA = production({ LAUNCHDARKLY_FLAGS_FILE: path }, storeA)
      // Instance B: daemon mode.
      const instanceB = production(
        {
          LAUNCHDARKLY_SDK_KEY: "sdk-daemon-test",
          LAUNCHDARKLY_DAEMON_MODE: "true",
          LAUNCHDARKLY_RELAY_URI: launchDarkly.uri,
          LAUNCHDARKLY_INIT_TIMEOUT: "2 seconds"
        },
        { ...storeB, sendEvents: false, diagnosticOptOut: true }
      )
      const a = yield* Layer.build(instanceA)
      const b = yield* Layer.build(instanceB)
      const onA = <X>(effect: Effect.Effect<X, never, FlagClient>) => Effect.provide(effect, a)
      const onB = <X>(effect: Effect.Effect<X, never, FlagClient>) => Effect.provide(effect, b)

      assert.strictEqual((yield* onA(FlagClient.evaluate("variant", id("ada"), "none"))).value, "beta-variant")
      const fromRedis = yield* onB(FlagClient.evaluate("variant", id("ada"), "none"))
      assert.deepStrictEqual([fromRedis.value, fromRedis.fallback, fromRedis.context], ["beta-variant", null, "full"])
      assert.strictEqual((yield* onB(FlagClient.evaluate("variant", id("bob"), "none"))).value, "everyone-variant")
      assert.strictEqual((yield* onB(FlagClient.evaluate("banner", id("ada"), "none"))).value, "one")
      assert.isTrue(yield* onB(FlagClient.use((client) => client.initialized)))
      // How to tell that the store holds flags: A marked the prefix initialized.
      const redis = yield* redisClient
      assert.strictEqual(yield* Effect.promise(() => redis.exists(`${prefix}:$inited`)), 1)

      // A flags-file edit on A reaches B through Redis.
      writeFileSync(path, JSON.stringify({ flags: { variant: VARIANT }, flagValues: { banner: "two" } }))
      yield* eventually(
        onB(FlagClient.evaluate("banner", id("ada"), "none")),
        (evaluation) => evaluation.value === "two"
      )
      assert.deepStrictEqual(
        launchDarkly.requests().filter((request) => request.method === "GET"),
        []
      )
    }).pipe(Effect.scoped)
  )

  it.live("daemon mode on an empty prefix: nothing in Redis, and the fallback says FlagNotFound", () =>
    Effect.gen(function* () {
      const prefix = yield* randomPrefix
      const store = yield* redisStore(prefix)
      const instance = production(
        { LAUNCHDARKLY_DAEMON_MODE: "true", LAUNCHDARKLY_INIT_TIMEOUT: "1 second" },
        { ...store, sendEvents: false, diagnosticOptOut: true }
      )
      const evaluation = yield* FlagClient.evaluate("variant", id("ada"), "none").pipe(Effect.provide(instance))
      assert.deepStrictEqual([evaluation.value, evaluation.fallback], ["none", "FlagNotFound"])
      assert.deepStrictEqual(evaluation.reason, { kind: "ERROR", errorKind: "FLAG_NOT_FOUND" })
    }).pipe(Effect.scoped)
  )
})
