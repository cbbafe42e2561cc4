/**
 * The service applications call: LaunchDarkly flags evaluated by the real SDK against the cached
 * context of a user, with a typed fallback whenever something is missing, so that an evaluation
 * always answers.
 *
 * @since 0.1.0
 */
import {
  init as initLaunchDarkly,
  integrations,
  type LDClient,
  type LDEvaluationDetail,
  type LDEvaluationReason,
  type LDOptions,
  LDTimeoutError
} from "@launchdarkly/node-server-sdk"
import {
  Clock,
  Config,
  Context,
  Duration,
  Effect,
  type Fiber,
  Layer,
  Metric,
  Option,
  Redacted,
  Schema,
  Stream,
  Tracer
} from "effect"
import { parse as parseYaml } from "yaml"
import { ContextBuilder } from "./ContextBuilder.js"
import { flagUpdates, jsonEquals, watchFlag } from "./internal/flagChanges.js"
import { flagsFileDataSource } from "./internal/flagsFile.js"
import { mergeSdkOptions, serviceUris } from "./internal/sdkOptions.js"
import { ContextCache, type ContextCacheError, type ContextCacheOptions } from "./ContextCache.js"
import {
  effectLogger,
  exceptionReason,
  invalidContextReason,
  afterSettling,
  SdkThrew,
  sdkFallback,
  settleDue,
  variationDetailNow,
  wrongTypeReason
} from "./internal/flagSdk.js"
import {
  idOnlyContext,
  privateAttributeReferences,
  type SegmentationRules,
  type UserContext,
  withRequestAttributes
} from "./Segmentation.js"
import { type Json, type User, UserId } from "./User.js"
import { describeCause, UserRepo, type UserRepoError } from "./UserRepo.js"

// ---------------------------------------------------------------------------------------------
// Models
// ---------------------------------------------------------------------------------------------

/**
 * Which fallback an evaluation took, if any:
 * - `UserNotFound`: no such user; evaluated with an id-only context.
 * - `UserRepoUnavailable`: the repository failed or timed out; evaluated with an id-only context.
 * - `InvalidUserId`: the id is not a valid `UserId`; nothing evaluated, the caller's default.
 * - `ClientNotReady`: the SDK is not initialized (or offline); the caller's default.
 * - `FlagNotFound`: the SDK has no such flag; the caller's default.
 * - `WrongType`: the flag's value has another type than the default, or does not decode with the
 *   caller's schema; the caller's default.
 * - `EvaluationError`: the SDK threw or reported another error (a malformed flag); the caller's
 *   default.
 *
 * When the SDK's answer falls back, that fallback is reported; otherwise the context's.
 *
 * @since 0.1.0
 * @category models
 */
export const Fallback = Schema.Literals([
  "UserNotFound",
  "UserRepoUnavailable",
  "InvalidUserId",
  "ClientNotReady",
  "FlagNotFound",
  "WrongType",
  "EvaluationError"
])

/**
 * @since 0.1.0
 * @category models
 */
export type Fallback = typeof Fallback.Type

/**
 * The context a flag was evaluated against: the user's `"full"` context, or `"id-only"`.
 *
 * @since 0.1.0
 * @category models
 */
export type ContextKind = "full" | "id-only"

/**
 * Per-evaluation options. Attributes and role are merged onto a copy of the context.
 *
 * @since 0.1.0
 * @category models
 */
export interface EvaluationOptions {
  /** Skip the user lookup and evaluate with the id alone. */
  readonly useUserIdOnly?: boolean | undefined
  /**
   * Attributes added to the context for this evaluation (`kind`, `key`, `_meta` are ignored; a
   * `custom` object is merged over the user's metadata). They are private (redacted from the
   * events sent to LaunchDarkly) unless named in `publicAttributes`.
   */
  readonly attributes?: Readonly<Record<string, Json>> | undefined
  /** Names of `attributes` sent to LaunchDarkly in clear, for example to see them in its UI. */
  readonly publicAttributes?: ReadonlyArray<string> | undefined
  /** Sets the `role` attribute and adds the role to the segments, for this evaluation. */
  readonly role?: string | undefined
}

/**
 * Options of `isEnabled` and `require`: {@link EvaluationOptions} and the default.
 *
 * @since 0.1.0
 * @category models
 */
export interface FlagOptions extends EvaluationOptions {
  /** The answer when the flag can't be evaluated (default `false`). */
  readonly default?: boolean | undefined
}

/**
 * Options of `allFlags`: {@link EvaluationOptions} and the SDK's `allFlagsState` options.
 *
 * @since 0.1.0
 * @category models
 */
export interface AllFlagsOptions extends EvaluationOptions {
  /** Only flags marked available to client-side SDKs; recommended when bootstrapping a browser. */
  readonly clientSideOnly?: boolean | undefined
  /** Include each flag's evaluation reason. */
  readonly withReasons?: boolean | undefined
  /** Omit metadata of flags that are not tracked, to shrink the payload. */
  readonly detailsOnlyForTrackedFlags?: boolean | undefined
}

/**
 * The result of {@link FlagClient} `evaluate`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Evaluation<A> {
  /** The flag's value, or the caller's default when a fallback says so. */
  readonly value: A
  /** The SDK's reason (`WRONG_TYPE`, `EXCEPTION` or `USER_NOT_SPECIFIED` for our own fallbacks). */
  readonly reason: LDEvaluationReason
  /** The index of the variation served; `null` for the default. */
  readonly variationIndex: number | null
  /** Which fallback applied; `null` when none. */
  readonly fallback: Fallback | null
  /** The context evaluated against. */
  readonly context: ContextKind
}

/**
 * The type `evaluate` answers for a default: the default's JSON kind.
 *
 * @since 0.1.0
 * @category models
 */
export type JsonOfKind<A extends Json> = A extends boolean
  ? boolean
  : A extends number
    ? number
    : A extends string
      ? string
      : A extends null
        ? Json
        : A extends ReadonlyArray<Json>
          ? Schema.JsonArray
          : Schema.JsonObject

/**
 * The SDK's `allFlagsState(...).toJSON()`: the format LaunchDarkly's browser SDK accepts as
 * `bootstrap`. `$valid` is `false` when the state could not be computed.
 *
 * @since 0.1.0
 * @category models
 */
export interface FlagsStateJson {
  readonly $valid?: boolean
  readonly $flagsState?: Readonly<Record<string, unknown>>
  readonly [flagKey: string]: unknown
}

/**
 * The context an evaluation for a user would use, from `contextFor`: for callers that talk to
 * the SDK directly (`identify`, `migrationVariation`, a custom hook).
 *
 * @since 0.2.0
 * @category models
 */
export interface ResolvedContext {
  /** The LaunchDarkly context; `undefined` when the id is not valid (fallback `"InvalidUserId"`). */
  readonly context: UserContext | undefined
  /** `"full"`, or `"id-only"` when a fallback (or `useUserIdOnly`) applied. */
  readonly kind: ContextKind
  /** Which fallback applied (`"UserNotFound"`, `"UserRepoUnavailable"`, `"InvalidUserId"`); `null` when none. */
  readonly fallback: Fallback | null
  /**
   * The attribute references this client's SDK keeps private (its `privateAttributes` option), for
   * a context handed to another SDK client: give them as its `_meta.privateAttributes` (with the
   * context's own, if any) so its events redact the same attributes.
   *
   * @since 0.2.0
   */
  readonly privateAttributes: ReadonlyArray<string>
}

/**
 * What `track` sent the event with. With fallback `"InvalidUserId"` no event was sent.
 *
 * @since 0.2.0
 * @category models
 */
