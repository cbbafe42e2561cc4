/**
 * An OpenFeature server provider backed by {@link FlagClient}: applications that evaluate flags
 * through `@openfeature/server-sdk` get the cached rich context of the user named by
 * `targetingKey`, the typed fallbacks (as OpenFeature reasons and error codes), `track`, and
 * provider events from the LaunchDarkly SDK. Import it from `effect-flag-context/openfeature`;
 * `@openfeature/server-sdk` is an optional peer dependency.
 *
 * @since 0.2.0
 */
import {
  type EvaluationContext,
  type EvaluationContextValue,
  type FlagMetadata,
  type Hook,
  type HookContext,
  type JsonValue,
  OpenFeatureEventEmitter,
  type Provider,
  ProviderEvents,
  ProviderFatalError,
  type ResolutionDetails,
  ErrorCode,
  StandardResolutionReasons,
  type TrackingEventDetails
} from "@openfeature/server-sdk"
import { Context, Effect, type Layer, ManagedRuntime } from "effect"
import {
  type EvaluationOptions,
  type Evaluation,
  type Fallback,
  FlagClient,
  type ResolvedContext
} from "./FlagClient.js"
import type { Json, UserId } from "./User.js"

/**
 * The `name` in the provider's metadata.
 *
 * @since 0.2.0
 * @category constants
 */
export const providerName = "effect-flag-context"

/**
 * The OpenFeature error code of each fallback that answers the caller's default. `UserNotFound`
 * and `UserRepoUnavailable` are not errors: the flag is evaluated with the id-only context, and
 * `flagMetadata.fallback` says so.
 *
 * @since 0.2.0
 * @category models
 */
export const errorCodes: Readonly<Record<Exclude<Fallback, "UserNotFound" | "UserRepoUnavailable">, ErrorCode>> = {
  InvalidUserId: ErrorCode.INVALID_CONTEXT,
  ClientNotReady: ErrorCode.PROVIDER_NOT_READY,
  FlagNotFound: ErrorCode.FLAG_NOT_FOUND,
  WrongType: ErrorCode.TYPE_MISMATCH,
  EvaluationError: ErrorCode.GENERAL
}

const errorCodeOf = (fallback: Fallback | null): ErrorCode | undefined =>
  fallback === null || fallback === "UserNotFound" || fallback === "UserRepoUnavailable"
    ? undefined
    : errorCodes[fallback]

// Fields of the OpenFeature context that are not per-evaluation attributes.
const RESERVED = new Set(["targetingKey", "kind", "key", "_meta", "privateAttributes", "publicAttributes"])

// An OpenFeature context value as JSON: dates as ISO strings, cycles left out.
const toJson = (value: EvaluationContextValue, seen: Set<object>): Json | undefined => {
  if (value === null || typeof value !== "object") return value
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString()
  if (seen.has(value)) return undefined
  seen.add(value)
  let json: Json | undefined
  if (Array.isArray(value)) {
    const array: Array<Json> = []
    for (const item of value) {
      const converted = toJson(item, seen)
      if (converted !== undefined) array.push(converted)
    }
    json = array
  } else {
    const object: Record<string, Json> = {}
    for (const [key, item] of Object.entries(value)) {
      const converted = toJson(item, seen)
      if (converted !== undefined) object[key] = converted
    }
    json = object
  }
  seen.delete(value)
  return json
}

/**
 * The per-evaluation options an OpenFeature context stands for: every field but `targetingKey`
 * (and `kind`, `key`, `privateAttributes`) becomes an attribute on a copy of the user's context; a
 * string `role` also adds the role to the segments, as `EvaluationOptions.role` does. Those
 * attributes are private in events unless named in a `publicAttributes` list of strings.
 */
const optionsOf = (context: EvaluationContext): EvaluationOptions | undefined => {
  let attributes: Record<string, Json> | undefined
  let role: string | undefined
  for (const key in context) {
    if (RESERVED.has(key)) continue
    const value = context[key]
    if (value === undefined) continue
    if (key === "role" && typeof value === "string") {
      role = value
      continue
    }
    const json = toJson(value, new Set())
    if (json === undefined) continue
    attributes ??= {}
    attributes[key] = json
  }
  if (attributes === undefined && role === undefined) return undefined
  const declared = context["publicAttributes"]
  const publicAttributes = Array.isArray(declared)
    ? declared.filter((name): name is string => typeof name === "string")
    : undefined
  return publicAttributes === undefined ? { attributes, role } : { attributes, role, publicAttributes }
}

