/**
 * Fallbacks: what an evaluation answers when the user, the repository, the flag or the SDK is
 * missing, which typed errors remain, and what is logged.
 *
 * `program` provokes each case with the real SDK (its `TestData`, or offline) and in-memory users,
 * and captures the log lines: no network.
 */
import { strict as assert } from "node:assert"
import { DateTime, Effect, Exit, Layer, Logger, References, Tracer } from "effect"
import { ContextBuilder, ContextCache, FlagClient, TestFlags, User, UserId, UserRepo } from "effect-flag-context"

const ada = new User({
  id: UserId.make("ada"),
  email: "ada@example.com",
  email_verified: true,
  name: "Ada",
  created_at: DateTime.makeUnsafe(Date.now() - 400 * 86_400_000),
  updated_at: DateTime.makeUnsafe(Date.now()),
  metadata: { segments: ["beta"] }
})

// #region evaluate
// `evaluate` always answers; `fallback` says when the answer is not a full evaluation.
const cases = Effect.gen(function* () {
  const flags = yield* TestFlags
  yield* flags.enableForSegments("beta-dashboard", ["beta"])
  yield* flags.set("welcome-banner", "Welcome aboard!")

  const full = yield* FlagClient.evaluate("beta-dashboard", ada.id, false)
  // { value: true, fallback: null, context: "full", reason: { kind: "RULE_MATCH", … } }
  const unknownUser = yield* FlagClient.evaluate("beta-dashboard", UserId.make("nobody"), false)
  // { value: false, fallback: "UserNotFound", context: "id-only" }: the SDK evaluated { kind, key }
  const unknownFlag = yield* FlagClient.evaluate("no-such-flag", ada.id, false)
  // { value: false, fallback: "FlagNotFound" }: the default
  const wrongType = yield* FlagClient.evaluate("welcome-banner", ada.id, false)
  // { value: false, fallback: "WrongType" }: a string flag asked for a boolean
  const invalidId = yield* FlagClient.evaluate("beta-dashboard", " " as UserId, false)
  // { value: false, fallback: "InvalidUserId" }: no context can be built, the SDK is not asked
  return { full, unknownUser, unknownFlag, wrongType, invalidId }
})
// #endregion

// #region unavailable
// A repository that answers too slowly: the lookup times out, the flag is evaluated with the id
// alone, and the next evaluation tries the repository again (errors are never cached).
const SlowRepo = UserRepo.layerMemoryRows(
  [{ id: "ada", email: "ada@example.com", emailVerified: true, createdAt: new Date(0) }],
  { latency: "200 millis" }
)
const SlowStack = FlagClient.layerTest.pipe(
  Layer.provideMerge(ContextCache.layer({ lookupTimeout: "20 millis" })),
  Layer.provideMerge(Layer.mergeAll(SlowRepo, ContextBuilder.layer()))
)
// #endregion

// #region offline
// No SDK key and no flags file: the client is offline and every flag answers the caller's default.
const Offline = FlagClient.layerWith({}).pipe(
  Layer.provideMerge(ContextCache.layer()),
  Layer.provideMerge(Layer.mergeAll(UserRepo.layerMemory([ada]), ContextBuilder.layer()))
)
// #endregion

// #region errors
// Only two typed errors remain. `require` fails with FeatureDisabled when the flag is off…
const guarded = FlagClient.require("beta-dashboard", UserId.make("nobody")).pipe(
  Effect.catchTag("FeatureDisabled", (error) => Effect.succeed(`404: ${error.message}`))
)
// …and, with `requireInitialized`, building the client fails with FlagClientInitError when the SDK
// can't start (here: a flags file that does not exist).
const Strict = FlagClient.layerWith({
  flagsFile: "no-such-flags.json",
  requireInitialized: true,
  initTimeout: "2 seconds"
})
// #endregion

// #region tracing
// Each evaluation is an OpenTelemetry `feature_flag.evaluation` event on the caller's span, with
// Effect's own tracer too; with a tracing backend installed it also gets a span of its own.
const traced = Effect.gen(function* () {
  yield* (yield* TestFlags).enableForSegments("beta-dashboard", ["beta"])
  yield* FlagClient.isEnabled("beta-dashboard", ada.id)
  const span = yield* Effect.currentSpan
  return span instanceof Tracer.NativeSpan ? span.events.filter(([name]) => name === "feature_flag.evaluation") : []
}).pipe(Effect.withSpan("GET /dashboard"))
// [["feature_flag.evaluation", <time>, { "feature_flag.key": "beta-dashboard",
//   "feature_flag.provider.name": "LaunchDarkly", "feature_flag.context.id": "ada",
//   "feature_flag.result.reason": "targeting_match", "feature_flag.result.variant": "0", … }]]
// #endregion

// Everything logged, as `level message {annotations}`.
const logged: Array<string> = []
const Capture = Logger.layer([
  Logger.make(({ logLevel, message, fiber }) => {
    logged.push(`${logLevel} ${String(message)} ${JSON.stringify(fiber.getRef(References.CurrentLogAnnotations))}`)
  })
])

export const program = Effect.gen(function* () {
  const { full, unknownUser, unknownFlag, wrongType, invalidId } = yield* cases.pipe(
    Effect.provide(FlagClient.layerTestWith({ users: [ada] }))
  )
  assert.deepEqual([full.value, full.fallback, full.context], [true, null, "full"])
  assert.deepEqual([unknownUser.value, unknownUser.fallback, unknownUser.context], [false, "UserNotFound", "id-only"])
  assert.deepEqual([unknownFlag.value, unknownFlag.fallback], [false, "FlagNotFound"])
  assert.deepEqual([wrongType.value, wrongType.fallback], [false, "WrongType"])
  assert.deepEqual([invalidId.value, invalidId.fallback], [false, "InvalidUserId"])

  const slow = yield* Effect.gen(function* () {
    yield* (yield* TestFlags).enable("beta-dashboard")
    return yield* FlagClient.evaluate("beta-dashboard", ada.id, false)
  }).pipe(Effect.provide(SlowStack))
  assert.deepEqual([slow.value, slow.fallback, slow.context], [true, "UserRepoUnavailable", "id-only"])

  const offline = yield* FlagClient.evaluate("beta-dashboard", ada.id, false).pipe(Effect.provide(Offline))
  assert.deepEqual([offline.value, offline.fallback], [false, "ClientNotReady"])

  assert.equal(
    yield* guarded.pipe(Effect.provide(FlagClient.layerTestWith({ users: [ada] }))),
    '404: feature "beta-dashboard" is disabled'
  )
  const strict = yield* Effect.exit(Layer.build(Strict.pipe(Layer.provide(Offline))).pipe(Effect.scoped))
  assert.ok(Exit.isFailure(strict))

  assert.ok(logged.some((line) => line.startsWith("Warn Flags evaluated with an id-only context (UserNotFound)")))
  assert.ok(logged.some((line) => line.includes('"fallback":"UserRepoUnavailable","reason":"Timeout"')))

  const events = yield* traced.pipe(Effect.provide(FlagClient.layerTestWith({ users: [ada] })))
  assert.equal(events.length, 1)
  assert.equal(events[0]?.[2]["feature_flag.key"], "beta-dashboard")
  assert.equal(events[0]?.[2]["feature_flag.result.reason"], "targeting_match")
  return logged
}).pipe(Effect.provide(Capture))
