/**
 * Reacting to flag changes, and talking to LaunchDarkly about a user: `FlagClient.changes`,
 * `FlagClient.watch`, `FlagClient.track` and `FlagClient.contextFor`.
 *
 * `program` runs on the test layer (the real SDK on `TestData`): no SDK key, no network.
 */
import { DateTime, Deferred, Effect, Fiber, Stream } from "effect"
import { FlagClient, TestFlags, User, UserId } from "effect-flag-context"

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

// #region changes
// Every flag the SDK reports updated (the flag, or a flag or segment it depends on), for as long
// as the stream runs: the SDK listener is removed when it ends.
const logChanges = FlagClient.changes.pipe(
  Stream.runForEach(({ flagKey }) => Effect.logInfo(`flag ${flagKey} changed`))
)
// #endregion

// #region watch
// The flag's evaluation for one user now, then each time its value for that user changes. An
// update that leaves the value equal (another user's rule, a re-ordered JSON object) emits nothing.
const maintenanceMode = (userId: UserId) =>
  FlagClient.watch("maintenance-mode", userId, false).pipe(
    Stream.tap((evaluation) => Effect.logInfo(`maintenance mode: ${evaluation.value} (${evaluation.reason.kind})`))
  )
// #endregion

// #region track
// A custom event (experiments, metrics) with the same context an evaluation uses, fallbacks
// included. The result says which context was sent; an invalid id sends nothing ("InvalidUserId").
const checkoutCompleted = (userId: UserId, total: number) =>
  FlagClient.track("checkout-completed", userId, { currency: "EUR" }, total)
// #endregion

// #region context-for
// The context itself, for what the service does not cover (the SDK's `identify`, migrations).
const identify = (userId: UserId) =>
  Effect.gen(function* () {
    const client = yield* FlagClient
    const { context, kind, fallback } = yield* client.contextFor(userId)
    if (context !== undefined) client.sdk.identify(context)
    return { kind, fallback }
  })
// #endregion

export const program = Effect.gen(function* () {
  const flags = yield* TestFlags
  yield* flags.disable("maintenance-mode")
  const changes = yield* Effect.forkChild(logChanges)
  // The first value now, the second after the flip: take(2) ends the stream (and its listener).
  const first = yield* Deferred.make<void>()
  const watched = yield* Effect.forkChild(
    maintenanceMode(ada.id).pipe(
      Stream.tap(() => Deferred.succeed(first, undefined)),
      Stream.take(2),
      Stream.runCollect
    )
  )
  yield* Deferred.await(first)
  yield* flags.enable("maintenance-mode")
  const values = (yield* Fiber.join(watched)).map((evaluation) => evaluation.value)
  yield* Fiber.interrupt(changes)
  const tracked = yield* checkoutCompleted(ada.id, 99.5)
  const identified = yield* identify(ada.id)
  if (values.join() !== "false,true" || tracked.kind !== "full" || identified.kind !== "full") {
    return yield* Effect.die(new Error(`unexpected: ${JSON.stringify({ values, tracked, identified })}`))
  }
  return { values, tracked, identified }
}).pipe(Effect.provide(FlagClient.layerTestWith({ users: [ada] })))