export interface TrackResult {
  /** The context the event carries. */
  readonly kind: ContextKind
  /** Which fallback applied; `null` when none. */
  readonly fallback: Fallback | null
}

/**
 * A flag the SDK reports updated: the flag itself changed, or a flag or segment it depends on.
 *
 * @since 0.2.0
 * @category models
 */
export interface FlagChange {
  readonly flagKey: string
}

/**
 * `require` found the flag off for this user. Annotated as HTTP 404, so an `effect/http-api`
 * endpoint that declares it answers 404 (not 500) for a disabled feature.
 *
 * @since 0.1.0
 * @category errors
 */
export class FeatureDisabled extends Schema.TaggedError<FeatureDisabled>()(
  "FeatureDisabled",
  { flagKey: Schema.String },
  { httpApiStatus: 404 }
) {
  override get message(): string {
    return `feature ${JSON.stringify(this.flagKey)} is disabled`
  }
}

/**
 * The SDK did not initialize in time (`"Timeout"`) or reported a failure (`"Failed"`), and
 * `requireInitialized` is set.
 *
 * @since 0.1.0
 * @category errors
 */
export class FlagClientInitError extends Schema.TaggedError<FlagClientInitError>()("FlagClientInitError", {
  reason: Schema.Literals(["Timeout", "Failed"]),
  cause: Schema.Defect()
}) {
  override get message(): string {
    return `LaunchDarkly client did not initialize: ${this.reason}`
  }
}

/**
 * Settings of the production client. With neither `sdkKey` nor `flagsFile` the client is offline:
 * every flag answers the caller's default.
 *
 * @since 0.1.0
 * @category models
 */
export interface FlagClientOptions {
  /** The server-side SDK key. */
  readonly sdkKey?: Redacted.Redacted<string> | undefined
  /** A JSON or YAML flags file served by the SDK's file data source, reloaded on change. Wins over `sdkKey`. */
  readonly flagsFile?: string | undefined
  /** How long to wait for the SDK to initialize (default 5 seconds). */
  readonly initTimeout?: Duration.Input | undefined
  /** Polling base URI, for a relay proxy. */
  readonly baseUri?: string | undefined
  /** Streaming URI, for a relay proxy. */
  readonly streamUri?: string | undefined
  /** Events URI, for a relay proxy. */
  readonly eventsUri?: string | undefined
  /**
   * The Relay Proxy's URI: the default of `baseUri`, `streamUri` and `eventsUri` (each one given
   * wins).
   */
  readonly relayUri?: string | undefined
  /**
   * Daemon mode (the SDK's `useLdd`): flags are read from the persistent feature store given
   * through {@link FlagClientSdkOptions} or `sdkOptions` (Redis, DynamoDB...), written there by
   * another process (a Relay Proxy, or an instance with a data source); LaunchDarkly is never
   * contacted for flags. A flags file wins over it. Default `false`.
   */
  readonly daemonMode?: boolean | undefined
  /** Fail the layer with {@link FlagClientInitError} when the SDK does not initialize (default `false`). */
  readonly requireInitialized?: boolean | undefined
  /** Further SDK options, applied last. */
  readonly sdkOptions?: LDOptions | undefined
}

const nonEmpty = (name: string) =>
  Config.option(Config.String(name)).pipe(
    Config.map(Option.flatMap((value) => (value.trim().length > 0 ? Option.some(value.trim()) : Option.none())))
  )

/**
 * The configuration of the client: `LAUNCHDARKLY_SDK_KEY` (secret), `LAUNCHDARKLY_FLAGS_FILE`,
 * `LAUNCHDARKLY_INIT_TIMEOUT` (a duration, default `"5 seconds"`), `LAUNCHDARKLY_BASE_URI`,
 * `LAUNCHDARKLY_STREAM_URI`, `LAUNCHDARKLY_EVENTS_URI`, `LAUNCHDARKLY_RELAY_URI` (the default of
 * the three), `LAUNCHDARKLY_DAEMON_MODE` (default `false`), `LAUNCHDARKLY_REQUIRE_INITIALIZED`
 * (default `false`). Empty values count as unset.
 *
 * @since 0.1.0
 * @category config
 */
export const flagClientConfig: Config.Config<FlagClientOptions> = Config.all({
  sdkKey: Config.option(Config.Redacted("LAUNCHDARKLY_SDK_KEY")),
  flagsFile: nonEmpty("LAUNCHDARKLY_FLAGS_FILE"),
  initTimeout: Config.Duration("LAUNCHDARKLY_INIT_TIMEOUT").pipe(Config.withDefault(Duration.seconds(5))),
  baseUri: nonEmpty("LAUNCHDARKLY_BASE_URI"),
  streamUri: nonEmpty("LAUNCHDARKLY_STREAM_URI"),
  eventsUri: nonEmpty("LAUNCHDARKLY_EVENTS_URI"),
  relayUri: nonEmpty("LAUNCHDARKLY_RELAY_URI"),
  daemonMode: Config.Boolean("LAUNCHDARKLY_DAEMON_MODE").pipe(Config.withDefault(false)),
  requireInitialized: Config.Boolean("LAUNCHDARKLY_REQUIRE_INITIALIZED").pipe(Config.withDefault(false))
}).pipe(
  Config.map(
    (c): FlagClientOptions => ({
      sdkKey: Option.getOrUndefined(Option.filter(c.sdkKey, (key) => Redacted.value(key).trim().length > 0)),
      flagsFile: Option.getOrUndefined(c.flagsFile),
      initTimeout: c.initTimeout,
      baseUri: Option.getOrUndefined(c.baseUri),
      streamUri: Option.getOrUndefined(c.streamUri),
      eventsUri: Option.getOrUndefined(c.eventsUri),
      ...(Option.isSome(c.relayUri) ? { relayUri: c.relayUri.value } : {}),
      ...(c.daemonMode ? { daemonMode: true } : {}),
      requireInitialized: c.requireInitialized
    })
  )
)

/**
 * SDK options for every client the layers of {@link FlagClient} build, including the
 * config-driven `FlagClient.layer` and `layerConfig`: hooks, plugins, a persistent feature store
 * (`@launchdarkly/node-server-sdk-redis`), big segments, a proxy. Provide it with
 * `Layer.succeed(FlagClientSdkOptions, options)` (or `Layer.effect`, to build a store from
 * configuration). Merged over this library's own options; `layerWith`'s `sdkOptions` are merged
 * last; `hooks` and `plugins` of both are kept, and `privateAttributes` add to the ones the
 * segmentation rules make private.
 *
 * @since 0.2.0
 * @category config
 */
export const FlagClientSdkOptions: Context.Reference<LDOptions> = Context.Reference<LDOptions>(
  "effect-flag-context/FlagClientSdkOptions",
  { defaultValue: () => ({}) }
)

/**
 * The counter of evaluations, one series per `flag` and `fallback` (`"none"` when none applied).
 * Read a series with `Metric.withAttributes(FlagClientMetrics.evaluations, { flag, fallback })`.
 *
 * The series are bounded whatever keys callers pass: flags the SDK does not know (`FlagNotFound`)
 * share the flag `"(unknown)"`, and past {@link maxFlagSeries} distinct flags the others share the
 * flag `"(other)"`.
 *
 * @since 0.1.0
 * @category metrics
 */
export const FlagClientMetrics = {
  evaluations: Metric.counter("flag_evaluations", {
    description: "Flag evaluations by flag and fallback",
    incremental: true
  })
} as const

