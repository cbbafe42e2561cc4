/**
 * A Promise facade over {@link FlagClient}, for code that does not use Effect: an Express handler,
 * a script. It owns a `ManagedRuntime` built from a layer; call `dispose` when done.
 *
 * @since 0.1.0
 */
import type { Effect, Layer, Schema } from "effect"
import { ManagedRuntime } from "effect"
import {
  type AllFlagsOptions,
  type Evaluation,
  type EvaluationOptions,
  FlagClient,
  type FlagOptions,
  type FlagsStateJson,
  type JsonOfKind,
  type ResolvedContext,
  type TrackResult
} from "./FlagClient.js"
import type { Json, UserId } from "./User.js"

/**
 * The operations of {@link FlagClient} as functions returning promises. User ids are plain
 * strings: an invalid one answers the default with fallback `"InvalidUserId"`.
 *
 * @since 0.1.0
 * @category models
 */
export interface FlagClientPromise<R = FlagClient, E = unknown> {
  readonly isEnabled: (flagKey: string, userId: string, options?: FlagOptions) => Promise<boolean>
  readonly variation: <A>(
    flagKey: string,
    userId: string,
    schema: Schema.Decoder<A>,
    defaultValue: A,
    options?: EvaluationOptions
  ) => Promise<A>
  readonly evaluate: <A extends Json>(
    flagKey: string,
    userId: string,
    defaultValue: A,
    options?: EvaluationOptions
  ) => Promise<Evaluation<JsonOfKind<A>>>
  readonly allFlags: (userId: string, options?: AllFlagsOptions) => Promise<FlagsStateJson>
  /** Rejects with `FeatureDisabled` when the flag is off for the user. */
  readonly require: (flagKey: string, userId: string, options?: FlagOptions) => Promise<void>
  /** The context an evaluation for the user would use, for calls to the SDK itself. */
  readonly contextFor: (userId: string, options?: EvaluationOptions) => Promise<ResolvedContext>
  /** Sends a custom event with the context an evaluation would use; nothing for an invalid id. */
  readonly track: (
    eventKey: string,
    userId: string,
    data?: Json,
    metricValue?: number,
    options?: EvaluationOptions
  ) => Promise<TrackResult>
  /** Builds the layer now (the first call does otherwise); rejects with the layer's error. */
  readonly ready: () => Promise<void>
  /** Releases the layer: the SDK client is flushed and closed. */
  readonly dispose: () => Promise<void>
  /** The runtime, to run other effects against the same layer (a test's `TestFlags` changes). */
  readonly runtime: ManagedRuntime.ManagedRuntime<R, E>
}

// The client checks ids at run time (an invalid one gives the `InvalidUserId` fallback), so a
// plain string from non-Effect code is passed through as it is.
const unchecked = (userId: string): UserId => userId as UserId

/**
 * A Promise facade over the `FlagClient` of `layer` (for example `FlagClient.layer` with a
 * `UserRepo`, or `FlagClient.layerTestWith(...)`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeFlagClientPromise = <R, E>(
  layer: Layer.Layer<R | FlagClient, E>,
  options?: { readonly memoMap?: Layer.MemoMap | undefined }
): FlagClientPromise<R | FlagClient, E> => {
  const runtime = ManagedRuntime.make(layer, options)
  const run = <A, E2>(f: (client: FlagClient["Service"]) => Effect.Effect<A, E2>): Promise<A> =>
    runtime.runPromise(FlagClient.use(f))
  return {
    isEnabled: (flagKey, userId, options) => run((client) => client.isEnabled(flagKey, unchecked(userId), options)),
    variation: (flagKey, userId, schema, defaultValue, options) =>
      run((client) => client.variation(flagKey, unchecked(userId), schema, defaultValue, options)),
    evaluate: (flagKey, userId, defaultValue, options) =>
      run((client) => client.evaluate(flagKey, unchecked(userId), defaultValue, options)),
    allFlags: (userId, options) => run((client) => client.allFlags(unchecked(userId), options)),
    require: (flagKey, userId, options) => run((client) => client.require(flagKey, unchecked(userId), options)),
    contextFor: (userId, options) => run((client) => client.contextFor(unchecked(userId), options)),
    track: (eventKey, userId, data, metricValue, options) =>
      run((client) => client.track(eventKey, unchecked(userId), data, metricValue, options)),
    ready: () => runtime.context().then(() => undefined),
    dispose: () => runtime.dispose(),
    runtime
  }
}
