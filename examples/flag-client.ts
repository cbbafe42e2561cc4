/**
 * `FlagClient` in an application: flags evaluated by the LaunchDarkly SDK against the cached
 * context of a user, with a typed fallback whenever something is missing.
 *
 * `program` runs the production layer on the example flags file (the SDK's own file data source)
 * and an in-memory user repository: no SDK key, no network, no database.
 */
import { fileURLToPath } from "node:url"
import { ConfigProvider, DateTime, Effect, Layer, Schema } from "effect"
import { FlagClient, idOnlyContext, makeFlagClientPromise, User, UserId, UserRepo } from "effect-flag-context"

const DAY = 86_400_000
const ada = new User({
  id: UserId.make("ada"),
  email: "ada@agpt.co",
  email_verified: true,
  name: "Ada",
  created_at: DateTime.makeUnsafe(Date.now() - 400 * DAY),
  updated_at: DateTime.makeUnsafe(Date.now()),
  metadata: { segments: ["beta"], plan: "enterprise", region: "eu" }
})

// #region evaluate
const CheckoutConfig = Schema.Struct({
  provider: Schema.String,
  retries: Schema.Number,
  region: Schema.optional(Schema.String)
})

const checkoutPage = (userId: UserId) =>
  Effect.gen(function* () {
    // A boolean flag: `false` (or `default`) whenever it can't be told.
    const beta = yield* FlagClient.isEnabled("beta-dashboard", userId)
    // A JSON flag decoded with a schema: the default when it can't be evaluated or does not decode.
    const checkout = yield* FlagClient.variation("checkout-config", userId, CheckoutConfig, {
      provider: "stripe",
      retries: 3
    })
    // The whole answer: value, reason, variationIndex, fallback ("UserNotFound", "ClientNotReady", …)
    // and the context it was evaluated against ("full" or "id-only").
    const banner = yield* FlagClient.evaluate("welcome-banner", userId, "Hello!")
    // Attributes for this evaluation only, merged onto a copy of the cached context.
    const adminConsole = yield* FlagClient.isEnabled("admin-console", userId, { role: "admin" })
    return { beta, checkout, banner: banner.value, fallback: banner.fallback, adminConsole }
  })
// #endregion

// #region require
// Fails with FeatureDisabled (HTTP 404 in an effect/http-api endpoint that declares it) when the
// flag is off for this user.
const newDashboard = (userId: UserId) =>
  FlagClient.require("beta-dashboard", userId).pipe(Effect.as("the new dashboard"))
// #endregion

// #region bootstrap
// What a page hands the browser SDK: the client-side flags only (`clientSideOnly: true`: a flag not
// marked "available to client-side SDKs" never leaves the server), evaluated against the user's
// context; that context, for the browser to identify with; and its secure-mode hash, which the SDK
// computes from the context's kind and key. The browser SDK does not have this server's
// `privateAttributes` option: the context handed to it names them in its own `_meta`, so the
// browser's events redact the email, name and metadata too.
const bootstrap = (userId: UserId) =>
  Effect.gen(function* () {
    const flags = yield* FlagClient
    const state = yield* flags.allFlags(userId, { clientSideOnly: true })
    const resolved = yield* flags.contextFor(userId)
    const context = {
      ...(resolved.context ?? idOnlyContext(userId)),
      _meta: { privateAttributes: [...resolved.privateAttributes] }
    }
    return { bootstrap: state, context, hash: flags.sdk.secureModeHash(context) }
  })
// #endregion

// #region layer
// Production: LAUNCHDARKLY_*, CONTEXT_CACHE_* and SEGMENT_* from configuration, over your
// repository, e.g. `UserRepo.layerPgConfig()`. Provides FlagClient, ContextCache, ContextBuilder.
const FlagsLive = (users: Layer.Layer<UserRepo>) => FlagClient.layer.pipe(Layer.provide(users))
// #endregion

const flagsFile = fileURLToPath(new URL("./flags.json", import.meta.url))
const config = ConfigProvider.layer(ConfigProvider.fromEnv({ env: { LAUNCHDARKLY_FLAGS_FILE: flagsFile } }))

// #region promise
// Without Effect (an Express handler, a script): the same client behind promises.
const promiseApi = async <E>(layer: Layer.Layer<FlagClient, E>) => {
  const flags = makeFlagClientPromise(layer)
  try {
    return await flags.isEnabled("beta-dashboard", "ada")
  } finally {
    await flags.dispose()
  }
}
// #endregion

export const program = Effect.gen(function* () {
  const layer = FlagsLive(UserRepo.layerMemory([ada])).pipe(Layer.provide(config))
  const { page, stranger, dashboard, state } = yield* Effect.provide(
    Effect.all({
      page: checkoutPage(ada.id),
      stranger: checkoutPage(UserId.make("nobody")),
      dashboard: newDashboard(ada.id),
      state: bootstrap(ada.id)
    }),
    layer
  )
  const fromPromise = yield* Effect.promise(() => promiseApi(layer))
  if (!page.beta || page.checkout.provider !== "adyen" || stranger.fallback !== "UserNotFound" || !fromPromise) {
    return yield* Effect.die(new Error(`unexpected evaluation: ${JSON.stringify({ page, stranger })}`))
  }
  if (state.context._meta.privateAttributes.join() !== "email,name,/custom") {
    return yield* Effect.die(new Error("the browser's context does not name its private attributes"))
  }
  return { page, stranger, dashboard, valid: state.bootstrap.$valid, hashed: state.hash.length > 0 }
})