/**
 * The most distinct flag keys counted in their own series by one client (see
 * {@link FlagClientMetrics}).
 *
 * @since 0.2.0
 * @category metrics
 */
export const maxFlagSeries = 1_000

/**
 * How often a fallback warning is written per cause: at most one line per cause (the fallback, the
 * repository's reason and the root cause's message) every 10 seconds, carrying the number of
 * evaluations that fell back for that cause since the previous line.
 *
 * @since 0.2.0
 * @category constants
 */
export const fallbackWarningInterval: Duration.Duration = Duration.seconds(10)

// ---------------------------------------------------------------------------------------------
// The SDK client's life cycle
// ---------------------------------------------------------------------------------------------

const closeClient = (sdk: LDClient) =>
  Effect.tryPromise(() => sdk.flush()).pipe(
    Effect.timeout(Duration.seconds(5)),
    Effect.ignore,
    Effect.andThen(Effect.ignore(Effect.try(() => sdk.close())))
  )

// Creates the SDK client in the current scope (flushed and closed when it closes) and waits for it
// to initialize.
const acquireClient = Effect.fnUntraced(function* (
  sdkKey: string,
  ldOptions: LDOptions,
  initTimeout: Duration.Input,
  requireInitialized: boolean
) {
  const logger = effectLogger(yield* Effect.context<never>())
  const sdk = yield* Effect.acquireRelease(
    Effect.try({
      try: () => initLaunchDarkly(sdkKey, { logger, ...ldOptions }),
      catch: (cause) => new FlagClientInitError({ reason: "Failed", cause })
    }),
    closeClient
  )
  const timeout = Duration.toSeconds(Duration.fromInputUnsafe(initTimeout))
  const ready = yield* Effect.tryPromise({
    try: () => sdk.waitForInitialization({ timeout }),
    catch: (cause) => new FlagClientInitError({ reason: cause instanceof LDTimeoutError ? "Timeout" : "Failed", cause })
  }).pipe(Effect.result)
  if (ready._tag === "Failure") {
    if (requireInitialized) return yield* ready.failure
    yield* Effect.logWarning(
      "LaunchDarkly client is not initialized; evaluations answer the caller's default until it connects"
    ).pipe(Effect.annotateLogs({ reason: ready.failure.reason, cause: String(ready.failure.cause) }))
  }
  return sdk
})

const localOptions: LDOptions = { sendEvents: false, diagnosticOptOut: true }

// The private attributes of the segmentation rules, named once in the SDK's options: the rules of
// the `ContextBuilder` the client is built with, or the defaults (`email`, `name`, `/custom`) when
// none is in its context.
const rulesPrivateAttributes: Effect.Effect<ReadonlyArray<string>> = Effect.map(
  Effect.serviceOption(ContextBuilder),
  (builder) => privateAttributeReferences(Option.isSome(builder) ? builder.value.rules : undefined)
)

// Our own options first: the caller's `FlagClientSdkOptions`, then `sdkOptions`, are merged over
// them (their `privateAttributes` added to ours, never replacing them).
const sdkOptionsOf = Effect.fnUntraced(function* (sdkOptions: LDOptions | undefined) {
  const privateAttributes = yield* rulesPrivateAttributes
  return mergeSdkOptions(
    mergeSdkOptions({ privateAttributes: [...privateAttributes] }, yield* FlagClientSdkOptions),
    sdkOptions ?? {}
  )
})

const productionClient = Effect.fnUntraced(function* (options: FlagClientOptions) {
  const uris = serviceUris(options)
  const initTimeout = options.initTimeout ?? Duration.seconds(5)
  const requireInitialized = options.requireInitialized ?? false
  const extra = yield* sdkOptionsOf(options.sdkOptions)
  if (options.daemonMode === true && options.flagsFile === undefined) {
    if (extra.featureStore === undefined) {
      yield* Effect.logWarning(
        "LaunchDarkly daemon mode without a persistent feature store: there are no flags to read; give one through FlagClientSdkOptions"
      )
    }
    return yield* acquireClient(
      options.sdkKey === undefined ? "daemon-mode" : Redacted.value(options.sdkKey),
      { ...(options.sdkKey === undefined ? localOptions : uris), ...extra, useLdd: true },
      initTimeout,
      requireInitialized
    )
  }
  if (options.flagsFile !== undefined) {
    return yield* acquireClient(
      options.sdkKey === undefined ? "flags-file" : Redacted.value(options.sdkKey),
      { ...localOptions, updateProcessor: flagsFileDataSource(options.flagsFile, parseYaml), ...extra },
      initTimeout,
      requireInitialized
    )
  }
  if (options.sdkKey !== undefined) {
    return yield* acquireClient(Redacted.value(options.sdkKey), { ...uris, ...extra }, initTimeout, requireInitialized)
  }
  yield* Effect.logWarning(
    "LaunchDarkly is offline: neither LAUNCHDARKLY_SDK_KEY nor LAUNCHDARKLY_FLAGS_FILE is set; every flag answers the caller's default"
  )
  return yield* acquireClient("offline", { ...localOptions, offline: true, ...extra }, initTimeout, false)
})

// ---------------------------------------------------------------------------------------------
// Evaluation
// ---------------------------------------------------------------------------------------------

const NO_MATCH: unique symbol = Symbol("effect-flag-context/NoMatch")
type Decode<A> = (value: unknown) => A | typeof NO_MATCH

const decodeBoolean: Decode<boolean> = (value) => (typeof value === "boolean" ? value : NO_MATCH)

const jsonKind = (value: unknown): string =>
  value === null ? "null" : Array.isArray(value) ? "array" : typeof value === "object" ? "object" : typeof value

// Accepts a value of the default's JSON kind (any JSON when the default is `null`).
const ofKindOf = <A extends Json>(defaultValue: A): Decode<JsonOfKind<A>> => {
  const kind = jsonKind(defaultValue)
  return kind === "null"
    ? (value) => value as JsonOfKind<A>
    : (value) => (jsonKind(value) === kind ? (value as JsonOfKind<A>) : NO_MATCH)
}

const decodeWith = <A>(schema: Schema.Decoder<A>): Decode<A> => {
  const decode = Schema.decodeUnknownOption(schema)
  return (value) => Option.getOrElse(decode(value), (): typeof NO_MATCH => NO_MATCH)
}

const isUserId = Schema.is(UserId)
const defaultClock: Clock.Clock = Context.get(Context.empty(), Clock.Clock)
const SHARED_NOW_USES = 64
const SUCCEED_TRUE = Effect.succeed(true)
const SUCCEED_FALSE = Effect.succeed(false)
const WARN_INTERVAL_MS = Duration.toMillis(fallbackWarningInterval)
// Causes are few in practice (one per failure mode); a bound keeps a flood of distinct messages
// from growing the map: past it, causes share one limiter.
const MAX_CAUSES = 100
const UNKNOWN_FLAG = "(unknown)"
const OTHER_FLAG = "(other)"
const PROVIDER_NAME = "LaunchDarkly"

const FALLBACK_INDEX: Readonly<Record<Fallback, number>> = {
  UserNotFound: 1,
  UserRepoUnavailable: 2,
  InvalidUserId: 3,
  ClientNotReady: 4,
  FlagNotFound: 5,
  WrongType: 6,
  EvaluationError: 7
}

const withRequest = (context: UserContext, options: EvaluationOptions | undefined): UserContext =>
  options === undefined ? context : withRequestAttributes(context, options)

