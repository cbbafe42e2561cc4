/**
 * The hot path: `FlagClient.isEnabled` for a cached user against the SDK's own `variation` on a
 * prebuilt context (the same client, flag and context), and against OpenFeature with the
 * LaunchDarkly provider, which is what a user would otherwise pick. Interleaved rounds after a
 * warm-up; medians of the time per evaluation.
 *
 * Two groups, each interleaved on its own. The first is the target's: `FlagClient`, the SDK, and
 * three lines that explain the gap: the SDK call `FlagClient` makes (`variationDetail` answered
 * synchronously through its callback), the thinnest `Effect` anyone can build over it (the floor
 * for an Effect API on the public SDK), and the naive wrapper an Effect user would write first.
 * The second holds the Promise-style alternatives (OpenFeature, `FlagClientPromise`) against the
 * SDK again: OpenFeature is an order of magnitude slower, and its garbage would otherwise land in
 * the first group's rounds.
 *
 * The user's repository is in memory: the user is cached before the first timed call, so the
 * repository is never asked during the measurement.
 */
import { basicLogger, type LDContext } from "@launchdarkly/node-server-sdk"
import { LaunchDarklyProvider } from "@launchdarkly/openfeature-node-server"
import { type EvaluationContext, OpenFeature } from "@openfeature/server-sdk"
import { Clock, Context, Effect, Layer } from "effect"
import { ContextCache } from "../src/ContextCache.js"
import { FlagClient } from "../src/FlagClient.js"
import { makeFlagClientPromise } from "../src/FlagClientPromise.js"
import { afterSettling, SdkThrew, settleDue, variationDetailNow } from "../src/internal/flagSdk.js"
import { privateAttributeReferences } from "../src/Segmentation.js"
import { UserRepo } from "../src/UserRepo.js"
import { benchFlag, fileSdkOptions, flagStack, flagsFile, makeUser, quietLogs } from "./fixtures.js"
import { type InterleavedResult, interleaved } from "./harness.js"

/** Options of {@link measureHotPath}. */
export interface HotPathOptions {
  /** Evaluations per competitor and round. Default 10,000. */
  readonly iterations?: number | undefined
  /** Timed rounds. Default 30. */
  readonly rounds?: number | undefined
  /** Untimed evaluations per competitor first. Default 30,000. */
  readonly warmup?: number | undefined
  /** Evaluations per competitor and round in the second group. Default 2000. */
  readonly alternativesIterations?: number | undefined
}

/** Median nanoseconds per evaluation of each competitor. */
export interface HotPathResult {
  readonly iterations: number
  readonly rounds: number
  readonly flagClient: number
  readonly sdkVariation: number
  /** `variationDetail` with a callback, answered synchronously, its promise dropped: what `FlagClient` calls. */
  readonly sdkVariationDetailSync: number
  /**
   * The thinnest `Effect` over the public SDK: `withFiber`, the cache read and the synchronous call
   * above, and a wait for the SDK's promise every 64 answers as `FlagClient` does (`settleDue`).
   */
  readonly thinnestEffect: number
  /** `Effect.tryPromise(() => sdk.variation(…))` on the prebuilt context. */
  readonly naiveEffect: number
  readonly openFeature: number
  readonly flagClientPromise: number
  /** The SDK's `await variation` in the alternatives' group, their reference. */
  readonly sdkVariationAlternatives: number
  /** `FlagClient.isEnabled` inside a span with Effect's native tracer: one span event per evaluation. */
  readonly flagClientInSpan: number
  /**
   * The SDK's `await variation` on the user's context in the 0.1 shape (a top-level `custom_<key>`
   * per metadata key and `_meta.privateAttributes` naming the PII): what naming PII once saved it.
   */
  readonly sdkVariationOldShape: number
  /** 64 fibers (`FlagClient`) and 64 async loops (the SDK's `await variation`), per evaluation. */
  readonly concurrentFlagClient: number
  readonly concurrentSdk: number
  /** The thinnest `Effect` above, in 64 fibers: the floor of `concurrentFlagClient`. */
  readonly concurrentThinnest: number
  /** `concurrentSdk / concurrentFlagClient`: throughput relative to the SDK (target at least 0.8). */
  readonly throughputRatio: number
  /** `flagClient / sdkVariation`: the figure with a target (at most 1.3). */
  readonly ratio: number
  /** `flagClient / thinnestEffect`: what `FlagClient`'s own code adds. */
  readonly ratioToThinnest: number
  /** Whether every competitor answered the same (`true`) in its last call. */
  readonly agreed: boolean
  /** The target's group, then the alternatives' group. */
  readonly results: ReadonlyArray<InterleavedResult>
  readonly alternatives: ReadonlyArray<InterleavedResult>
  readonly concurrent: ReadonlyArray<InterleavedResult>
}

