/**
 * Keeping cached users fresh: a trigger notifies every instance when a user changes (notify), or
 * the application invalidates on its own write path with a shorter time-to-live (explicit).
 *
 * `program` runs against the real Postgres of `DATABASE_URL` (or the local one) when it answers
 * within a second, in a schema of its own, and checks that a change made by plain SQL reaches the
 * cache. Otherwise it runs on the embedded database, where notifications don't cross connections:
 * it builds the same layers and checks the explicit mode only.
 */
import { randomBytes } from "node:crypto"
import { PgClient } from "@effect/sql-pg"
import { Clock, ConfigProvider, DateTime, Effect, Layer, Redacted } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import {
  ContextBuilder,
  ContextCache,
  FlagClient,
  TestFlags,
  User,
  UserChangeNotifier,
  UserId,
  userChangeNotifierConfig,
  UserRepo,
  UserTable
} from "effect-flag-context"
import { layerPgClient } from "effect-flag-context/embedded"

// #region migrate
// With the application's migrations: the user table, then the opt-in trigger. The trigger has its
// own bookkeeping table, so it can be added to a database that has been migrated for years.
const migrate = Effect.gen(function* () {
  yield* UserTable.migrate()
  yield* UserChangeNotifier.migrate() // channel: "effect_flag_context_user_changed"
})
// #endregion

// #region notify
// Every instance: the usual cache, told to listen. The listener holds one connection of the pool
// (so the layer needs a PgClient), reconnects with backoff, and drops every user once back.
const CacheNotify = ContextCache.layer({ timeToLive: "24 hours", invalidateOn: "notify" }).pipe(
  Layer.provideMerge(Layer.mergeAll(UserRepo.layerPg(), ContextBuilder.layer()))
)
// Or as a layer of its own, with a handle (`awaitListening`, `isListening`):
// UserChangeNotifier.layerListen().pipe(Layer.provideMerge(ContextCache.layer()), …)
// In production: FlagClient.layerConfig.pipe(Layer.provideMerge(CacheNotify), Layer.provideMerge(PgClient.layerConfig(…)))
// #endregion

// #region listen-url
// Behind PgBouncer in transaction mode the pool can't LISTEN: give the listener a direct connection
// string of its own, here from DATABASE_LISTEN_URL. It then holds no connection of the pool.
const CacheNotifyDirect = Layer.unwrap(
  Effect.map(userChangeNotifierConfig, (notify) => ContextCache.layer({ invalidateOn: "notify", notify }))
).pipe(Layer.provideMerge(Layer.mergeAll(UserRepo.layerPg(), ContextBuilder.layer())))
// #endregion

// #region explicit
// Where no trigger is allowed: invalidate on your own write path (this instance's cache), and let
// a shorter time-to-live bound how long other instances serve the old user.
const CacheExplicit = ContextCache.layer({ timeToLive: "5 minutes" }).pipe(
  Layer.provide(Layer.mergeAll(UserRepo.layerPg(), ContextBuilder.layer()))
)

const setSegments = Effect.fn("setSegments")(function* (userId: UserId, segments: ReadonlyArray<string>) {
  const sql = yield* SqlClient
  yield* sql`UPDATE "User" SET "metadata" = jsonb_set("metadata", '{segments}', ${JSON.stringify(segments)}::jsonb),
    "updatedAt" = now() WHERE "id" = ${userId}`
  yield* ContextCache.use((cache) => cache.invalidate(userId))
})
// #endregion

const ada = new User({
  id: UserId.make("user-ada"),
  email: "ada@example.com",
  email_verified: true,
  name: "Ada",
  created_at: DateTime.makeUnsafe(Date.UTC(2024, 0, 1)),
  updated_at: DateTime.makeUnsafe(Date.UTC(2024, 0, 1)),
  metadata: { segments: [] }
})

const betaOn = Effect.gen(function* () {
  yield* (yield* TestFlags).enableForSegments("beta-feature", ["beta"])
  return FlagClient.isEnabled("beta-feature", ada.id)
})

/** At most 2 seconds of polling, every 10 ms. */
const within2s = <E, R>(check: Effect.Effect<boolean, E, R>) =>
  Effect.gen(function* () {
    const start = yield* Clock.currentTimeMillis
    for (let attempt = 0; attempt < 200; attempt++) {
      if (yield* check) return (yield* Clock.currentTimeMillis) - start
      yield* Effect.sleep("10 millis")
    }
    return yield* Effect.die(new Error("the change did not reach the cache within 2 seconds"))
  })