// A span per evaluation only when a tracing backend is installed. Measured here, a span costs
// several times the evaluation itself (about 10 µs with the stack capture `withSpan` does by
// default, 5 µs without, against about 1.5 µs for the SDK's `variation`). Without a backend (the
// native tracer) the evaluation is recorded as an OpenTelemetry `feature_flag.evaluation` event on
// the caller's span, if there is one: no span is made, and with no span around nothing is done.
// The fiber's cache holds the tracer, the flag and the span: no context lookup per evaluation.
const isTracing = (fiber: Fiber.Fiber<unknown, unknown>): boolean => {
  const tracer = fiber.cache.tracer
  return tracer !== undefined && tracer !== Tracer.nativeTracer && fiber.cache.tracerEnabled
}

const traced = <A>(effect: Effect.Effect<Evaluation<A>>, flagKey: string): Effect.Effect<Evaluation<A>> =>
  effect.pipe(
    Effect.tap((evaluation) =>
      Effect.annotateCurrentSpan({ "flag.fallback": evaluation.fallback ?? "none", "flag.context": evaluation.context })
    ),
    Effect.withSpan(
      "FlagClient.evaluate",
      { attributes: { "flag.key": flagKey, "feature_flag.key": flagKey, "feature_flag.provider.name": PROVIDER_NAME } },
      { captureStackTrace: false }
    )
  )

// OpenTelemetry's `feature_flag.result.reason` values for the SDK's reason kinds.
const otelReason = (reason: LDEvaluationReason, fallback: Fallback | null): string => {
  if (fallback !== null && fallback !== "UserNotFound" && fallback !== "UserRepoUnavailable") return "error"
  switch (reason.kind) {
    case "OFF":
      return "disabled"
    case "FALLTHROUGH":
      return reason.inExperiment === true ? "split" : "default"
    case "TARGET_MATCH":
    case "RULE_MATCH":
      return reason.inExperiment === true ? "split" : "targeting_match"
    case "ERROR":
      return "error"
    default:
      return "unknown"
  }
}

// OpenTelemetry's `error.type` values (OpenFeature error codes) for our fallbacks.
const OTEL_ERROR_TYPE: Readonly<Partial<Record<Fallback, string>>> = {
  InvalidUserId: "invalid_context",
  ClientNotReady: "provider_not_ready",
  FlagNotFound: "flag_not_found",
  WrongType: "type_mismatch",
  EvaluationError: "general"
}

// Records an evaluation as an OpenTelemetry `feature_flag.evaluation` span event on the current
// span, when tracing is enabled and there is one.
const recordEvent = (
  fiber: Fiber.Fiber<unknown, unknown>,
  flagKey: string,
  contextId: string | undefined,
  evaluation: Evaluation<unknown>
): void => {
  const span = fiber.cache.span
  if (span === undefined || span._tag !== "Span" || !fiber.cache.tracerEnabled) return
  const attributes: Record<string, unknown> = {
    "feature_flag.key": flagKey,
    "feature_flag.provider.name": PROVIDER_NAME,
    "feature_flag.result.reason": otelReason(evaluation.reason, evaluation.fallback),
    "flag.context": evaluation.context
  }
  if (contextId !== undefined) attributes["feature_flag.context.id"] = contextId
  if (evaluation.variationIndex !== null) attributes["feature_flag.result.variant"] = String(evaluation.variationIndex)
  if (evaluation.fallback !== null) {
    attributes["flag.fallback"] = evaluation.fallback
    const errorType = OTEL_ERROR_TYPE[evaluation.fallback]
    if (errorType !== undefined) attributes["error.type"] = errorType
  }
  span.event("feature_flag.evaluation", fiber.getRef(Clock.Clock).currentTimeNanosUnsafe(), attributes)
}

const toEffect = <A>(result: Evaluation<A> | Effect.Effect<Evaluation<A>>): Effect.Effect<Evaluation<A>> =>
  Effect.isEffect(result) ? result : Effect.succeed(result)

const valueOfEvaluation = <A>(evaluation: Evaluation<A>): A => evaluation.value

interface Resolved {
  readonly context: UserContext | undefined
  readonly kind: ContextKind
  readonly fallback: Fallback | null
}

const INVALID: Resolved = { context: undefined, kind: "id-only", fallback: "InvalidUserId" }

