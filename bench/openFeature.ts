/**
 * OpenFeature: `FlagClientProvider` (the user's cached rich context looked up by `targetingKey`)
 * against OpenFeature with the official LaunchDarkly provider given a prebuilt context (which
 * does less: someone else built the context), and the SDK's own `variation` on that context, all
 * on the same flags file. Interleaved rounds after a warm-up; medians of the time per evaluation.
 *
 * Quick on its own: `npx tsc -p tsconfig.bench.json && node build/bench/openFeature.js`.
 */
import { basicLogger, type LDContext } from "@launchdarkly/node-server-sdk"
import { LaunchDarklyProvider } from "@launchdarkly/openfeature-node-server"
import { type EvaluationContext, OpenFeature, TypedInMemoryProvider } from "@openfeature/server-sdk"
import { Context, Effect, Layer } from "effect"
import { ContextCache } from "../src/ContextCache.js"
import { FlagClient } from "../src/FlagClient.js"
import { FlagClientProvider } from "../src/OpenFeature.js"
import { UserRepo } from "../src/UserRepo.js"
import { benchFlag, fileSdkOptions, flagStack, flagsFile, makeUser, quietLogs } from "./fixtures.js"
import { fixed, type InterleavedResult, interleaved, table } from "./harness.js"

/** Options of {@link measureOpenFeature}. */
export interface OpenFeatureOptions {
  /** Evaluations per competitor and round. Default 2,000. */
  readonly iterations?: number | undefined
  /** Timed rounds. Default 20. */
  readonly rounds?: number | undefined
  /** Untimed evaluations per competitor first. Default 10,000. */
  readonly warmup?: number | undefined
}

/** Median nanoseconds per evaluation. */
export interface OpenFeatureResult {
  readonly iterations: number
  readonly rounds: number
  /** OpenFeature + `FlagClientProvider`, by `targetingKey`. */
  readonly ours: number
  /** OpenFeature + the LaunchDarkly provider, on a prebuilt context. */
  readonly launchDarkly: number
  /** The SDK's `await variation` on the prebuilt context. */
  readonly sdk: number
  /** OpenFeature + its in-memory provider: what OpenFeature itself costs per evaluation. */
  readonly openFeatureFloor: number
  /** `ours / launchDarkly`: below 1 means ours costs less per evaluation. */
  readonly ratio: number
  /** The same ratio above OpenFeature's own cost: what each provider adds to an evaluation. */
  readonly providerRatio: number
  /** Whether every competitor answered `true` in its last call. */
  readonly agreed: boolean
  readonly results: ReadonlyArray<InterleavedResult>
}

const OURS = "effect-flag-context-bench-ours"
const THEIRS = "effect-flag-context-bench-launchdarkly"
const FLOOR = "effect-flag-context-bench-in-memory"

/** OpenFeature's shape of an LD context: `targetingKey` for `key`, `privateAttributes` for `_meta`. */
const toEvaluationContext = (context: LDContext): EvaluationContext => {
  const { key, _meta, ...attributes } = context as Record<string, unknown> & { readonly key: string }
  const meta = _meta as { readonly privateAttributes?: ReadonlyArray<string> } | undefined
  return {
    ...(attributes as EvaluationContext),
    targetingKey: key,
    ...(meta?.privateAttributes === undefined ? {} : { privateAttributes: [...meta.privateAttributes] })
  }
}