const metadataOf = (evaluation: Evaluation<unknown>): FlagMetadata =>
  evaluation.fallback === null
    ? { context: evaluation.context }
    : { context: evaluation.context, fallback: evaluation.fallback }

const resolution = <T>(evaluation: Evaluation<T>): ResolutionDetails<T> => {
  const errorCode = errorCodeOf(evaluation.fallback)
  const details: ResolutionDetails<T> = {
    value: evaluation.value,
    reason: evaluation.reason.kind,
    flagMetadata: metadataOf(evaluation)
  }
  if (evaluation.variationIndex !== null) details.variant = String(evaluation.variationIndex)
  if (errorCode !== undefined) {
    details.errorCode = errorCode
    details.reason = StandardResolutionReasons.ERROR
    details.errorMessage = `${evaluation.fallback}: ${
      "errorKind" in evaluation.reason ? String(evaluation.reason.errorKind) : evaluation.reason.kind
    }`
  }
  return details
}

const missingKey = <T>(value: T): ResolutionDetails<T> => ({
  value,
  reason: StandardResolutionReasons.ERROR,
  errorCode: ErrorCode.TARGETING_KEY_MISSING,
  errorMessage: "the evaluation context has no targetingKey (the user id)"
})

// The client checks ids at run time (an invalid one gives the `InvalidUserId` fallback).
const unchecked = (userId: string): UserId => userId as UserId

/**
 * An OpenFeature server provider evaluating through a {@link FlagClient}. Register it with
 * `OpenFeature.setProviderAndWait(provider)`; `OpenFeature.close()` (or `clearProviders`) closes
 * what it opened.
 *
 * - `targetingKey` is the user id: the user's cached rich context is evaluated, with the other
 *   context fields as per-evaluation attributes on a copy.
 * - `reason` is the LaunchDarkly reason kind (`TARGET_MATCH`, `RULE_MATCH`, `FALLTHROUGH`, `OFF`,
 *   ...), as the official LaunchDarkly provider answers; `variant` is the variation index.
 * - `flagMetadata.context` is `"full"` or `"id-only"`, `flagMetadata.fallback` the fallback, if
 *   any. Fallbacks that answer the default are errors: see {@link errorCodes}; a context without
 *   `targetingKey` is `TARGETING_KEY_MISSING`.
 * - Events: `PROVIDER_READY` when the SDK gets its flags after `initialize`, `PROVIDER_ERROR`
 *   when its data source fails before that, `PROVIDER_STALE` when it fails after (the flags
 *   already received keep being served, without updates), `PROVIDER_CONFIGURATION_CHANGED` with
 *   `flagsChanged` for every flag update.
 *
 * @since 0.2.0
 * @category providers
 */
export class FlagClientProvider implements Provider {
  readonly metadata = { name: providerName } as const
  readonly runsOn = "server" as const
  readonly events = new OpenFeatureEventEmitter()
  readonly hooks: Array<Hook> = []

  #acquire: () => Promise<Context.Context<FlagClient>>
  #release: () => Promise<void>
  #client: FlagClient["Service"] | undefined
  #run: (<A>(effect: Effect.Effect<A>) => Promise<A>) | undefined
  #fork: ((effect: Effect.Effect<unknown>) => void) | undefined
  #detach: (() => void) | undefined

  private constructor(acquire: () => Promise<Context.Context<FlagClient>>, release: () => Promise<void>) {
    this.#acquire = acquire
    this.#release = release
  }

  /**
   * A provider that builds `layer` (for example `FlagClient.layer` over a `UserRepo`) in its own
   * `ManagedRuntime` when OpenFeature initializes it, and disposes of it when OpenFeature closes it.
   *
   * @since 0.2.0
   */
  static fromLayer<R, E>(
    layer: Layer.Layer<R | FlagClient, E>,
    options?: { readonly memoMap?: Layer.MemoMap | undefined }
  ): FlagClientProvider {
    const runtime = ManagedRuntime.make(layer, options)
    return new FlagClientProvider(
      () => runtime.context(),
      () => runtime.dispose()
    )
  }