const makeService = Effect.fnUntraced(function* (sdk: LDClient) {
  const cache = yield* ContextCache

  // The time on the fiber's `Clock`. The clock of the last context asked is kept: fibers of one
  // program share their context, so the clock is looked up once per context, not per evaluation.
  let clockContext: Context.Context<never> | undefined
  let clock: Clock.Clock | undefined
  // Reading the default clock (`Date.now`) costs about 45 ns, 4% of a hit: its reading is shared by
  // the evaluations of one microtask, 64 at most, so a hit is judged at most microseconds late. Any
  // other clock (`TestClock`, one's own) is read by every evaluation.
  let sharedNow: number | undefined
  let sharedUses = 0
  const expireSharedNow = () => {
    sharedNow = undefined
  }
  const nowMillis = (fiber: Fiber.Fiber<unknown, unknown>): number => {
    if (fiber.context !== clockContext || clock === undefined) {
      clock = fiber.getRef(Clock.Clock)
      clockContext = fiber.context
    }
    if (clock !== defaultClock) return clock.currentTimeMillisUnsafe()
    if (sharedNow === undefined) queueMicrotask(expireSharedNow)
    else if (++sharedUses < SHARED_NOW_USES) return sharedNow
    sharedUses = 0
    sharedNow = clock.currentTimeMillisUnsafe()
    return sharedNow
  }
  const privateAttributes = yield* rulesPrivateAttributes
  const counters = new Map<string, Array<{ count: number } | undefined>>()
  let knownFlags = 0
  const registrations: Array<Metric.Registration> = []
  yield* Effect.addFinalizer(() =>
    Effect.sync(() => {
      for (const registration of registrations) registration.remove()
    })
  )

  // Counted in plain numbers that the metric registry reads on snapshot: an evaluation costs an
  // increment, not a registry lookup. A series is registered on its first evaluation, in the
  // registry of that fiber. Keys are bounded: unknown flags share one row, and past
  // `maxFlagSeries` known flags the rest share another.
  // The row of the last flag counted, kept: a run of evaluations of one flag skips the map.
  let lastFlagKey: string | undefined
  let lastRow: Array<{ count: number } | undefined> = []
  const count = (flagKey: string, fallback: Fallback | null, context: Context.Context<never>): void => {
    let row = flagKey === lastFlagKey ? lastRow : counters.get(flagKey)
    if (row === undefined) {
      if (fallback === "FlagNotFound") flagKey = UNKNOWN_FLAG
      else if (knownFlags >= maxFlagSeries) flagKey = OTHER_FLAG
      else knownFlags++
      row = counters.get(flagKey)
      if (row === undefined) {
        row = []
        counters.set(flagKey, row)
      }
    }
    lastFlagKey = flagKey
    lastRow = row
    const index = fallback === null ? 0 : FALLBACK_INDEX[fallback]
    let counter = row[index]
    if (counter === undefined) {
      const series = { count: 0 }
      const metric = Metric.counter(FlagClientMetrics.evaluations.id, {
        description: FlagClientMetrics.evaluations.description,
        incremental: true,
        attributes: { flag: flagKey, fallback: fallback ?? "none" }
      })
      registrations.push(
        Metric.registerUnsafe(metric, context, {
          get: () => ({ count: series.count, incremental: true }),
          update: () => {},
          modify: () => {}
        })
      )
      row[index] = series
      counter = series
    }
    counter.count++
  }

  const finish = <A>(
    fiber: Fiber.Fiber<unknown, unknown>,
    flagKey: string,
    contextId: string,
    detail: LDEvaluationDetail | SdkThrew,
    kind: ContextKind,
    contextFallback: Fallback | null,
    defaultValue: A,
    decode: Decode<A>
  ): Evaluation<A> => {
    let value: A = defaultValue
    let reason: LDEvaluationReason
    let variationIndex: number | null = null
    let fallback: Fallback | null
    if (detail instanceof SdkThrew) {
      reason = exceptionReason
      fallback = "EvaluationError"
    } else {
      reason = detail.reason
      fallback = sdkFallback(reason)
      // No variation served (a flag off without an off variation) means the SDK handed back our default.
      if (fallback === null && detail.variationIndex !== undefined && detail.variationIndex !== null) {
        const decoded = decode(detail.value)
        if (decoded === NO_MATCH) {
          reason = wrongTypeReason
          fallback = "WrongType"
        } else {
          value = decoded
          variationIndex = detail.variationIndex
        }
      }
    }
    fallback ??= contextFallback
    count(flagKey, fallback, fiber.context)
    const evaluation: Evaluation<A> = { value, reason, variationIndex, fallback, context: kind }
    if (fiber.cache.span !== undefined) recordEvent(fiber, flagKey, contextId, evaluation)
    return evaluation
  }

  // The id is the caller's junk: not recorded as the context id.
  const invalid = <A>(fiber: Fiber.Fiber<unknown, unknown>, flagKey: string, defaultValue: A): Evaluation<A> => {
    count(flagKey, "InvalidUserId", fiber.context)
    const evaluation: Evaluation<A> = {
      value: defaultValue,
      reason: invalidContextReason,
      variationIndex: null,
      fallback: "InvalidUserId",
      context: "id-only"
    }
    if (fiber.cache.span !== undefined) recordEvent(fiber, flagKey, undefined, evaluation)
    return evaluation
  }

  // Evaluates against a context already resolved: synchronously when the SDK answers synchronously.
  const evaluateWith = <A>(
    fiber: Fiber.Fiber<unknown, unknown>,
    flagKey: string,
    context: UserContext,
    kind: ContextKind,
    contextFallback: Fallback | null,
    defaultValue: A,
    decode: Decode<A>
  ): Evaluation<A> | Effect.Effect<Evaluation<A>> => {
    const answer = variationDetailNow(sdk, flagKey, context, defaultValue)
    if (answer instanceof Promise) {
      return finishLater(fiber, flagKey, context, answer, kind, contextFallback, defaultValue, decode)
    }
    const evaluation = finish(fiber, flagKey, context.key, answer, kind, contextFallback, defaultValue, decode)
    const due = settleDue(fiber)
    return due === undefined ? evaluation : afterSettling(due, Effect.succeed(evaluation))
  }

  // The evaluation of an answer the SDK gives asynchronously (a store that answers later).
  const finishLater = <A>(
    fiber: Fiber.Fiber<unknown, unknown>,
    flagKey: string,
    context: UserContext,
    answer: Promise<LDEvaluationDetail>,
    kind: ContextKind,
    contextFallback: Fallback | null,
    defaultValue: A,
    decode: Decode<A>
  ): Effect.Effect<Evaluation<A>> =>
    Effect.tryPromise({ try: () => answer, catch: (cause) => new SdkThrew(cause) }).pipe(
      Effect.catch((threw) => Effect.succeed(threw)),
      Effect.map((detail) => finish(fiber, flagKey, context.key, detail, kind, contextFallback, defaultValue, decode))
    )

  // Fallback warnings, limited per cause (not per user): an outage that hits every user writes one
  // line per cause per interval, with the number of evaluations it affected since the last line.
  const causes = new Map<string, { lastAt: number; affected: number }>()

  const warnFallback = (
    userId: string,
    fallback: Fallback,
    reason: string,
    error: { readonly message: string; readonly cause?: unknown } | undefined
  ): Effect.Effect<void> =>
    Effect.withFiber((fiber) => {
      const now = fiber.getRef(Clock.Clock).currentTimeMillisUnsafe()
      const summary = error === undefined ? "" : describeCause(error.cause)
      let key = `${fallback}\u0000${reason}\u0000${summary}`
      let state = causes.get(key)
      if (state === undefined && causes.size >= MAX_CAUSES) {
        key = `${fallback}\u0000${reason}\u0000(other causes)`
        state = causes.get(key)
      }
      if (state === undefined) {
        state = { lastAt: Number.NEGATIVE_INFINITY, affected: 0 }
        causes.set(key, state)
      }
      state.affected++
      if (now - state.lastAt < WARN_INTERVAL_MS && now >= state.lastAt) return Effect.void
      const affected = state.affected
      state.lastAt = now
      state.affected = 0
      const annotations: Record<string, unknown> = { userId, fallback, reason, affected }
      if (error !== undefined) {
        annotations["error"] = error.message
        if (summary.length > 0) annotations["cause"] = summary
      }
      // A `UserRepoError`'s message already ends with its root cause.
      const why = error === undefined ? reason : error.message
      return Effect.logWarning(
        `Flags evaluated with an id-only context (${fallback}): ${why}; ${affected} evaluation(s) affected since the last warning for this cause, latest user ${JSON.stringify(userId)}`
      ).pipe(Effect.annotateLogs(annotations))
    })

  const idOnly = (
    userId: string,
    options: EvaluationOptions | undefined,
    fallback: Fallback,
    reason: string,
    error?: UserRepoError
  ) =>
    Effect.as(warnFallback(userId, fallback, reason, error), {
      context: withRequest(idOnlyContext(userId), options),
      kind: "id-only",
      fallback
    } satisfies Resolved)

  // The fallback a typed lookup error picks.
  const resolveFailure = (
    userId: string,
    options: EvaluationOptions | undefined,
    error: ContextCacheError
  ): Effect.Effect<Resolved> => {
    switch (error._tag) {
      // Not logged: the id comes from the caller, possibly junk; the answer and the metric say it.
      case "InvalidUserId":
        return Effect.succeed(INVALID)
      case "UserNotFound":
        return idOnly(userId, options, "UserNotFound", "UserNotFound")
      case "UserRepoError":
        return idOnly(userId, options, "UserRepoUnavailable", error.reason, error)
    }
  }

  // The context when the cache does not have it yet: a lookup, and typed errors pick the fallback.
  const resolveSlow = (userId: string, options: EvaluationOptions | undefined): Effect.Effect<Resolved> =>
    Effect.matchEffect(cache.get(userId), {
      onSuccess: (context) =>
        Effect.succeed<Resolved>({ context: withRequest(context, options), kind: "full", fallback: null }),
      onFailure: (error) => resolveFailure(userId, options, error)
    })

  // The context synchronously when that is possible (id only, or a cached user); `undefined` otherwise.
  const resolveNow = (
    fiber: Fiber.Fiber<unknown, unknown>,
    userId: string,
    options: EvaluationOptions | undefined
  ): Resolved | undefined => {
    if (options?.useUserIdOnly === true) {
      return isUserId(userId)
        ? { context: withRequest(idOnlyContext(userId), options), kind: "id-only", fallback: null }
        : INVALID
    }
    const cached = cache.getCachedUnsafe(userId, nowMillis(fiber))
    return cached === undefined ? undefined : { context: withRequest(cached, options), kind: "full", fallback: null }
  }

  const evaluateResolved = <A>(
    fiber: Fiber.Fiber<unknown, unknown>,
    flagKey: string,
    resolved: Resolved,
    defaultValue: A,
    decode: Decode<A>
  ): Evaluation<A> | Effect.Effect<Evaluation<A>> =>
    resolved.context === undefined
      ? invalid(fiber, flagKey, defaultValue)
      : evaluateWith(fiber, flagKey, resolved.context, resolved.kind, resolved.fallback, defaultValue, decode)

  // One evaluation. On the hot path (a cached user, or `useUserIdOnly`, and an SDK that answers
  // synchronously) this returns the evaluation itself: no fiber, no promise, no span.
  const attempt = <A>(
    fiber: Fiber.Fiber<unknown, unknown>,
    flagKey: string,
    userId: string,
    defaultValue: A,
    options: EvaluationOptions | undefined,
    decode: Decode<A>
  ): Evaluation<A> | Effect.Effect<Evaluation<A>> => {
    if (options?.useUserIdOnly !== true) {
      const cached = cache.getCachedUnsafe(userId, nowMillis(fiber))
      if (cached !== undefined) {
        return evaluateWith(fiber, flagKey, withRequest(cached, options), "full", null, defaultValue, decode)
      }
      // A miss: the lookup's user is evaluated in the continuation itself (no `Resolved` in between).
      // The continuation runs in this same fiber: no `withFiber` to find it again.
      return Effect.matchEffect(cache.get(userId), {
        onSuccess: (context) =>
          toEffect(evaluateWith(fiber, flagKey, withRequest(context, options), "full", null, defaultValue, decode)),
        onFailure: (error) =>
          Effect.flatMap(resolveFailure(userId, options, error), (resolved) =>
            Effect.withFiber((current) => toEffect(evaluateResolved(current, flagKey, resolved, defaultValue, decode)))
          )
      })
    }
    if (!isUserId(userId)) return invalid(fiber, flagKey, defaultValue)
    return evaluateWith(
      fiber,
      flagKey,
      withRequest(idOnlyContext(userId), options),
      "id-only",
      null,
      defaultValue,
      decode
    )
  }

  const run = <A>(
    flagKey: string,
    userId: string,
    defaultValue: A,
    options: EvaluationOptions | undefined,
    decode: Decode<A>
  ): Effect.Effect<Evaluation<A>> =>
    Effect.withFiber((fiber) =>
      isTracing(fiber)
        ? traced(
            Effect.withFiber((inner) => toEffect(attempt(inner, flagKey, userId, defaultValue, options, decode))),
            flagKey
          )
        : toEffect(attempt(fiber, flagKey, userId, defaultValue, options, decode))
    )

  // The hot path of the hot path: a cached user, no options, outside any span, and the SDK answering
  // a boolean variation synchronously. It counts like `finish` does, without building an
  // `Evaluation`; anything else goes through `finish` (the SDK is asked once either way).
  const isEnabledCached = (
    fiber: Fiber.Fiber<unknown, unknown>,
    flagKey: string,
    context: UserContext
  ): Effect.Effect<boolean> => {
    const answer = variationDetailNow(sdk, flagKey, context, false)
    if (answer instanceof Promise) {
      return Effect.map(
        finishLater(fiber, flagKey, context, answer, "full", null, false, decodeBoolean),
        valueOfEvaluation
      )
    }
    let value: boolean
    if (
      fiber.cache.span === undefined &&
      !(answer instanceof SdkThrew) &&
      answer.reason.kind !== "ERROR" &&
      answer.variationIndex !== undefined &&
      answer.variationIndex !== null &&
      typeof answer.value === "boolean"
    ) {
      count(flagKey, null, fiber.context)
      value = answer.value
    } else value = finish(fiber, flagKey, context.key, answer, "full", null, false, decodeBoolean).value
    const result = value ? SUCCEED_TRUE : SUCCEED_FALSE
    const due = settleDue(fiber)
    return due === undefined ? result : afterSettling(due, result)
  }

  const isEnabled = (flagKey: string, userId: UserId, options?: FlagOptions): Effect.Effect<boolean> =>
    Effect.withFiber((fiber) => {
      const defaultValue = options?.default ?? false
      if (isTracing(fiber))
        return Effect.map(run(flagKey, userId, defaultValue, options, decodeBoolean), valueOfEvaluation)
      if (options === undefined) {
        const cached = cache.getCachedUnsafe(userId, nowMillis(fiber))
        if (cached !== undefined) return isEnabledCached(fiber, flagKey, cached)
      }
      const result = attempt(fiber, flagKey, userId, defaultValue, options, decodeBoolean)
      if (Effect.isEffect(result)) return Effect.map(result, valueOfEvaluation)
      return result.value ? SUCCEED_TRUE : SUCCEED_FALSE
    })

  const evaluate = <A extends Json>(
    flagKey: string,
    userId: UserId,
    defaultValue: A,
    options?: EvaluationOptions
  ): Effect.Effect<Evaluation<JsonOfKind<A>>> => {
    const decode = ofKindOf(defaultValue)
    const typedDefault = decode(defaultValue)
    return typedDefault === NO_MATCH
      ? Effect.die(new Error("unreachable: a default always has its own kind"))
      : run(flagKey, userId, typedDefault, options, decode)
  }

  const variation = <A>(
    flagKey: string,
    userId: UserId,
    schema: Schema.Decoder<A>,
    defaultValue: A,
    options?: EvaluationOptions
  ): Effect.Effect<A> => Effect.map(run(flagKey, userId, defaultValue, options, decodeWith(schema)), valueOfEvaluation)

  const notValid: FlagsStateJson = { $valid: false, $flagsState: {} }

  const allFlags = (userId: UserId, options?: AllFlagsOptions): Effect.Effect<FlagsStateJson> =>
    Effect.withFiber((fiber) => {
      const now = resolveNow(fiber, userId, options)
      return now === undefined ? resolveSlow(userId, options) : Effect.succeed(now)
    }).pipe(
      Effect.flatMap(({ context }) =>
        context === undefined
          ? Effect.succeed(notValid)
          : Effect.tryPromise(() =>
              sdk.allFlagsState(context, {
                clientSideOnly: options?.clientSideOnly ?? false,
                withReasons: options?.withReasons ?? false,
                detailsOnlyForTrackedFlags: options?.detailsOnlyForTrackedFlags ?? false
              })
            ).pipe(
              Effect.map((state): FlagsStateJson => ({ ...state.toJSON() })),
              Effect.catch(() => Effect.succeed(notValid))
            )
      ),
      Effect.withSpan("FlagClient.allFlags")
    )

  const require = (flagKey: string, userId: UserId, options?: FlagOptions): Effect.Effect<void, FeatureDisabled> =>
    Effect.flatMap(isEnabled(flagKey, userId, options), (enabled) =>
      enabled ? Effect.void : Effect.fail(new FeatureDisabled({ flagKey }))
    )

  // The context, synchronously when possible (see `resolveNow`), else looked up.
  const resolve = (userId: string, options: EvaluationOptions | undefined): Effect.Effect<Resolved> =>
    Effect.withFiber((fiber) => {
      const now = resolveNow(fiber, userId, options)
      return now === undefined ? resolveSlow(userId, options) : Effect.succeed(now)
    })

  const contextFor = (userId: UserId, options?: EvaluationOptions): Effect.Effect<ResolvedContext> =>
    Effect.map(
      resolve(userId, options),
      ({ context, kind, fallback }): ResolvedContext => ({ context, kind, fallback, privateAttributes })
    )

  const track = (
    eventKey: string,
    userId: UserId,
    data?: Json,
    metricValue?: number,
    options?: EvaluationOptions
  ): Effect.Effect<TrackResult> =>
    Effect.flatMap(resolve(userId, options), ({ context, kind, fallback }) => {
      const result: TrackResult = { kind, fallback }
      if (context === undefined) return Effect.succeed(result)
      return Effect.try(() => sdk.track(eventKey, context, data, metricValue)).pipe(
        Effect.as(result),
        Effect.catch((error) =>
          Effect.as(
            Effect.logWarning("LaunchDarkly SDK refused a custom event").pipe(
              Effect.annotateLogs({ eventKey, cause: String(error.cause) })
            ),
            result
          )
        )
      )
    }).pipe(Effect.withSpan("FlagClient.track", { attributes: { "event.key": eventKey } }))

  const changes: Stream.Stream<FlagChange> = Stream.map(flagUpdates(sdk), (flagKey): FlagChange => ({ flagKey }))

  const watch = <A extends Json>(
    flagKey: string,
    userId: UserId,
    defaultValue: A,
    options?: EvaluationOptions
  ): Stream.Stream<Evaluation<JsonOfKind<A>>> =>
    watchFlag(sdk, flagKey, evaluate(flagKey, userId, defaultValue, options), (self, that) =>
      jsonEquals(self.value, that.value)
    )

  return FlagClient.of({
    isEnabled,
    variation,
    evaluate,
    allFlags,
    require,
    contextFor,
    track,
    changes,
    watch,
    initialized: Effect.sync(() => sdk.initialized()),
    sdk
  })
})

