/**
 * The context cache: what a TTL, capacity and explicit invalidation do to what `FlagClient` sees.
 *
 * `program` runs against a repository over a mutable map (standing in for Postgres, counting its
 * lookups), the SDK's `TestData`, and the `TestClock`, so that "25 hours later" takes no time.
 */
import { strict as assert } from "node:assert"
import { DateTime, Effect, Layer } from "effect"
import {
  ContextBuilder,
  ContextCache,
  FlagClient,
  TestFlags,
  User,
  UserId,
  UserNotFound,
  UserRepo
} from "effect-flag-context"
import { TestClock } from "effect/testing"

// #region settings
// Every field is optional; these are the defaults (CONTEXT_CACHE_* with ContextCache.layerConfig).
const Cache = ContextCache.layer({
  capacity: 1000, // users kept; popular ones are kept over rarely asked ones
  timeToLive: "24 hours", // how long a loaded user is kept
  notFoundTimeToLive: "60 seconds", // how long "no such user" is remembered
  lookupTimeout: "1 second" // the bound on one repository lookup
})
// #endregion

// A user table in memory: `save` is the application's write path.
const table = new Map<string, User>()
let lookups = 0
const grace = new User({
  id: UserId.make("grace"),
  email: "grace@example.com",
  email_verified: true,
  name: "Grace",
  created_at: DateTime.makeUnsafe(Date.now() - 100 * 86_400_000),
  updated_at: DateTime.makeUnsafe(Date.now()),
  metadata: {}
})
const save = (user: User) => Effect.sync(() => table.set(user.id, user))
const TableRepo = Layer.succeed(
  UserRepo,
  UserRepo.of({
    getById: (id) =>
      Effect.suspend(() => {
        lookups++
        const user = table.get(id)
        return user === undefined ? Effect.fail(new UserNotFound({ userId: id })) : Effect.succeed(user)
      })
  })
)

// #region invalidate
// After a write that changes what a user is targeted by, drop the user from this instance's cache:
// the next evaluation loads it again. Other instances keep their copy until their TTL runs out
// (or until they are told, see "Live invalidation").
const promoteToAdmin = (user: User) =>
  Effect.gen(function* () {
    yield* save(new User({ ...user, metadata: { ...user.metadata, role: "admin" } }))
    const cache = yield* ContextCache
    yield* cache.invalidate(user.id)
  })
// #endregion

const adminConsole = FlagClient.isEnabled("admin-console", grace.id)

export const program = Effect.gen(function* () {
  yield* TestClock.setTime(Date.now())
  yield* save(grace)
  const flags = yield* TestFlags
  yield* flags.enableForSegments("admin-console", ["admin"])

  assert.equal(yield* adminConsole, false)
  assert.equal(yield* adminConsole, false)
  assert.equal(lookups, 1, "the second evaluation is served from the cache")

  // A write without invalidation: the cache still has the old user, for up to the TTL.
  yield* save(new User({ ...grace, metadata: { role: "moderator" } }))
  assert.equal(yield* adminConsole, false)
  assert.equal(lookups, 1)

  // With invalidation: the next evaluation sees the write.
  yield* promoteToAdmin(grace)
  assert.equal(yield* adminConsole, true)
  assert.equal(lookups, 2)

  // Without invalidation, a write is seen once the TTL has passed.
  yield* save(grace)
  yield* TestClock.adjust("25 hours")
  assert.equal(yield* adminConsole, false)
  assert.equal(lookups, 3)
  return lookups
}).pipe(
  Effect.provide(
    FlagClient.layerTest.pipe(
      Layer.provideMerge(Cache),
      Layer.provideMerge(Layer.mergeAll(TableRepo, ContextBuilder.layer()))
    )
  ),
  Effect.provide(TestClock.layer())
)
