/**
 * Testing code guarded by flags: the real LaunchDarkly SDK on its `TestData` source, an in-memory
 * user repository, the real segmentation and cache. No network, no SDK key.
 *
 * `program` runs the same checks a test would (see `test/FlagClient.testing.test.ts` for them as
 * `@effect/vitest` tests).
 */
import { strict as assert } from "node:assert"
import { DateTime, Effect } from "effect"
import { FlagClient, TestFlags, User, UserId } from "effect-flag-context"

// #region feature
// The code under test: a feature behind a flag.
export const dashboardFor = (userId: UserId) =>
  Effect.map(FlagClient.isEnabled("beta-dashboard", userId), (beta) => (beta ? "new dashboard" : "classic dashboard"))
// #endregion

// #region users
const user = (id: string, metadata: User["metadata"]) =>
  new User({
    id: UserId.make(id),
    email: `${id}@example.com`,
    email_verified: true,
    name: id,
    created_at: DateTime.makeUnsafe(0),
    updated_at: DateTime.makeUnsafe(0),
    metadata
  })

export const ada = user("ada", { segments: ["beta"] })
export const grace = user("grace", {})
// #endregion

// #region layer
// FlagClient on TestData, the TestFlags handle, UserRepo.layerMemory, ContextBuilder, ContextCache.
export const TestLayer = FlagClient.layerTestWith({
  users: [ada, grace],
  flags: { "beta-dashboard": false }
})
// #endregion

// #region checks
export const betaUsersGetTheNewDashboard = Effect.gen(function* () {
  const flags = yield* TestFlags
  yield* flags.enableForSegments("beta-dashboard", ["beta"])
  assert.equal(yield* dashboardFor(ada.id), "new dashboard")
  assert.equal(yield* dashboardFor(grace.id), "classic dashboard")
})

export const everyoneWhenTheFlagIsOn = Effect.gen(function* () {
  const flags = yield* TestFlags
  yield* flags.enable("beta-dashboard")
  assert.equal(yield* dashboardFor(grace.id), "new dashboard")
  // Unknown users are evaluated with an id-only context, and the answer says so.
  const detail = yield* FlagClient.evaluate("beta-dashboard", UserId.make("someone"), false)
  assert.deepEqual([detail.value, detail.fallback, detail.context], [true, "UserNotFound", "id-only"])
})
// #endregion

export const program = Effect.all([
  Effect.provide(betaUsersGetTheNewDashboard, TestLayer),
  Effect.provide(everyoneWhenTheFlagIsOn, TestLayer)
])