// ---------------------------------------------------------------------------------------------
// Test data
// ---------------------------------------------------------------------------------------------

const flagFor = (testData: integrations.TestData, flagKey: string, value: Json): integrations.TestDataFlagBuilder =>
  typeof value === "boolean"
    ? testData.flag(flagKey).booleanFlag().clearRules().clearAllTargets().variationForAll(value)
    : testData.flag(flagKey).clearRules().clearAllTargets().valueForAll(value)

const makeTestFlags = (testData: integrations.TestData): TestFlags["Service"] => {
  const update = (builder: integrations.TestDataFlagBuilder) =>
    Effect.asVoid(Effect.promise(() => testData.update(builder)))
  return TestFlags.of({
    testData,
    set: (flagKey, value) => update(flagFor(testData, flagKey, value)),
    enable: (flagKey) => update(flagFor(testData, flagKey, true)),
    disable: (flagKey) => update(flagFor(testData, flagKey, false)),
    enableForUsers: (flagKey, userIds) =>
      update(
        userIds.reduce(
          (builder, userId) => builder.variationForUser(userId, true),
          testData.flag(flagKey).booleanFlag().clearRules().clearAllTargets().fallthroughVariation(false)
        )
      ),
    enableForSegments: (flagKey, segments) =>
      update(
        testData
          .flag(flagKey)
          .booleanFlag()
          .clearRules()
          .clearAllTargets()
          .fallthroughVariation(false)
          .ifMatch("user", "segments", ...segments)
          .thenReturn(true)
      ),
    update: (flagKey, f) => update(f(testData.flag(flagKey)))
  })
}