  /**
   * A provider over the `FlagClient` of a runtime the caller owns (a `FlagClientPromise`'s
   * `runtime`, an application's `ManagedRuntime`): closing the provider leaves the runtime open.
   *
   * @since 0.2.0
   */
  static fromRuntime<R, E>(runtime: ManagedRuntime.ManagedRuntime<R | FlagClient, E>): FlagClientProvider {
    return new FlagClientProvider(
      () => runtime.context(),
      () => Promise.resolve()
    )
  }

  /**
   * A provider over the current `FlagClient`, for an Effect application that hands it to
   * OpenFeature: it runs with the services of the calling fiber; closing it closes nothing.
   *
   * @since 0.2.0
   */
  static readonly make: Effect.Effect<FlagClientProvider, never, FlagClient> = Effect.map(
    Effect.context<FlagClient>(),
    (context) =>
      new FlagClientProvider(
        () => Promise.resolve(context),
        () => Promise.resolve()
      )
  )

  /**
   * Builds the client, and listens to the SDK's events. Fails with `ProviderFatalError` when the
   * layer fails, and with an error (status `ERROR`, until the SDK becomes ready) when the SDK has
   * no flags yet.
   */
  async initialize(): Promise<void> {
    let context: Context.Context<FlagClient>
    try {
      context = await this.#acquire()
    } catch (cause) {
      throw new ProviderFatalError(`the FlagClient layer failed: ${String(cause)}`, { cause })
    }
    const client = Context.get(context, FlagClient)
    this.#client = client
    this.#run = Effect.runPromiseWith(context)
    const fork = Effect.runForkWith(context)
    this.#fork = (effect) => {
      fork(effect)
    }
    this.#detach?.()
    const sdk = client.sdk
    const onUpdate = ({ key }: { readonly key: string }) => {
      this.events.emit(ProviderEvents.ConfigurationChanged, { flagsChanged: [key] })
    }
    const onReady = () => {
      this.events.emit(ProviderEvents.Ready)
    }
    // The SDK reports a data source that gave up (an unrecoverable error such as a revoked SDK
    // key) as `failed`: before it had flags the provider is in error; after, it keeps serving the
    // flags it has, which no longer update. (Recoverable stream errors are retried by the SDK and
    // reported by no event.) The SDK's `error` event is not listened to: a listener there would
    // take its errors out of its log.
    const onFailed = (error: unknown) => {
      const message = `LaunchDarkly data source failed: ${String(error)}`
      if (sdk.initialized()) this.events.emit(ProviderEvents.Stale, { message })
      else this.events.emit(ProviderEvents.Error, { message })
    }
    sdk.on("update", onUpdate)
    sdk.on("ready", onReady)
    sdk.on("failed", onFailed)
    this.#detach = () => {
      sdk.off("update", onUpdate)
      sdk.off("ready", onReady)
      sdk.off("failed", onFailed)
    }
    if (!sdk.initialized()) {
      throw new Error("the LaunchDarkly SDK is not initialized; flags answer their default until it is")
    }
  }

  /** Stops listening, and releases what `fromLayer` built. */
  async onClose(): Promise<void> {
    this.#detach?.()
    this.#detach = undefined
    this.#client = undefined
    this.#run = undefined
    this.#fork = undefined
    await this.#release()
  }

  #resolve<T>(flagKey: string, defaultValue: T & Json, context: EvaluationContext): Promise<ResolutionDetails<T>> {
    const client = this.#client
    const run = this.#run
    if (client === undefined || run === undefined) {
      return Promise.resolve({
        value: defaultValue,
        reason: StandardResolutionReasons.ERROR,
        errorCode: ErrorCode.PROVIDER_NOT_READY,
        errorMessage: "the provider is not initialized"
      })
    }
    const userId = context.targetingKey
    if (typeof userId !== "string") return Promise.resolve(missingKey(defaultValue))
    return run(client.evaluate(flagKey, unchecked(userId), defaultValue, optionsOf(context))).then((evaluation) =>
      // `evaluate` answers a value of the default's JSON kind, which is what OpenFeature asked for.
      resolution(evaluation as Evaluation<unknown> as Evaluation<T>)
    )
  }

  /** Resolves a boolean flag for OpenFeature; called by OpenFeature's client, not by applications. */
  resolveBooleanEvaluation(
    flagKey: string,
    defaultValue: boolean,
    context: EvaluationContext
  ): Promise<ResolutionDetails<boolean>> {
    return this.#resolve(flagKey, defaultValue, context)
  }

  /** Resolves a string flag for OpenFeature; called by OpenFeature's client, not by applications. */
  resolveStringEvaluation(
    flagKey: string,
    defaultValue: string,
    context: EvaluationContext
  ): Promise<ResolutionDetails<string>> {
    return this.#resolve(flagKey, defaultValue, context)
  }

  /** Resolves a number flag for OpenFeature; called by OpenFeature's client, not by applications. */
  resolveNumberEvaluation(
    flagKey: string,
    defaultValue: number,
    context: EvaluationContext
  ): Promise<ResolutionDetails<number>> {
    return this.#resolve(flagKey, defaultValue, context)
  }

  /** Resolves a JSON object or array flag for OpenFeature; called by OpenFeature's client, not by applications. */
  resolveObjectEvaluation<T extends JsonValue>(
    flagKey: string,
    defaultValue: T,
    context: EvaluationContext
  ): Promise<ResolutionDetails<T>> {
    return this.#resolve(flagKey, defaultValue as T & Json, context)
  }

  /**
   * Sends a custom event with the user's rich context (`FlagClient.track`): `value` is the metric
   * value, the other details the event's data. Without `targetingKey` nothing is sent.
   */
  track(trackingEventName: string, context: EvaluationContext, details?: TrackingEventDetails): void {
    const client = this.#client
    const fork = this.#fork
    const userId = context.targetingKey
    if (client === undefined || fork === undefined || typeof userId !== "string") return
    let data: Json | undefined
    let metricValue: number | undefined
    if (details !== undefined) {
      const { value, ...rest } = details
      metricValue = value
      if (Object.keys(rest).length > 0) data = toJson(rest, new Set())
    }
    fork(client.track(trackingEventName, unchecked(userId), data, metricValue, optionsOf(context)))
  }
}

