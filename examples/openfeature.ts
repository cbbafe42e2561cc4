/**
 * OpenFeature: the rich, cached user context behind the vendor-neutral API, with
 * `FlagClientProvider` from `effect-flag-context/openfeature`.
 *
 * `program` runs the production layer on the example flags file and an in-memory user
 * repository: no SDK key, no network, no database.
 */
import { fileURLToPath } from "node:url"
import { OpenFeature, ProviderEvents, TypedInMemoryProvider } from "@openfeature/server-sdk"
import { ConfigProvider, DateTime, Effect, Layer, ManagedRuntime } from "effect"
import { FlagClient, User, UserId, UserRepo } from "effect-flag-context"
import { FlagClientProvider, richContextHook } from "effect-flag-context/openfeature"

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

const flagsFile = fileURLToPath(new URL("./flags.json", import.meta.url))
const config = ConfigProvider.layer(ConfigProvider.fromEnv({ env: { LAUNCHDARKLY_FLAGS_FILE: flagsFile } }))
const FlagsLive = FlagClient.layer.pipe(Layer.provide(UserRepo.layerMemory([ada])), Layer.provide(config))

// #region provider
// The provider builds the layer when OpenFeature initializes it, and closes it (the SDK client
// flushed and closed) with `OpenFeature.close()`.
const register = async () => {
  await OpenFeature.setProviderAndWait("checkout", FlagClientProvider.fromLayer(FlagsLive))
  return OpenFeature.getClient("checkout")
}
// #endregion

// #region evaluate
const evaluate = async (client: Awaited<ReturnType<typeof register>>) => {
  // `targetingKey` is the user id: the user's cached rich context is evaluated (segments,
  // account age, plan...). Other fields are attributes for this evaluation only.
  const beta = await client.getBooleanDetails("beta-dashboard", false, { targetingKey: "ada", page: "home" })
  // beta.value === true, beta.reason === "RULE_MATCH", beta.variant === "0",
  // beta.flagMetadata: { context: "full" }

  // An unknown user is evaluated with the id-only context; flagMetadata says why.
  const stranger = await client.getBooleanDetails("beta-dashboard", false, { targetingKey: "nobody" })
  // stranger.flagMetadata: { context: "id-only", fallback: "UserNotFound" }

  // Fallbacks that answer the default are OpenFeature errors.
  const missing = await client.getStringDetails("no-such-flag", "default", { targetingKey: "ada" })
  // missing.errorCode === "FLAG_NOT_FOUND", missing.flagMetadata.fallback === "FlagNotFound"

  // Custom events (experiments, metrics) carry the rich context too; `value` is the metric value.
  client.track("checkout-completed", { targetingKey: "ada" }, { value: 99.5, currency: "EUR" })
  return { beta, stranger, missing }
}
// #endregion

// #region events
const onChanges = (client: Awaited<ReturnType<typeof register>>) =>
  client.addHandler(ProviderEvents.ConfigurationChanged, (details) => {
    console.log("flags changed:", details?.flagsChanged)
  })
// #endregion

// #region hook
// Another provider (the official LaunchDarkly one, another vendor's) with the rich context: the
// hook adds the user's segments and attributes to the evaluation context before it resolves.
const withHook = async () => {
  const runtime = ManagedRuntime.make(FlagsLive)
  await OpenFeature.setProviderAndWait(
    "any-provider",
    new TypedInMemoryProvider({
      "beta-dashboard": {
        variants: { on: true, off: false },
        defaultVariant: "off",
        disabled: false,
        contextEvaluator: (context) =>
          Array.isArray(context.segments) && context.segments.includes("beta") ? "on" : "off"
      }
    })
  )
  const client = OpenFeature.getClient("any-provider")
  client.addHooks(richContextHook(runtime))
  const beta = await client.getBooleanValue("beta-dashboard", false, { targetingKey: "ada" })
  return { beta, dispose: () => runtime.dispose() }
}
// #endregion

export const program = Effect.promise(async () => {
  const client = await register()
  onChanges(client)
  const { beta, stranger, missing } = await evaluate(client)
  const hooked = await withHook()
  await OpenFeature.close()
  await hooked.dispose()
  if (
    beta.value !== true ||
    stranger.flagMetadata.fallback !== "UserNotFound" ||
    missing.errorCode !== "FLAG_NOT_FOUND" ||
    !hooked.beta
  ) {
    throw new Error(`unexpected: ${JSON.stringify({ beta, stranger, missing, hooked: hooked.beta })}`)
  }
  return { beta: beta.value, reason: beta.reason, stranger: stranger.flagMetadata, missing: missing.errorCode }
})