/**
 * The handle a test uses to set flags on the client of `FlagClient.layerTest`: the SDK's own
 * `TestData`, so evaluation is the SDK's. Changes apply to the next evaluation.
 *
 * @since 0.1.0
 * @category testing
 */
export class TestFlags extends Context.Service<
  TestFlags,
  {
    /** The SDK's `TestData`, for anything the helpers below don't cover. */
    readonly testData: integrations.TestData
    /** Every context gets `value`. */
    readonly set: (flagKey: string, value: Json) => Effect.Effect<void>
    /** A boolean flag, `true` for everyone. */
    readonly enable: (flagKey: string) => Effect.Effect<void>
    /** A boolean flag, `false` for everyone. */
    readonly disable: (flagKey: string) => Effect.Effect<void>
    /** A boolean flag, `true` for these user ids only. */
    readonly enableForUsers: (flagKey: string, userIds: ReadonlyArray<string>) => Effect.Effect<void>
    /** A boolean flag, `true` for contexts in any of these segments only. */
    readonly enableForSegments: (flagKey: string, segments: ReadonlyArray<string>) => Effect.Effect<void>
    /** Any change with the SDK's flag builder. */
    readonly update: (
      flagKey: string,
      f: (flag: integrations.TestDataFlagBuilder) => integrations.TestDataFlagBuilder
    ) => Effect.Effect<void>
  }
>()("effect-flag-context/TestFlags") {
  /**
   * A fresh `TestData` with these flags set for every context.
   *
   * @since 0.1.0
   */
  static readonly layer = (flags: Readonly<Record<string, Json>> = {}): Layer.Layer<TestFlags> =>
    Layer.effect(
      TestFlags,
      Effect.gen(function* () {
        const testFlags = makeTestFlags(new integrations.TestData())
        for (const [flagKey, value] of Object.entries(flags)) yield* testFlags.set(flagKey, value)
        return testFlags
      })
    )
}

// ---------------------------------------------------------------------------------------------
// The service
// ---------------------------------------------------------------------------------------------

// The SDK client on the `TestData` of the current `TestFlags`.
const testClient = Effect.gen(function* () {
  const { testData } = yield* TestFlags
  // Only the rules' private attributes: a test client takes no `FlagClientSdkOptions` (a store, a proxy).
  const privateAttributes = [...(yield* rulesPrivateAttributes)]
  const sdk = yield* Effect.orDie(
    acquireClient(
      "test",
      { ...localOptions, privateAttributes, updateProcessor: testData.getFactory() },
      Duration.seconds(5),
      true
    )
  )
  return yield* makeService(sdk)
})

/**
 * Options of `FlagClient.layerTestWith`.
 *
 * @since 0.1.0
 * @category testing
 */
export interface TestLayerOptions {
  /** The users of the in-memory repository. */
  readonly users?: Iterable<User> | undefined
  /** Flags set for every context, by key. */
  readonly flags?: Readonly<Record<string, Json>> | undefined
  /** Segmentation rules (defaults for those left out). */
  readonly rules?: Partial<SegmentationRules> | undefined
  /** Cache settings. */
  readonly cache?: ContextCacheOptions | undefined
}

/**
 * Evaluates LaunchDarkly flags for users, through the {@link ContextCache}. Every operation
 * answers: when the user, the repository or the SDK is missing, the caller's default or an
 * id-only evaluation, with the {@link Fallback} that applied.
 *
 * @since 0.1.0
 * @category services
 */