/**
 * A `before` hook for any OpenFeature provider (the official LaunchDarkly provider, another
 * vendor's): it adds the attributes of the rich context of the user named by `targetingKey`
 * (`segments`, `account_age_days`, ...) to the evaluation context. Fields the caller set win.
 * Built over a `FlagClient` runtime, like {@link FlagClientProvider.fromRuntime}.
 *
 * @since 0.2.0
 * @category hooks
 */
export const richContextHook = <R, E>(runtime: ManagedRuntime.ManagedRuntime<R | FlagClient, E>): Hook => ({
  before: async (hookContext: HookContext): Promise<EvaluationContext | undefined> => {
    const userId = hookContext.context.targetingKey
    if (typeof userId !== "string") return undefined
    const resolved: ResolvedContext = await runtime.runPromise(
      FlagClient.use((client) => client.contextFor(unchecked(userId)))
    )
    if (resolved.context === undefined) return undefined
    const enriched: Record<string, EvaluationContextValue> = {}
    for (const [key, value] of Object.entries(resolved.context)) {
      if (RESERVED.has(key) || key in hookContext.context) continue
      // The context is JSON built by the segmentation rules.
      enriched[key] = value as EvaluationContextValue
    }
    // Attributes the rules mark private stay private with providers that honour `privateAttributes`
    // (the LaunchDarkly provider turns it into `_meta.privateAttributes`): the provider's own SDK
    // client does not have this client's `privateAttributes` option.
    if (!("privateAttributes" in hookContext.context)) {
      enriched.privateAttributes = [...resolved.privateAttributes, ...(resolved.context._meta?.privateAttributes ?? [])]
    }
    return enriched
  }
})
