/**
 * Getting started: a feature behind a LaunchDarkly flag, the layers that serve it in production and
 * on a laptop, and a test of it.
 *
 * `program` runs the laptop layers (the example flags file through the SDK's file data source, users
 * in memory) and the test (the SDK's `TestData`): no SDK key, no database, no network.
 */
import { strict as assert } from "node:assert"
import { fileURLToPath } from "node:url"
import { DateTime, Effect, Layer } from "effect"
import { ContextBuilder, ContextCache, FlagClient, TestFlags, User, UserId, UserRepo } from "effect-flag-context"

// #region feature
// Your code asks for a flag by user id. It never sees the database, the cache or the SDK, and it
// can't fail: when anything is missing, the answer is the default (`false` here).
export const dashboardFor = Effect.fn("dashboardFor")(function* (userId: UserId) {
  const beta = yield* FlagClient.isEnabled("beta-dashboard", userId)
  return beta ? "new dashboard" : "classic dashboard"
})
// #endregion

// #region production
// Production: users from Postgres (DATABASE_URL), flags from LaunchDarkly (LAUNCHDARKLY_SDK_KEY),
// cache and segmentation rules from CONTEXT_CACHE_* and SEGMENT_* (see docs/configuration.md).
export const ProductionLive = FlagClient.layer.pipe(Layer.provide(UserRepo.layerPgConfig()))
// #endregion

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

// #region local
// On a laptop: the same client on a flags file, over users in memory (or `layerEmbedded` from
// "effect-flag-context/embedded" for a real Postgres in-process), with settings given in code.
const flagsFile = fileURLToPath(new URL("./flags.json", import.meta.url))

export const LocalLive = FlagClient.layerWith({ flagsFile }).pipe(
  Layer.provideMerge(ContextCache.layer({ timeToLive: "5 minutes" })),
  Layer.provideMerge(ContextBuilder.layer({ employeeDomains: ["agpt.co"] })),
  Layer.provideMerge(UserRepo.layerMemory([ada]))
)

// `beta-dashboard` in flags.json is on for the `beta` segment, which ada's metadata puts her in.
const onLaptop = dashboardFor(ada.id).pipe(Effect.provide(LocalLive))
// #endregion

// #region test
// In tests: the real SDK on its TestData source, users in memory, the real rules and cache.
const TestLive = FlagClient.layerTestWith({ users: [ada], flags: { "beta-dashboard": false } })

export const dashboardTest = Effect.gen(function* () {
  assert.equal(yield* dashboardFor(ada.id), "classic dashboard")
  const flags = yield* TestFlags
  yield* flags.enableForSegments("beta-dashboard", ["beta"])
  assert.equal(yield* dashboardFor(ada.id), "new dashboard")
  assert.equal(yield* dashboardFor(UserId.make("someone-else")), "classic dashboard")
}).pipe(Effect.provide(TestLive))
// #endregion

export const program = Effect.gen(function* () {
  assert.equal(yield* onLaptop, "new dashboard")
  yield* dashboardTest
  return ProductionLive
})