export class FlagClient extends Context.Service<
  FlagClient,
  {
    /** Whether a boolean flag is on for the user; the default (`false` unless given) when it can't be told. */
    readonly isEnabled: (flagKey: string, userId: UserId, options?: FlagOptions) => Effect.Effect<boolean>
    /** The flag's JSON value decoded with `schema`; the default when it can't be evaluated or does not decode. */
    readonly variation: <A>(
      flagKey: string,
      userId: UserId,
      schema: Schema.Decoder<A>,
      defaultValue: A,
      options?: EvaluationOptions
    ) => Effect.Effect<A>
    /** The full answer: value, reason, variation index, fallback and context kind. */
    readonly evaluate: <A extends Json>(
      flagKey: string,
      userId: UserId,
      defaultValue: A,
      options?: EvaluationOptions
    ) => Effect.Effect<Evaluation<JsonOfKind<A>>>
    /** Every flag for the user, as the SDK's `allFlagsState` JSON, to bootstrap a browser SDK. */
    readonly allFlags: (userId: UserId, options?: AllFlagsOptions) => Effect.Effect<FlagsStateJson>
    /** Fails with {@link FeatureDisabled} when the flag is off for the user. */
    readonly require: (flagKey: string, userId: UserId, options?: FlagOptions) => Effect.Effect<void, FeatureDisabled>
    /**
     * The context an evaluation for the user would use (looked up and cached as for an
     * evaluation, fallbacks included), for calls to the SDK this service does not cover.
     */
    readonly contextFor: (userId: UserId, options?: EvaluationOptions) => Effect.Effect<ResolvedContext>
    /**
     * Sends a custom event (experiments, metrics) with the context an evaluation would use. With
     * an invalid id nothing is sent, and the result says `"InvalidUserId"`.
     */
    readonly track: (
      eventKey: string,
      userId: UserId,
      data?: Json,
      metricValue?: number,
      options?: EvaluationOptions
    ) => Effect.Effect<TrackResult>
    /** Every flag update the SDK reports, while the stream runs (the listener is removed when it ends). */
    readonly changes: Stream.Stream<FlagChange>
    /**
     * The flag's evaluation for the user now, then again each time its value changes (an update
     * that leaves the value equal emits nothing).
     */
    readonly watch: <A extends Json>(
      flagKey: string,
      userId: UserId,
      defaultValue: A,
      options?: EvaluationOptions
    ) => Stream.Stream<Evaluation<JsonOfKind<A>>>
    /** Whether the SDK has received its flags. */
    readonly initialized: Effect.Effect<boolean>
    /** The SDK client itself, for what this service does not cover (`identify`, migrations). */
    readonly sdk: LDClient
  }
>()("effect-flag-context/FlagClient") {
  /**
   * The production stack from configuration ({@link flagClientConfig}, `contextCacheConfig`,
   * the segmentation rules): provide a `UserRepo`. `ContextCache` and `ContextBuilder` are
   * exposed too, for invalidation. SDK options (hooks, a persistent store) come from
   * {@link FlagClientSdkOptions} when it is provided.
   *
   * @since 0.1.0
   */
  static readonly layer: Layer.Layer<
    FlagClient | ContextCache | ContextBuilder,
    Config.ConfigError | FlagClientInitError,
    UserRepo
  > = Layer.effect(FlagClient, Effect.flatMap(Effect.flatMap(flagClientConfig, productionClient), makeService)).pipe(
    Layer.provideMerge(ContextCache.layerConfig),
    Layer.provideMerge(ContextBuilder.layerConfig)
  )

  /**
   * The client alone, configured from {@link flagClientConfig} (and {@link FlagClientSdkOptions}).
   *
   * @since 0.1.0
   */
  static readonly layerConfig: Layer.Layer<FlagClient, Config.ConfigError | FlagClientInitError, ContextCache> =
    Layer.effect(FlagClient, Effect.flatMap(Effect.flatMap(flagClientConfig, productionClient), makeService))

  /**
   * The client alone, with explicit options.
   *
   * @since 0.1.0
   */
  static readonly layerWith = (
    options: FlagClientOptions
  ): Layer.Layer<FlagClient, FlagClientInitError, ContextCache> =>
    Layer.effect(FlagClient, Effect.flatMap(productionClient(options), makeService))

  /**
   * The real SDK on `TestData`, with the {@link TestFlags} handle to set flags; no network.
   *
   * @since 0.1.0
   */
  static readonly layerTest: Layer.Layer<FlagClient | TestFlags, never, ContextCache> = Layer.effect(
    FlagClient,
    testClient
  ).pipe(Layer.provideMerge(TestFlags.layer()))

  /**
   * Everything a test of flag-guarded code needs: the client on `TestData` with `flags`, the
   * handle, an in-memory `UserRepo` with `users`, the `ContextBuilder` and the `ContextCache`.
   *
   * @since 0.1.0
   */
  static readonly layerTestWith = (
    options: TestLayerOptions = {}
  ): Layer.Layer<FlagClient | TestFlags | ContextCache | ContextBuilder | UserRepo> =>
    Layer.effect(FlagClient, testClient).pipe(
      Layer.provideMerge(TestFlags.layer(options.flags)),
      Layer.provideMerge(ContextCache.layer(options.cache)),
      Layer.provideMerge(Layer.mergeAll(UserRepo.layerMemory(options.users ?? []), ContextBuilder.layer(options.rules)))
    )

  /**
   * `isEnabled` of the current `FlagClient`.
   *
   * @since 0.1.0
   */
  static readonly isEnabled = (
    flagKey: string,
    userId: UserId,
    options?: FlagOptions
  ): Effect.Effect<boolean, never, FlagClient> => FlagClient.use((client) => client.isEnabled(flagKey, userId, options))

  /**
   * `variation` of the current `FlagClient`.
   *
   * @since 0.1.0
   */
  static readonly variation = <A>(
    flagKey: string,
    userId: UserId,
    schema: Schema.Decoder<A>,
    defaultValue: A,
    options?: EvaluationOptions
  ): Effect.Effect<A, never, FlagClient> =>
    FlagClient.use((client) => client.variation(flagKey, userId, schema, defaultValue, options))

  /**
   * `evaluate` of the current `FlagClient`.
   *
   * @since 0.1.0
   */
  static readonly evaluate = <A extends Json>(
    flagKey: string,
    userId: UserId,
    defaultValue: A,
    options?: EvaluationOptions
  ): Effect.Effect<Evaluation<JsonOfKind<A>>, never, FlagClient> =>
    FlagClient.use((client) => client.evaluate(flagKey, userId, defaultValue, options))

  /**
   * `allFlags` of the current `FlagClient`.
   *
   * @since 0.1.0
   */
  static readonly allFlags = (
    userId: UserId,
    options?: AllFlagsOptions
  ): Effect.Effect<FlagsStateJson, never, FlagClient> => FlagClient.use((client) => client.allFlags(userId, options))

  /**
   * `require` of the current `FlagClient`.
   *
   * @since 0.1.0
   */
  static readonly require = (
    flagKey: string,
    userId: UserId,
    options?: FlagOptions
  ): Effect.Effect<void, FeatureDisabled, FlagClient> =>
    FlagClient.use((client) => client.require(flagKey, userId, options))

  /**
   * `contextFor` of the current `FlagClient`.
   *
   * @since 0.2.0
   */
  static readonly contextFor = (
    userId: UserId,
    options?: EvaluationOptions
  ): Effect.Effect<ResolvedContext, never, FlagClient> => FlagClient.use((client) => client.contextFor(userId, options))

  /**
   * `track` of the current `FlagClient`.
   *
   * @since 0.2.0
   */
  static readonly track = (
    eventKey: string,
    userId: UserId,
    data?: Json,
    metricValue?: number,
    options?: EvaluationOptions
  ): Effect.Effect<TrackResult, never, FlagClient> =>
    FlagClient.use((client) => client.track(eventKey, userId, data, metricValue, options))

  /**
   * `changes` of the current `FlagClient`.
   *
   * @since 0.2.0
   */
  static readonly changes: Stream.Stream<FlagChange, never, FlagClient> = Stream.unwrap(
    FlagClient.use((client) => Effect.succeed(client.changes))
  )

  /**
   * `watch` of the current `FlagClient`.
   *
   * @since 0.2.0
   */
  static readonly watch = <A extends Json>(
    flagKey: string,
    userId: UserId,
    defaultValue: A,
    options?: EvaluationOptions
  ): Stream.Stream<Evaluation<JsonOfKind<A>>, never, FlagClient> =>
    Stream.unwrap(FlagClient.use((client) => Effect.succeed(client.watch(flagKey, userId, defaultValue, options))))

  /**
   * The counter of evaluations.
   *
   * @since 0.1.0
   */
  static readonly metrics = FlagClientMetrics
}