const OPEN_FEATURE_DOMAIN = "effect-flag-context-bench"

/** OpenFeature's shape of an LD context: `targetingKey` for `key`. */
const toEvaluationContext = (context: LDContext): EvaluationContext => {
  const { key, ...attributes } = context as Record<string, unknown> & { readonly key: string }
  return { ...(attributes as EvaluationContext), targetingKey: key }
}

/** The context in the shape of 0.1: `custom_<key>` attributes, and the PII named in `_meta` on every context. */
const toOldShape = (context: LDContext): LDContext => {
  const { custom, ...rest } = context as Record<string, unknown> & { readonly custom?: Record<string, unknown> }
  const old: Record<string, unknown> = { ...rest }
  const privateAttributes = ["email", "name"]
  for (const [key, value] of Object.entries(custom ?? {})) {
    old[`custom_${key}`] = value
    privateAttributes.push(`custom_${key}`)
  }
  old["_meta"] = { privateAttributes }
  return old as LDContext
}

export const measureHotPath = async (options: HotPathOptions = {}): Promise<HotPathResult> => {
  const iterations = options.iterations ?? 10_000
  const rounds = options.rounds ?? 30
  const warmup = options.warmup ?? 30_000
  const alternativesIterations = options.alternativesIterations ?? 2000
  const user = makeUser(10)

  const program = Effect.gen(function* () {
    const path = yield* flagsFile
    const services = yield* Layer.build(flagStack(path, UserRepo.layerMemory([user])))
    const client = Context.get(services, FlagClient)
    const sdk = client.sdk
    const run = Effect.runPromiseWith(services)

    // Cached, and the context the cache built, for the SDK's prebuilt-context competitors.
    if (!(yield* client.isEnabled(benchFlag, user.id))) return yield* Effect.die(new Error("the bench flag is off"))
    const context: LDContext = yield* Context.get(services, ContextCache).get(user.id)

    const promiseClient = makeFlagClientPromise(flagStack(path, UserRepo.layerMemory([user])))
    yield* Effect.addFinalizer(() => Effect.promise(() => promiseClient.dispose()))
    yield* Effect.promise(() => promiseClient.ready())

    // The same private attributes as `FlagClient`'s SDK, named once in the provider's options.
    const provider = new LaunchDarklyProvider(
      "open-feature",
      {
        ...fileSdkOptions(path),
        privateAttributes: [...privateAttributeReferences()],
        logger: basicLogger({ level: "none" })
      },
      10
    )
    yield* Effect.acquireRelease(
      Effect.promise(() => OpenFeature.setProviderAndWait(OPEN_FEATURE_DOMAIN, provider)),
      () => Effect.promise(() => OpenFeature.close())
    )
    const openFeature = OpenFeature.getClient(OPEN_FEATURE_DOMAIN)
    const evaluationContext = toEvaluationContext(context)

    const cache = Context.get(services, ContextCache)
    const last = {
      flagClient: false,
      sdk: false,
      detail: false,
      thinnest: false,
      naive: false,
      openFeature: false,
      promise: false
    }
    const isEnabled = (n: number) =>
      Effect.gen(function* () {
        let value = false
        for (let i = 0; i < n; i++) value = yield* client.isEnabled(benchFlag, user.id)
        last.flagClient = value
      })
    const syncValue = (cached: LDContext): boolean => {
      const answer = variationDetailNow(sdk, benchFlag, cached, false)
      return !(answer instanceof Promise) && !(answer instanceof SdkThrew) && answer.value === true
    }
    const ON = Effect.succeed(true)
    const OFF = Effect.succeed(false)
    const thinnest = Effect.withFiber((fiber) => {
      const cached = cache.getCachedUnsafe(user.id, fiber.getRef(Clock.Clock).currentTimeMillisUnsafe())
      const result = cached !== undefined && syncValue(cached) ? ON : OFF
      const due = settleDue(fiber)
      return due === undefined ? result : afterSettling(due, result)
    })
    const thinnestLoop = (n: number) =>
      Effect.gen(function* () {
        let value = false
        for (let i = 0; i < n; i++) value = yield* thinnest
        last.thinnest = value
      })
    const oldShapeContext = toOldShape(context)
    const inSpan = (n: number) => isEnabled(n).pipe(Effect.withSpan("bench request"))
    const CONCURRENCY = 64
    const concurrentFlagClient = (n: number) =>
      Effect.forEach(
        Array.from({ length: CONCURRENCY }, (_, k) => Math.floor((n + k) / CONCURRENCY)),
        (share) => isEnabled(share),
        { concurrency: "unbounded", discard: true }
      )
    const concurrentThinnest = (n: number) =>
      Effect.forEach(
        Array.from({ length: CONCURRENCY }, (_, k) => Math.floor((n + k) / CONCURRENCY)),
        (share) => thinnestLoop(share),
        { concurrency: "unbounded", discard: true }
      )
    const concurrentSdk = async (n: number): Promise<void> => {
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async (_, k) => {
          const share = Math.floor((n + k) / CONCURRENCY)
          let value: unknown = false
          for (let i = 0; i < share; i++) value = await sdk.variation(benchFlag, context, false)
          last.sdk = value === true
        })
      )
    }
    const naive = Effect.tryPromise(() => sdk.variation(benchFlag, context, false))
    const naiveLoop = (n: number) =>
      Effect.gen(function* () {
        let value: unknown = false
        for (let i = 0; i < n; i++) value = yield* naive
        last.naive = value === true
      })

    const sdkAwait = {
      name: "SDK `await variation`, prebuilt context (plain loop)",
      run: async (n: number) => {
        let value: unknown = false
        for (let i = 0; i < n; i++) value = await sdk.variation(benchFlag, context, false)
        last.sdk = value === true
      }
    }
    const results = yield* Effect.promise(() =>
      interleaved(
        [
          { name: "FlagClient.isEnabled, cached user (one Effect program)", run: (n) => run(isEnabled(n)) },
          sdkAwait,
          {
            name: "SDK `variationDetail` answered through its callback, promise dropped (plain loop)",
            run: async (n) => {
              let value = false
              for (let i = 0; i < n; i++) value = syncValue(context)
              last.detail = value
            }
          },
          {
            name: "Thinnest Effect over the public SDK: `withFiber` + cache read + the call above (+ a wait every 64)",
            run: (n) => run(thinnestLoop(n))
          },
          { name: "Naive Effect wrapper: `Effect.tryPromise(() => sdk.variation(…))`", run: (n) => run(naiveLoop(n)) },
          {
            name: "FlagClient.isEnabled inside a span, native tracer (a `feature_flag.evaluation` event each)",
            run: (n) => run(inSpan(n))
          },
          {
            name: "SDK `await variation`, the user's context in the 0.1 shape (`custom_<key>`, `_meta.privateAttributes`)",
            run: async (n) => {
              let value: unknown = false
              for (let i = 0; i < n; i++) value = await sdk.variation(benchFlag, oldShapeContext, false)
              last.sdk = value === true
            }
          }
        ],
        { warmup, rounds, iterations }
      )
    )
    const concurrent = yield* Effect.promise(() =>
      interleaved(
        [
          { name: "FlagClient.isEnabled, 64 fibers, cached user", run: (n) => run(concurrentFlagClient(n)) },
          { name: "SDK `await variation`, 64 async loops, prebuilt context", run: concurrentSdk },
          { name: "Thinnest Effect over the public SDK, 64 fibers", run: (n) => run(concurrentThinnest(n)) }
        ],
        { warmup, rounds, iterations }
      )
    )
    const alternatives = yield* Effect.promise(() =>
      interleaved(
        [
          sdkAwait,
          {
            name: "OpenFeature `getBooleanValue`, LaunchDarkly provider, prebuilt context",
            run: async (n) => {
              let value = false
              for (let i = 0; i < n; i++) value = await openFeature.getBooleanValue(benchFlag, false, evaluationContext)
              last.openFeature = value
            }
          },
          {
            name: "FlagClientPromise.isEnabled, cached user (`await` per call)",
            run: async (n) => {
              let value = false
              for (let i = 0; i < n; i++) value = await promiseClient.isEnabled(benchFlag, user.id)
              last.promise = value
            }
          }
        ],
        { warmup: Math.min(warmup, 5 * alternativesIterations), rounds, iterations: alternativesIterations }
      )
    )
    return { results, alternatives, concurrent, agreed: Object.values(last).every((value) => value) }
  })

  const { results, alternatives, concurrent, agreed } = await Effect.runPromise(quietLogs(Effect.scoped(program)))
  const con = (i: number) => concurrent[i]?.median ?? Number.NaN
  const at = (i: number) => results[i]?.median ?? Number.NaN
  const alt = (i: number) => alternatives[i]?.median ?? Number.NaN
  return {
    iterations,
    rounds,
    flagClient: at(0),
    sdkVariation: at(1),
    sdkVariationDetailSync: at(2),
    thinnestEffect: at(3),
    naiveEffect: at(4),
    openFeature: alt(1),
    flagClientPromise: alt(2),
    sdkVariationAlternatives: alt(0),
    flagClientInSpan: at(5),
    sdkVariationOldShape: at(6),
    concurrentFlagClient: con(0),
    concurrentSdk: con(1),
    concurrentThinnest: con(2),
    throughputRatio: con(1) / con(0),
    ratio: at(0) / at(1),
    ratioToThinnest: at(0) / at(3),
    agreed,
    results,
    alternatives,
    concurrent
  }
}
