/**
 * Fleet mode: SDK options for the config-driven layers, the Relay Proxy, and the LaunchDarkly
 * Redis store shared by a fleet (one instance writes the flags, the others read them in daemon
 * mode).
 *
 * `program` runs two instances on the example flags file and the Redis of `REDIS_URL` (default
 * 127.0.0.1:6379), under a random key prefix that it deletes at the end.
 */
import { randomUUID } from "node:crypto"
import { fileURLToPath } from "node:url"
import type { integrations } from "@launchdarkly/node-server-sdk"
import { RedisFeatureStore } from "@launchdarkly/node-server-sdk-redis"
import { Config, ConfigProvider, DateTime, Effect, Layer } from "effect"
import { FlagClient, FlagClientSdkOptions, User, UserId, UserRepo } from "effect-flag-context"
import { Redis } from "ioredis"

const DAY = 86_400_000
const ada = new User({
  id: UserId.make("ada"),
  email: "ada@agpt.co",
  email_verified: true,
  name: "Ada",
  created_at: DateTime.makeUnsafe(Date.now() - 400 * DAY),
  updated_at: DateTime.makeUnsafe(Date.now()),
  metadata: { segments: ["beta"], plan: "enterprise" }
})

// #region sdk-options
// SDK options for the config-driven `FlagClient.layer`: hooks, plugins, a persistent store, big
// segments. Provided as a service; `hooks` and `plugins` add up with `layerWith`'s `sdkOptions`.
const auditHook: integrations.Hook = {
  getMetadata: () => ({ name: "audit" }),
  afterEvaluation: (hookContext, data, detail) => {
    if (detail.reason.kind === "ERROR") console.warn(`flag ${hookContext.flagKey}: ${detail.reason.errorKind}`)
    return data
  }
}
const HooksLive = Layer.succeed(FlagClientSdkOptions, { hooks: [auditHook] })
// #endregion

// #region redis-store
// The LaunchDarkly Redis store (`@launchdarkly/node-server-sdk-redis`), configured from the
// environment. Every instance of the fleet uses the same prefix.
const RedisStoreLive = Layer.effect(
  FlagClientSdkOptions,
  Effect.gen(function* () {
    const url = new URL(yield* Config.String("REDIS_URL").pipe(Config.withDefault("redis://127.0.0.1:6379")))
    const prefix = yield* Config.String("LAUNCHDARKLY_REDIS_PREFIX").pipe(Config.withDefault("launchdarkly"))
    return {
      hooks: [auditHook],
      featureStore: RedisFeatureStore({
        prefix,
        redisOpts: { host: url.hostname, port: Number(url.port || 6379) },
        // Seconds an instance keeps what it read from Redis (the store's default is 15).
        cacheTTL: 5
      })
    }
  })
)

// The writer has a data source (LAUNCHDARKLY_SDK_KEY, or a relay, or a flags file) and writes
// every flag it receives into Redis. The readers set LAUNCHDARKLY_DAEMON_MODE=true: they never
// contact LaunchDarkly for flags and evaluate from Redis.
const Instance = FlagClient.layer.pipe(Layer.provide(RedisStoreLive))
// #endregion

// #region relay
// Through a Relay Proxy: LAUNCHDARKLY_RELAY_URI sets the SDK's base, stream and events URIs
// (LAUNCHDARKLY_BASE_URI, _STREAM_URI, _EVENTS_URI, when set, win for their own service).
const relayEnvironment = {
  LAUNCHDARKLY_SDK_KEY: "sdk-your-server-side-key",
  LAUNCHDARKLY_RELAY_URI: "http://relay.internal:8030"
}
// #endregion

const flagsFile = fileURLToPath(new URL("./flags.json", import.meta.url))

const instance = (env: Record<string, string>) =>
  Instance.pipe(
    Layer.provide(UserRepo.layerMemory([ada])),
    Layer.provide(
      ConfigProvider.layer(
        ConfigProvider.fromEnv({ env: { REDIS_URL: process.env["REDIS_URL"] ?? "redis://127.0.0.1:6379", ...env } })
      )
    )
  )

export const program = Effect.gen(function* () {
  const prefix = `efc-example-${randomUUID()}`
  const redis = yield* Effect.acquireRelease(
    Effect.sync(() => new Redis(process.env["REDIS_URL"] ?? "redis://127.0.0.1:6379")),
    (client) =>
      Effect.promise(async () => {
        const keys = await client.keys(`${prefix}:*`)
        if (keys.length > 0) await client.del(...keys)
        await client.quit()
      })
  )
  const writer = yield* Layer.build(instance({ LAUNCHDARKLY_FLAGS_FILE: flagsFile, LAUNCHDARKLY_REDIS_PREFIX: prefix }))
  const reader = yield* Layer.build(
    instance({
      LAUNCHDARKLY_DAEMON_MODE: "true",
      LAUNCHDARKLY_REDIS_PREFIX: prefix,
      LAUNCHDARKLY_INIT_TIMEOUT: "1 second"
    })
  )
  const written = yield* Effect.provide(FlagClient.evaluate("beta-dashboard", ada.id, false), writer)
  const fromRedis = yield* Effect.provide(FlagClient.evaluate("beta-dashboard", ada.id, false), reader)
  const inited = yield* Effect.promise(() => redis.exists(`${prefix}:$inited`))
  if (!written.value || !fromRedis.value || fromRedis.fallback !== null || inited !== 1) {
    return yield* Effect.die(new Error(`unexpected: ${JSON.stringify({ written, fromRedis, inited })}`))
  }
  return { fromRedis: fromRedis.value, relay: Object.keys(relayEnvironment), hooks: HooksLive !== undefined }
}).pipe(Effect.scoped)