export const measureOpenFeature = async (options: OpenFeatureOptions = {}): Promise<OpenFeatureResult> => {
  const iterations = options.iterations ?? 2_000
  const rounds = options.rounds ?? 20
  const warmup = options.warmup ?? 10_000
  const user = makeUser(10)

  const program = Effect.gen(function* () {
    const path = yield* flagsFile
    const services = yield* Layer.build(flagStack(path, UserRepo.layerMemory([user])))
    const client = Context.get(services, FlagClient)
    const context: LDContext = yield* Context.get(services, ContextCache).get(user.id)

    const theirs = new LaunchDarklyProvider(
      "open-feature",
      { ...fileSdkOptions(path), logger: basicLogger({ level: "none" }) },
      10
    )
    yield* Effect.acquireRelease(
      Effect.promise(async () => {
        await OpenFeature.setProviderAndWait(OURS, providerOver(services))
        await OpenFeature.setProviderAndWait(THEIRS, theirs)
        await OpenFeature.setProviderAndWait(
          FLOOR,
          new TypedInMemoryProvider({
            [benchFlag]: { variants: { on: true, off: false }, defaultVariant: "on", disabled: false }
          })
        )
      }),
      () => Effect.promise(() => OpenFeature.close())
    )
    const oursClient = OpenFeature.getClient(OURS)
    const theirsClient = OpenFeature.getClient(THEIRS)
    const floorClient = OpenFeature.getClient(FLOOR)
    const byKey: EvaluationContext = { targetingKey: user.id }
    const prebuilt = toEvaluationContext(context)
    const last = { ours: false, launchDarkly: false, sdk: false, floor: false }

    const results = yield* Effect.promise(() =>
      interleaved(
        [
          {
            name: "OpenFeature + FlagClientProvider (targetingKey → cached rich context)",
            run: async (n) => {
              for (let i = 0; i < n; i++) last.ours = await oursClient.getBooleanValue(benchFlag, false, byKey)
            }
          },
          {
            name: "OpenFeature + LaunchDarkly provider (prebuilt context)",
            run: async (n) => {
              for (let i = 0; i < n; i++) {
                last.launchDarkly = await theirsClient.getBooleanValue(benchFlag, false, prebuilt)
              }
            }
          },
          {
            name: "OpenFeature + in-memory provider (OpenFeature's own cost)",
            run: async (n) => {
              for (let i = 0; i < n; i++) last.floor = await floorClient.getBooleanValue(benchFlag, false, byKey)
            }
          },
          {
            name: "SDK `await variation` (prebuilt context)",
            run: async (n) => {
              for (let i = 0; i < n; i++) last.sdk = (await client.sdk.variation(benchFlag, context, false)) === true
            }
          }
        ],
        { warmup, rounds, iterations }
      )
    )
    const [ours, launchDarkly, floor, sdk] = results.map((result) => result.median)
    return {
      iterations,
      rounds,
      ours: ours ?? Number.NaN,
      launchDarkly: launchDarkly ?? Number.NaN,
      sdk: sdk ?? Number.NaN,
      openFeatureFloor: floor ?? Number.NaN,
      ratio: (ours ?? Number.NaN) / (launchDarkly ?? Number.NaN),
      providerRatio:
        ((ours ?? Number.NaN) - (floor ?? Number.NaN)) / ((launchDarkly ?? Number.NaN) - (floor ?? Number.NaN)),
      agreed: last.ours && last.launchDarkly && last.sdk && last.floor,
      results
    } satisfies OpenFeatureResult
  })
  return Effect.runPromise(quietLogs(Effect.scoped(program)))
}

// The provider over the services built above (closing it closes nothing: the scope does).
const providerOver = (services: Context.Context<FlagClient>): FlagClientProvider =>
  Effect.runSync(Effect.provide(FlagClientProvider.make, services))

/** The Markdown section of the report. */
export const openFeatureReport = (result: OpenFeatureResult): string =>
  [
    "## OpenFeature provider",
    "",
    `Per evaluation, ${result.rounds} interleaved rounds of ${result.iterations} evaluations after a warm-up; medians.`,
    "",
    table(
      ["Competitor", "ns per evaluation", "× the LaunchDarkly provider"],
      result.results.map((r) => [r.name, fixed(r.median, 0), fixed(r.median / result.launchDarkly, 2)])
    ),
    "",
    `Ratio ours / OpenFeature + LaunchDarkly provider: **${fixed(result.ratio, 2)}**; ` +
      (result.providerRatio < 0
        ? "what the provider adds above OpenFeature's own cost is within the noise: ours measured below the in-memory provider's line"
        : `what the provider adds above OpenFeature's own cost, ours / theirs: **${fixed(result.providerRatio, 2)}**`) +
      ` (answers agreed: ${result.agreed}).`,
    ""
  ].join("\n")

if (import.meta.url === `file://${process.argv[1]}`) {
  const result = await measureOpenFeature()
  console.log(openFeatureReport(result))
}