/** The explicit mode: the write path invalidates, so the next evaluation sees the change. */
const explicitDemo = Effect.gen(function* () {
  const isOn = yield* betaOn
  if (yield* isOn) return yield* Effect.die(new Error("ada starts outside the beta"))
  yield* setSegments(ada.id, ["beta"])
  if (!(yield* isOn)) return yield* Effect.die(new Error("the explicit invalidation was not applied"))
  yield* setSegments(ada.id, [])
}).pipe(Effect.provide(FlagClient.layerTest.pipe(Layer.provideMerge(CacheExplicit))))

/** The notify mode: a plain UPDATE, no invalidate call, and the cache follows. */
const notifyDemo = Effect.gen(function* () {
  const isOn = yield* betaOn
  // No need to wait for LISTEN: once it listens, the cache drops every user, so a change made
  // before that is seen too.
  if (yield* isOn) return yield* Effect.die(new Error("ada starts outside the beta"))
  const sql = yield* SqlClient
  yield* sql`UPDATE "User" SET "metadata" = '{"segments":["beta"]}' WHERE "id" = ${ada.id}`
  return yield* within2s(isOn)
}).pipe(Effect.provide(FlagClient.layerTest.pipe(Layer.provideMerge(CacheNotify))))

const url = process.env["DATABASE_URL"] || "postgres://postgres@127.0.0.1:5432/test"

/** The notify mode on a direct listen connection: Ada, in the beta after `notifyDemo`, leaves it. */
const notifyDirectDemo = Effect.gen(function* () {
  const isOn = yield* betaOn
  if (!(yield* isOn)) return yield* Effect.die(new Error("ada starts inside the beta"))
  const sql = yield* SqlClient
  yield* sql`UPDATE "User" SET "metadata" = '{"segments":[]}' WHERE "id" = ${ada.id}`
  return yield* within2s(Effect.map(isOn, (on) => !on))
}).pipe(
  Effect.provide(
    FlagClient.layerTest.pipe(
      Layer.provideMerge(CacheNotifyDirect),
      Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env: { DATABASE_LISTEN_URL: url } })))
    )
  )
)
const realPg = (applicationName: string, options?: { readonly schema?: string }) =>
  PgClient.layer({
    url: Redacted.make(url),
    applicationName,
    connectTimeout: "1 second",
    ...(options?.schema === undefined ? {} : { startupParameters: { search_path: `"${options.schema}"` } })
  })

const onRealPostgres = Effect.gen(function* () {
  const admin = yield* SqlClient
  const schema = `efc_example_${randomBytes(6).toString("hex")}`
  yield* Effect.acquireRelease(admin.unsafe(`CREATE SCHEMA "${schema}"`), () =>
    Effect.ignore(admin.unsafe(`DROP SCHEMA "${schema}" CASCADE`).pipe(Effect.tapCause(Effect.logError)))
  )
  return yield* Effect.gen(function* () {
    yield* migrate
    yield* UserTable.insertUsers([ada])
    yield* explicitDemo
    const tookMs = yield* notifyDemo
    yield* notifyDirectDemo
    return { database: "real", notifiedInMs: tookMs } as const
  }).pipe(Effect.provide(realPg(`${schema}_app`, { schema })))
}).pipe(Effect.scoped, Effect.provide(realPg("efc_example_admin")))

const onEmbedded = Effect.gen(function* () {
  yield* migrate
  yield* UserTable.insertUsers([ada])
  yield* explicitDemo
  // The wiring builds and listens, but notifications don't cross pglite-socket connections.
  yield* Effect.provide(Effect.void, CacheNotify)
  return { database: "embedded", notifiedInMs: undefined } as const
}).pipe(Effect.provide(layerPgClient()))

const reachable = Effect.gen(function* () {
  const sql = yield* SqlClient
  yield* sql`SELECT 1`
  return true
}).pipe(
  Effect.provide(realPg("efc_example_probe")),
  Effect.timeout("1 second"),
  Effect.catchCause(() => Effect.succeed(false))
)

export const program = Effect.flatMap(
  reachable,
  (real): Effect.Effect<{ readonly database: string; readonly notifiedInMs: number | undefined }, unknown> =>
    real ? onRealPostgres : onEmbedded
)
