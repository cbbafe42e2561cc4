/**
 * `npm run bench`: runs every benchmark of issue 6 one after another and writes
 * `docs/benchmarks.md`. Each figure is written against its target; a benchmark that fails is
 * reported as such and the others still run.
 *
 * Postgres: the server of `DATABASE_URL` when it is set, else embedded PGlite. Live invalidation
 * needs a real server (LISTEN/NOTIFY does not cross PGlite's socket sessions): `DATABASE_URL`, else
 * the local one at 127.0.0.1:5432 when it answers, else the section is skipped.
 */
import { appendFileSync, writeFileSync } from "node:fs"
import { loadavg } from "node:os"
import { fileURLToPath } from "node:url"
import { contextCacheDefaults } from "../src/ContextCache.js"
import { attacksReport, measureAttacks } from "./attacks.js"
import { type BurstResult, measureBurst } from "./burst.js"
import { embeddedStartReport, measureEmbeddedStart } from "./embeddedStart.js"
import { type FanOutResult, measureFanOut } from "./fanOut.js"
import { type FlagKeysResult, measureFlagKeys } from "./flagKeys.js"
import { reachable } from "./fixtures.js"
import { fixed, inFreshProcess, machine, table, verdict } from "./harness.js"
import { type HitRateResult, measureHitRate } from "./hitRate.js"
import { type HotPathResult, measureHotPath } from "./hotPath.js"
import { type HungDatabaseResult, measureHungDatabase } from "./hungDatabase.js"
import { type InvalidationBenchResult, measureInvalidationLatency } from "./invalidation.js"
import { type MemoryResult, measureMemory } from "./memory.js"
import { type MissPathResult, measureMissPathWithSemiSpace } from "./missPath.js"
import { measureOpenFeature, openFeatureReport } from "./openFeature.js"
import type { SkewedLoadResult } from "./skewedLoad.js"
import { measureStampede, type StampedeResult } from "./stampede.js"

const HOT_PATH_TARGET = 1.3
const STAMPEDE_TARGET = 1
const FAN_OUT_TARGET = 10
const HUNG_SLACK_MS = 50
const BURST_SLACK_MS = 100
const THROUGHPUT_TARGET = 0.8
const HIT_RATE_POINTS = 3
const MISS_CPU_TARGET_US = 20
const SEMI_SPACE_MB = 64
// Benchmarks of latency and GC run in a fresh process each (see `inFreshProcess`).
const skewedLoadModule = new URL("./skewedLoad.js", import.meta.url).href
const missPathModule = new URL("./missPath.js", import.meta.url).href
const BLOCK_TARGET_MS = 2

/** `--quick`: every benchmark at a fraction of its size, for a check while developing (figures are rough). */
const QUICK = process.argv.includes("--quick")

type Outcome<A> =
  | { readonly _tag: "done"; readonly value: A; readonly seconds: number; readonly load: string }
  | { readonly _tag: "failed"; readonly error: string; readonly seconds: number; readonly load: string }
  | { readonly _tag: "skipped"; readonly reason: string }

const load = (): string =>
  loadavg()
    .map((value) => value.toFixed(2))
    .join(" / ")

/** Runs one benchmark, timing it and noting the load average before and after. */
const section = async <A>(name: string, run: () => Promise<A>): Promise<Outcome<A>> => {
  // Each benchmark starts on a collected heap, not on the garbage of the one before (`--expose-gc`).
  ;(globalThis as { gc?: () => void }).gc?.()
  const before = load()
  const start = performance.now()
  process.stdout.write(`${name} … `)
  try {
    const value = await run()
    const seconds = (performance.now() - start) / 1000
    process.stdout.write(`${seconds.toFixed(1)} s\n`)
    return { _tag: "done", value, seconds, load: `${before} → ${load()}` }
  } catch (error) {
    const seconds = (performance.now() - start) / 1000
    process.stdout.write(`failed after ${seconds.toFixed(1)} s\n`)
    console.error(error)
    return {
      _tag: "failed",
      error: error instanceof Error ? error.message : String(error),
      seconds,
      load: `${before} → ${load()}`
    }
  }
}

const ns = (value: number): string => `${Math.round(value).toLocaleString("en-US")} ns`
const ms = (value: number): string => `${fixed(value, value < 10 ? 2 : 0)} ms`
const int = (value: number): string => Math.round(value).toLocaleString("en-US")
const mib = (bytes: number): string => `${fixed(bytes / 2 ** 20, 2)} MiB`

const invalidationUrl = async (): Promise<string | undefined> => {
  const url = process.env["DATABASE_URL"]
  if (url !== undefined && url !== "") return url
  return (await reachable("127.0.0.1", 5432)) ? "postgres://postgres@127.0.0.1:5432/test" : undefined
}

interface Results {
  readonly hotPath: Outcome<HotPathResult>
  readonly stampede: Outcome<StampedeResult>
  readonly fanOut: Outcome<FanOutResult>
  readonly skewed: Outcome<SkewedRuns>
  readonly hung: Outcome<HungDatabaseResult>
  readonly memory: Outcome<MemoryResult>
  readonly invalidation: Outcome<InvalidationBenchResult>
  readonly burst: Outcome<BurstResult>
  readonly missPath: Outcome<MissPathResult & { readonly tuned: MissPathResult | undefined }>
  readonly hitRate: Outcome<HitRateResult>
  readonly flagKeys: Outcome<FlagKeysResult>
}

const summaryRow = <A>(
  name: string,
  outcome: Outcome<A>,
  row: (value: A) => readonly [figure: string, target: string, result: string]
): ReadonlyArray<string> => {
  switch (outcome._tag) {
    case "done":
      return [name, ...row(outcome.value)]
    case "failed":
      return [name, `failed: ${outcome.error}`, "", "**failed**"]
    case "skipped":
      return [name, `skipped: ${outcome.reason}`, "", "skipped"]
  }
}

const hotPathMet = (r: HotPathResult) => r.ratio <= HOT_PATH_TARGET
// Issue 12 accepts a hot-path figure out of reach when a measurement shows the floor: `FlagClient`
// within 5% of the thinnest Effect anyone can write over the public SDK, measured in the same run.
const FLOOR_SLACK = 1.05
const floorVerdict = (met: boolean, toFloor: number): string =>
  met ? "met" : toFloor <= FLOOR_SLACK ? `at the floor (${fixed(toFloor)}× the thinnest Effect)` : "**missed**"
const hungBound = (r: HungDatabaseResult) => r.lookupTimeoutMs + HUNG_SLACK_MS
const hungMet = (r: HungDatabaseResult) => r.p99Ms <= hungBound(r) && r.idOnly === r.evaluations
const memoryMet = (r: MemoryResult) => r.growthBytes <= r.noiseBytes
const burstMet = (r: BurstResult) => r.maxMs <= r.lookupTimeoutMs + BURST_SLACK_MS && r.wrong === 0
/** The skewed load run `SKEWED_RUNS` times, each in a fresh process: the run of median p99, and all of them. */
type SkewedRuns = SkewedLoadResult & { readonly runs: ReadonlyArray<SkewedLoadResult> }
const SKEWED_RUNS = 3
// Judged under churn, once the cache has warmed up (after the first tenth of the run); the p99 from
// a cold cache is reported beside it.
const skewedMet = (r: SkewedLoadResult) => r.warmP99Us <= 5_000 && r.evaluationsPerSecond >= 50_000
const spreadOf = (
  runs: ReadonlyArray<SkewedLoadResult>,
  f: (r: SkewedLoadResult) => number,
  format: (n: number) => string
) => runs.map((run) => format(f(run))).join(" · ")
const missCpuMet = (r: MissPathResult) =>
  r.missBusyUsPerUser.median <= MISS_CPU_TARGET_US && r.memoryMissBusyUsPerUser.median <= MISS_CPU_TARGET_US
const hitRateMet = (r: HitRateResult) => (r.oracle - r.hitRate) * 100 <= HIT_RATE_POINTS
const flagKeysGrowth = (r: FlagKeysResult) => r.heapAfterBytes - r.heapBeforeBytes

const report = (results: Results, databaseKind: string, totalSeconds: number, startLoad: string): string => {
  const { hotPath, stampede, fanOut, skewed, hung, memory, invalidation, burst, missPath, hitRate, flagKeys } = results
  const lines: Array<string> = []
  lines.push(
    "# Benchmarks",
    "",
    "Written by `npm run bench` (`bench/run.ts`; one file per benchmark in `bench/`). Benchmarks are not",
    "tests: nothing here is asserted in `npm test` except the statement counts of the stampede and the",
    "fan-out (`test/bench.test.ts`), which are behaviour, not timing.",
    "",
    "## Machine",
    "",
    machine(),
    `- Database: ${databaseKind}`,
    `- Load average (1 / 5 / 15 min) at the start: ${startLoad}; the whole run took ${fixed(totalSeconds, 0)} s`,
    ...(QUICK ? ["- **Quick mode** (`--quick`): every benchmark at a fraction of its size; figures are rough."] : []),
    "",
    "The stampede, fan-out and cold-burst figures count statements on the wire through a loopback proxy, in this process,",
    "between the client and the database (`test/support/TestDatabase.ts`); it decodes every message the client sends, so",
    "it adds to their round trips. The skewed load and the miss path connect to the server directly (the proxy's work",
    "would be measured with the library's) and count statements with a `Statement.CurrentTransformer`. With embedded",
    "PGlite the database itself runs in this process, whatever the door. Those two run in a fresh process each, so",
    "that the heap and the young generation the benchmarks before them left do not weigh on their latency and GC.",
    "",
    "## Summary",
    "",
    table(
      ["Benchmark", "Figure", "Target", "Result"],
      [
        summaryRow("Hot path", hotPath, (r) => [
          `${fixed(r.ratio)}× the SDK's \`variation\` (${ns(r.flagClient)} vs ${ns(r.sdkVariation)}); the thinnest Effect over the public SDK: ${fixed(r.thinnestEffect / r.sdkVariation)}×`,
          `≤ ${HOT_PATH_TARGET}×, or the floor shown (issue 12)`,
          floorVerdict(hotPathMet(r), r.ratioToThinnest)
        ]),
        summaryRow("Hot path, 64 concurrent fibers", hotPath, (r) => [
          `${fixed(r.throughputRatio)}× the SDK's throughput (${ns(r.concurrentFlagClient)} vs ${ns(r.concurrentSdk)} per evaluation); the thinnest Effect in 64 fibers: ${fixed(r.concurrentSdk / r.concurrentThinnest)}×`,
          `≥ ${THROUGHPUT_TARGET}×, or the floor shown (issue 12)`,
          floorVerdict(r.throughputRatio >= THROUGHPUT_TARGET, r.concurrentFlagClient / r.concurrentThinnest)
        ]),
        summaryRow("Tracing", hotPath, (r) => [
          `inside a span (native tracer, one event each): ${fixed(r.flagClientInSpan / r.flagClient)}× the call outside any span`,
          "≈ free when off",
          "—"
        ]),
        summaryRow("Stampede", stampede, (r) => [
          `${r.statements} statement for ${int(r.concurrency)} concurrent evaluations of one cold user, ${ms(r.wallMs)}`,
          `exactly ${STAMPEDE_TARGET}`,
          verdict(r.statements === STAMPEDE_TARGET && r.fullContexts === r.concurrency)
        ]),
        summaryRow("Cold fan-out", fanOut, (r) => [
          `${r.batched.statements} statements for ${int(r.users)} cold users, ${ms(r.batched.wallMs)}` +
            (r.perUser === undefined
              ? ""
              : ` (one query per user: ${int(r.perUser.statements)} statements, ${ms(r.perUser.wallMs)})`),
          `≤ ${FAN_OUT_TARGET}`,
          verdict(r.batched.statements <= FAN_OUT_TARGET && r.batched.fullContexts === r.users)
        ]),
        summaryRow("Skewed load", skewed, (r) => [
          `${int(r.evaluationsPerSecond)} evaluations/s, p50 ${fixed(r.p50Us, 1)} µs, p99 ${fixed(r.warmP99Us / 1000, 1)} ms once the cache has warmed up (${fixed(r.p99Us / 1000, 1)} ms counting the cold start), ${fixed(r.statementsPer10k, 1)} statements per 10,000 evaluations; event-loop delay p99 ${ms(r.loopDelayP99Ms)}, max ${ms(r.loopDelayMaxMs)} (longest block apart from GC ${ms(r.longestBlockMs)}, longest GC pause ${ms(r.gcMaxMs)})`,
          "p99 under churn ≤ 5 ms, ≥ 50,000/s (issue 12)",
          verdict(skewedMet(r)) + (r.runs.length > 1 ? ` (median of ${r.runs.length} runs)` : "")
        ]),
        summaryRow("Hung database", hung, (r) => [
          `p99 ${ms(r.p99Ms)}, ${int(r.idOnly)} of ${int(r.evaluations)} answers id-only`,
          `≤ ${int(hungBound(r))} ms, all id-only`,
          verdict(hungMet(r))
        ]),
        summaryRow("Memory", memory, (r) => [
          `${mib(r.large.retainedBytes)} retained after ${int(r.large.users)} users vs ${mib(r.baseline.retainedBytes)} / ${mib(r.baselineAgain.retainedBytes)} after ${int(r.baseline.users)}`,
          `growth ≤ noise (${mib(r.noiseBytes)})`,
          verdict(memoryMet(r))
        ]),
        summaryRow("Cold burst", burst, (r) => [
          `${int(r.users)} cold users at once, pool of 10: p99 ${ms(r.p99Ms)}, max ${ms(r.maxMs)}; ${fixed((r.idOnly / r.users) * 100, 1)}% id-only, ${int(r.wrong)} wrong`,
          `max ≤ ${int(r.lookupTimeoutMs + BURST_SLACK_MS)} ms, none wrong`,
          verdict(burstMet(r))
        ]),
        summaryRow("Miss path CPU", missPath, (r) => [
          `${fixed(r.missBusyUsPerUser.median, 1)} µs of main thread per user loaded from Postgres (${fixed(r.missBusyUsPerUser.min, 1)}–${fixed(r.missBusyUsPerUser.max, 1)}; cold ${fixed(r.busyUsPerUser.median, 1)} µs minus warm ${fixed(r.warmBusyUsPerUser.median, 1)} µs per caller); ${fixed(r.memoryMissBusyUsPerUser.median, 1)} µs from the in-memory repository; floor (statement, decode, build, evaluation in plain loops) ${fixed(r.floorBusyUsPerUser.median, 1)} µs`,
          `≤ ${MISS_CPU_TARGET_US} µs per user loaded (issue 12)`,
          verdict(missCpuMet(r))
        ]),
        summaryRow("Event-loop block, one batch", missPath, (r) => [
          `longest block while ${int(r.batch)} cold users are loaded and resumed, GC apart: median ${ms(r.longestBlockMs.median)} over ${r.blockRounds} rounds (${ms(r.longestBlockMs.min)}–${ms(r.longestBlockMs.max)}); longest GC pause ${ms(r.gcMaxMs)}`,
          `≤ ${BLOCK_TARGET_MS} ms (issue 12)`,
          verdict(r.longestBlockMs.median <= BLOCK_TARGET_MS)
        ]),
        summaryRow("Hit rate (Zipf)", hitRate, (r) => [
          `${fixed(r.hitRate * 100, 1)}% vs ${fixed(r.oracle * 100, 1)}% for the ${int(r.capacity)} most popular users`,
          `within ${HIT_RATE_POINTS} points`,
          verdict(hitRateMet(r))
        ]),
        summaryRow("Memory per flag key", flagKeys, (r) => [
          `${int(r.keys)} distinct unknown flag keys: ${Number.isNaN(r.heapAfterBytes) ? "heap not measured (no --expose-gc)" : `heap +${mib(flagKeysGrowth(r))}`}, ${int(r.series)} metric series, snapshot ${ms(r.snapshotMs)}`,
          "flat; bounded series",
          "—"
        ]),
        summaryRow("Live invalidation", invalidation, (r) => [
          `median ${ms(r.medianMs)}, p99 ${ms(r.p99Ms)} from \`COMMIT\` to the first evaluation that sees it`,
          "reported",
          "—"
        ])
      ]
    ),
    ""
  )

  const missed: Array<string> = []
  const timing = (outcome: Outcome<unknown>): string =>
    outcome._tag === "skipped" ? "" : `_${fixed(outcome.seconds, 1)} s; load average ${outcome.load}._`

  lines.push("## 1. Hot path", "")
  if (hotPath._tag === "done") {
    const r = hotPath.value
    lines.push(
      `\`FlagClient.isEnabled\` for a cached user, inside one Effect program, against the SDK's own \`variation\` on the`,
      "prebuilt context the cache holds for that user (same client, flag and rules), in a plain loop. Interleaved",
      `rounds (${r.rounds} × ${int(r.iterations)} evaluations per competitor, after a warm-up); the median round and the`,
      "best round per evaluation. The second group (Promise-style alternatives) runs on its own, after the first.",
      "",
      table(
        ["Competitor", "Median", "Best round", "vs SDK (median)"],
        [
          ...r.results.map((c) => [
            c.name,
            ns(c.median),
            ns(Math.min(...c.samples)),
            `${fixed(c.median / r.sdkVariation)}×`
          ]),
          ...r.alternatives.map((c) => [
            c.name,
            ns(c.median),
            ns(Math.min(...c.samples)),
            `${fixed(c.median / r.sdkVariationAlternatives)}×`
          ])
        ]
      ),
      "",
      `Ratio to the SDK: **${fixed(r.ratio)}×** (target ≤ ${HOT_PATH_TARGET}×: ${verdict(hotPathMet(r))}). ` +
        `\`FlagClient\` against the thinnest possible Effect over the public SDK: ${fixed(r.ratioToThinnest)}×. ` +
        `Every competitor answered \`true\`: ${r.agreed ? "yes" : "**no**"}.`,
      "",
      `PII named once: the SDK's \`await variation\` on the user's context in the 0.1 shape (\`custom_<key>\` attributes, ` +
        `\`_meta.privateAttributes\` on every context, parsed on every call) costs ${fixed(r.sdkVariationOldShape / r.sdkVariation)}× ` +
        "the one on today's context (metadata under `custom`, PII named once in the SDK's `privateAttributes` option).",
      "",
      `Tracing: inside a span with Effect's native tracer every evaluation adds a \`feature_flag.evaluation\` event to it, ` +
        `${fixed(r.flagClientInSpan / r.flagClient)}× the call outside any span; outside a span (or with tracing disabled) ` +
        "the check reads the fiber's cached tracer state and records nothing.",
      "",
      "Throughput with 64 concurrent callers over the cached user (interleaved, median per evaluation):",
      "",
      table(
        ["Competitor", "Median", "Best round"],
        r.concurrent.map((c) => [c.name, ns(c.median), ns(Math.min(...c.samples))])
      ),
      "",
      `Throughput relative to the SDK: **${fixed(r.throughputRatio)}×** (target ≥ ${THROUGHPUT_TARGET}×: ${verdict(r.throughputRatio >= THROUGHPUT_TARGET)}).`,
      ""
    )
    if (!hotPathMet(r)) {
      missed.push(
        `**Hot path (${fixed(r.ratio)}× > ${HOT_PATH_TARGET}×).** \`FlagClient\` costs ${fixed(r.ratioToThinnest)}× the thinnest Effect anyone can ` +
          `write over the public SDK (a \`withFiber\`, the cache read and the SDK's synchronous answer, waiting for the SDK every 64 ` +
          `answers as \`FlagClient\` does), which itself costs ${fixed(r.thinnestEffect / r.sdkVariation)}× the SDK here: that is the floor. ` +
          "The SDK has no synchronous evaluation: every call builds the promises of its async hook runner, and an Effect " +
          "caller pays, on top of the SDK's own work, a step of the run loop per evaluation and the settling of those " +
          "promises. The floor's ratio depends on how fast the SDK runs on the machine at the moment, since the overhead " +
          "is a fixed ≈ 200–300 ns: runs of this benchmark in this session measured 1.16–1.32× when the SDK took ≈ 0.9 µs " +
          "per call, and 1.41× when it took 0.56 µs."
      )
    }
    if (r.throughputRatio < THROUGHPUT_TARGET) {
      missed.push(
        `**Hot path, 64 fibers (${fixed(r.throughputRatio)}× < ${THROUGHPUT_TARGET}×).** The thinnest Effect over the public SDK, in 64 ` +
          `fibers the same way, reaches ${fixed(r.concurrentSdk / r.concurrentThinnest)}× the SDK's 64 async loops: that is the floor ` +
          `of this figure, and \`FlagClient\` is ${fixed(r.concurrentFlagClient / r.concurrentThinnest)}× it. Every SDK evaluation leaves ` +
          "a promise of its async hook runner to settle; 64 async loops settle one each between calls, while 64 fibers each " +
          "run until effect's scheduler makes them yield and leave theirs pending (`FlagClient` waits for the SDK every 64 " +
          "answers, which took the single-fiber figure under 1.3×, but in 64 fibers the backlog and the GC it brings remain)."
      )
    }
  } else lines.push(hotPath._tag === "failed" ? `Failed: ${hotPath.error}` : `Skipped: ${hotPath.reason}`, "")
  lines.push(timing(hotPath), "")

  lines.push("## 2. Stampede", "")
  if (stampede._tag === "done") {
    const r = stampede.value
    lines.push(
      `${int(r.concurrency)} concurrent evaluations for one user who is not cached yet, on a warm pool (${r.database} Postgres).`,
      "Statements are counted on the wire by a loopback proxy between the client and the server.",
      "",
      table(
        ["Statements sent", "of which user lookups", "Wall time", "Answers with the full context", "Target"],
        [
          [
            int(r.statements),
            int(r.lookups),
            ms(r.wallMs),
            `${int(r.fullContexts)} / ${int(r.concurrency)}`,
            `exactly ${STAMPEDE_TARGET} statement: ${verdict(r.statements === STAMPEDE_TARGET)}`
          ]
        ]
      ),
      ""
    )
    if (r.statements !== STAMPEDE_TARGET)
      missed.push(`**Stampede (${r.statements} statements).** Concurrent misses for one key were not shared.`)
  } else lines.push(stampede._tag === "failed" ? `Failed: ${stampede.error}` : `Skipped: ${stampede.reason}`, "")
  lines.push(timing(stampede), "")

  lines.push("## 3. Cold fan-out", "")
  if (fanOut._tag === "done") {
    const r = fanOut.value
    lines.push(
      `One evaluation for each of ${int(r.users)} users not cached yet, all at once (${r.database} Postgres), with the`,
      "library's repository (`UserRepo.layerPg`: concurrent lookups batched into `… WHERE id = ANY($1)`, at most 500",
      "ids each) against a repository that sends one query per user. A fresh cache and a warm pool for every run;",
      `${r.repetitions} alternating runs each, median wall time. The lookup timeout is ${fixed(r.lookupTimeoutMs / 1000, 0)} s for both,`,
      "so that every lookup completes and both do the same work (with the default 1 s, the per-user baseline",
      "times most of its lookups out on PGlite and answers them id-only).",
      "",
      table(
        ["Repository", "Statements", "Wall time (median)", "Answers with the full context"],
        [
          [
            "Batched (`UserRepo.layerPg`)",
            int(r.batched.statements),
            ms(r.batched.wallMs),
            `${int(r.batched.fullContexts)} / ${int(r.users)}`
          ],
          ...(r.perUser === undefined
            ? []
            : [
                [
                  "One query per user (baseline)",
                  int(r.perUser.statements),
                  ms(r.perUser.wallMs),
                  `${int(r.perUser.fullContexts)} / ${int(r.users)}`
                ]
              ])
        ]
      ),
      "",
      `Target ≤ ${FAN_OUT_TARGET} statements: ${verdict(r.batched.statements <= FAN_OUT_TARGET)}` +
        (r.perUser === undefined
          ? "."
          : `; ${fixed(r.perUser.wallMs / r.batched.wallMs, 1)}× faster than the baseline.`),
      ""
    )
    if (r.batched.statements > FAN_OUT_TARGET)
      missed.push(`**Cold fan-out (${r.batched.statements} statements).** Concurrent lookups were not batched.`)
  } else lines.push(fanOut._tag === "failed" ? `Failed: ${fanOut.error}` : `Skipped: ${fanOut.reason}`, "")
  lines.push(timing(fanOut), "")

  lines.push("## 4. Skewed load", "")
  if (skewed._tag === "done") {
    const r = skewed.value
    lines.push(
      `${int(r.evaluations)} evaluations over ${int(r.users)} users drawn from a Zipf distribution (s = ${r.s}, seeded),`,
      `cache capacity ${int(r.capacity)}, ${r.callers} concurrent callers, starting cold (${r.database} Postgres; seeding the`,
      `${int(r.users)} users in multi-row inserts of 500 took ${ms(r.seedMs)}, not counted).`,
      "",
      table(
        [
          "Evaluations/s",
          "p50",
          "p99 (warmed up / from cold)",
          "Statements / 10,000 evaluations",
          "Users loaded / 10,000",
          "Fallbacks",
          "Event-loop delay p99 / max",
          "Longest block, GC apart",
          "GC: longest pause / share"
        ],
        [
          [
            int(r.evaluationsPerSecond),
            `${fixed(r.p50Us, 1)} µs`,
            `${fixed(r.warmP99Us / 1000, 2)} ms / ${fixed(r.p99Us / 1000, 2)} ms`,
            fixed(r.statementsPer10k, 1),
            int(r.loadsPer10k),
            `${fixed(r.fallbackShare * 100, 2)}%`,
            `${ms(r.loopDelayP99Ms)} / ${ms(r.loopDelayMaxMs)}`,
            ms(r.longestBlockMs),
            `${ms(r.gcMaxMs)} / ${fixed(r.gcShare * 100, 1)}%`
          ]
        ]
      ),
      "",
      ...(r.runs.length > 1
        ? [
            `The run above is the median by p99 (warmed up) of ${r.runs.length}, each in a fresh process; all of them, in order: ` +
              `p99 warmed up ${spreadOf(
                r.runs,
                (x) => x.warmP99Us / 1000,
                (n) => `${fixed(n, 2)} ms`
              )}; ` +
              `from cold ${spreadOf(
                r.runs,
                (x) => x.p99Us / 1000,
                (n) => `${fixed(n, 2)} ms`
              )}; ` +
              `${spreadOf(r.runs, (x) => x.evaluationsPerSecond, int)} evaluations/s; ` +
              `GC ${spreadOf(
                r.runs,
                (x) => x.gcShare * 100,
                (n) => `${fixed(n, 1)}%`
              )} of the run.`,
            ""
          ]
        : []),
      `Hit rate ${fixed((1 - r.loadsPer10k / 10_000) * 100, 1)}%; a cache holding exactly the ${int(r.capacity)} most popular users would hit ` +
        `${fixed(r.topShare * 100, 1)}%. The p99 is a miss: a batched round trip to the database. "Warmed up" counts the`,
      "evaluations after the first tenth of the run (the cache filled, evicting under churn), the figure with the target;",
      '"from cold" counts them all, the cache\'s fill included. The client connects to the server directly; statements',
      "are counted by a `Statement.CurrentTransformer` provided to the callers.",
      "",
      "The event-loop figures of this run are not the batch's: 64 callers evaluate as fast as they can, and a caller runs",
      "its hits (three in four evaluations) without yielding until Effect's scheduler makes it (every 2,048 steps), all 64",
      "in one turn of the loop; the GC pauses are V8's young-generation scavenges. The block of processing a batch is",
      "measured alone in section 8b.",
      ""
    )
    if (!skewedMet(r))
      missed.push(
        `**Skewed load (${int(r.evaluationsPerSecond)}/s, p99 ${fixed(r.warmP99Us / 1000, 1)} ms warmed up, GC ${fixed(r.gcShare * 100, 0)}% of the run).** About a quarter ` +
          "of the evaluations miss, and a miss waits for a batched round trip; while one statement is out the other callers " +
          "miss too, so the run advances one batch cycle at a time (resume the batch's 64 callers a slice at a time, then " +
          "send the next statement) and a miss's latency is one or two cycles; what a cycle costs is the miss path of " +
          "section 8b, 64 times. The p99 moves with the machine's load and with V8's young generation, whose size V8 adapts " +
          "to the program: by hand on this machine, fresh processes gave a warmed-up p99 of 4.1–4.7 ms at 83,000–94,000 " +
          "evaluations/s when quieter, and runs with the young generation held small (`--max-semi-space-size=4`) spent " +
          "13–15% of the run in scavenges against 6–7% with the default."
      )
  } else lines.push(skewed._tag === "failed" ? `Failed: ${skewed.error}` : `Skipped: ${skewed.reason}`, "")
  lines.push(timing(skewed), "")

  lines.push("## 5. Hung database", "")
  if (hung._tag === "done") {
    const r = hung.value
    lines.push(
      "A loopback TCP listener that accepts connections and never answers stands in for Postgres. " +
        `${int(r.evaluations)} evaluations of distinct users by ${r.callers} concurrent callers (${int(r.evaluations / r.callers)} each, one after another), with the default lookup timeout (${ms(r.lookupTimeoutMs)}).`,
      "",
      table(
        ["p50", "p99", "Max", "Id-only answers", "Connections accepted", "Target"],
        [
          [
            ms(r.p50Ms),
            ms(r.p99Ms),
            ms(r.maxMs),
            `${int(r.idOnly)} / ${int(r.evaluations)}`,
            int(r.connections),
            `p99 ≤ ${int(hungBound(r))} ms and all id-only: ${verdict(hungMet(r))}`
          ]
        ]
      ),
      ""
    )
    if (!hungMet(r))
      missed.push(
        `**Hung database (p99 ${ms(r.p99Ms)}, ${r.idOnly}/${r.evaluations} id-only).** ` +
          "The evaluations waited past the lookup timeout; with the machine this loaded, timers fire late."
      )
  } else lines.push(hung._tag === "failed" ? `Failed: ${hung.error}` : `Skipped: ${hung.reason}`, "")
  lines.push(timing(hung), "")

  lines.push("## 6. Memory", "")
  if (memory._tag === "done") {
    const r = memory.value
    lines.push(
      `Distinct users evaluated one after another through a cache of capacity ${int(r.capacity)}, each run in a fresh`,
      "`node --expose-gc` process: the client is built and warmed up on 2,000 other users, its cache emptied, and the",
      "heap used after a forced GC is the reference; the figure is the heap used after the run and a forced GC, with",
      "the client still alive, minus the reference. The repository makes each user up from its id, so it holds",
      "nothing itself.",
      "",
      table(
        ["Run", "Users", "Retained", "Cache entries at the end", "Wall time"],
        [
          [
            "small",
            int(r.baseline.users),
            mib(r.baseline.retainedBytes),
            int(r.baseline.cacheSize),
            ms(r.baseline.wallMs)
          ],
          ["large", int(r.large.users), mib(r.large.retainedBytes), int(r.large.cacheSize), ms(r.large.wallMs)],
          [
            "small again",
            int(r.baselineAgain.users),
            mib(r.baselineAgain.retainedBytes),
            int(r.baselineAgain.cacheSize),
            ms(r.baselineAgain.wallMs)
          ]
        ]
      ),
      "",
      `Growth of the large run over the small ones: ${mib(r.growthBytes)} ` +
        `(${fixed(r.growthBytes / (r.large.users - r.baseline.users), 3)} bytes per extra user); ` +
        "noise (twice the gap between the small runs, at least 1 MiB): " +
        `${mib(r.noiseBytes)}. Target, no growth beyond noise: ${verdict(memoryMet(r))}.`,
      ""
    )
    if (!memoryMet(r))
      missed.push(`**Memory (+${mib(r.growthBytes)}).** Something outside the bounded cache keeps per-user state.`)
  } else lines.push(memory._tag === "failed" ? `Failed: ${memory.error}` : `Skipped: ${memory.reason}`, "")
  lines.push(timing(memory), "")

  lines.push("## 7. Live invalidation", "")
  if (invalidation._tag === "done") {
    const r = invalidation.value
    lines.push(
      "One application instance listening on the real Postgres (`UserChangeNotifier`): the time from the `COMMIT` of an",
      "update to a user until the first evaluation that reflects it (`bench/invalidation.ts`).",
      "",
      table(["Updates", "Median", "p99", "Max"], [[int(r.updates), ms(r.medianMs), ms(r.p99Ms), ms(r.maxMs)]]),
      ""
    )
  } else
    lines.push(invalidation._tag === "failed" ? `Failed: ${invalidation.error}` : `Skipped: ${invalidation.reason}`, "")
  lines.push(timing(invalidation), "")

  lines.push("## 8. Cold burst", "")
  if (burst._tag === "done") {
    const r = burst.value
    lines.push(
      `${int(r.users)} distinct users, none cached, all asked at once (\`bench/burst.ts\`) on the ${r.database} Postgres through`,
      `the recording proxy, over the client's default pool of 10 connections, lookup timeout ${ms(r.lookupTimeoutMs)}. A caller`,
      "waits for the shared lookup at most the lookup timeout from its own request, then answers id-only.",
      "",
      table(
        ["Full context", "Id-only", "Wrong", "p50", "p99", "Max", "Callers started over", "CPU per user", "Target"],
        [
          [
            int(r.full),
            int(r.idOnly),
            int(r.wrong),
            ms(r.p50Ms),
            ms(r.p99Ms),
            ms(r.maxMs),
            ms(r.startSpreadMs),
            `${fixed(r.cpuUsPerUser, 1)} µs`,
            `max ≤ ${int(r.lookupTimeoutMs + BURST_SLACK_MS)} ms: ${verdict(burstMet(r))}`
          ]
        ]
      ),
      "",
      `"Callers started over" is the time from the first caller's first step to the last one's: the benchmark forks all`,
      "callers at once, and Effect's scheduler drains its whole queue of ready fibers in one turn of the event loop, so",
      "database answers and timers wait while callers are being started. CPU per user is the process's CPU (user +",
      "system) over the burst divided by the users: the whole miss path (request, batch, decode, cache, context build) and the",
      `evaluation itself. The same burst over the in-memory repository: ${fixed(r.memoryCpuUsPerUser, 1)} µs per user (median of 3 rounds after a warm-up).`,
      ""
    )
    if (!burstMet(r))
      missed.push(
        `**Cold burst (max ${ms(r.maxMs)}).** Starting the callers took ${ms(r.startSpreadMs)}: the benchmark forks all of them at once, and ` +
          "Effect's scheduler drains its whole queue of ready fibers in one turn of the event loop, so database answers and " +
          "timers wait while callers are being started; the earliest callers' deadlines have passed by then, and their " +
          "id-only answers come when the loop is free again. The deadlines themselves are cheap now (one timer per " +
          "10 ms slice of deadlines, no fiber per caller or lookup, errors without a stack), as is the repository's per-id path " +
          `(no span, no timer; one deadline per batch statement). What remains is CPU: ${fixed(r.cpuUsPerUser, 1)} µs of process CPU per cold ` +
          `user with Postgres (the pg driver's parsing and the in-process recording proxy included), ${fixed(r.memoryCpuUsPerUser, 1)} µs with the ` +
          "in-memory repository, on a 2-core machine shared with other test runs: 10,000 users need more than the 1,100 ms " +
          "the target allows before any answer is read. A bare Effect `Cache` with a timeout, which does no batching, decoding or " +
          "evaluation, is the floor issue 10 quotes (337–475 ms on an idle machine)."
      )
  } else lines.push(burst._tag === "failed" ? `Failed: ${burst.error}` : `Skipped: ${burst.reason}`, "")
  lines.push(timing(burst), "")

  lines.push("## 8b. Miss path: CPU per user and event-loop block", "")
  if (missPath._tag === "done") {
    const r = missPath.value
    const range = (x: { readonly median: number; readonly min: number; readonly max: number }, digits = 1) =>
      `${fixed(x.median, digits)} (${fixed(x.min, digits)}–${fixed(x.max, digits)})`
    lines.push(
      `\`bench/missPath.ts\`, on the ${r.database} Postgres over a direct connection (no proxy in this process). ${int(r.users)} cold`,
      `users asked at once by as many fibers, ${r.rounds} rounds over fresh users after a warm-up round, each followed by a`,
      "warm round: the same callers again, their users cached. The main thread's busy time (event-loop utilization) per",
      "user: cold (the caller's fiber, the miss path and the evaluation), warm (the caller's fiber and a hit's evaluation)",
      "and their difference, round by round: the miss path itself (request, batch statement and the driver's parsing, row",
      "decode, context build, cache insert, resuming the caller), the figure with the target. Process CPU counts every",
      "thread (V8's GC helpers too). The floor: the same users read with the library's own statement (500 ids each) and",
      "each row decoded, built into a context and evaluated in plain loops, with no cache and no fiber or request per user.",
      "Median (lowest–highest round).",
      "",
      table(
        ["Repository", "Cold, µs per user", "Warm", "Miss path (cold − warm)", "Process CPU, cold", "Target"],
        [
          [
            "`UserRepo.layerPg`",
            range(r.busyUsPerUser),
            range(r.warmBusyUsPerUser),
            range(r.missBusyUsPerUser),
            range(r.cpuUsPerUser),
            `≤ ${MISS_CPU_TARGET_US} µs: ${verdict(r.missBusyUsPerUser.median <= MISS_CPU_TARGET_US)}`
          ],
          [
            "`UserRepo.layerMemory`",
            "",
            "",
            range(r.memoryMissBusyUsPerUser),
            "",
            `≤ ${MISS_CPU_TARGET_US} µs: ${verdict(r.memoryMissBusyUsPerUser.median <= MISS_CPU_TARGET_US)}`
          ],
          ...(r.tuned === undefined
            ? []
            : [
                [
                  `\`UserRepo.layerPg\`, \`node --max-semi-space-size=${SEMI_SPACE_MB}\``,
                  range(r.tuned.busyUsPerUser),
                  range(r.tuned.warmBusyUsPerUser),
                  range(r.tuned.missBusyUsPerUser),
                  range(r.tuned.cpuUsPerUser),
                  "(not the default: shows the scavenges' share)"
                ]
              ]),
          ["Floor: statement, decode, build, evaluation", range(r.floorBusyUsPerUser), "", "", "", "—"]
        ]
      ),
      "",
      `Event-loop block: ${int(r.batch)} cold users at once (one batch statement), ${r.blockRounds} rounds; the longest stretch a 1 ms`,
      "timer was kept waiting in each round, minus the GC pauses inside it, from the moment every caller has sent its",
      "request: the block of reading the batch and resuming its callers. The repository resumes a batch's callers a 1 ms",
      "slice at a time, a turn after the batch arrives, and yields to the event loop between slices (each resumed caller",
      "builds its context and evaluates in its slice); the next batch waits until the last slice, so slicing does not",
      "split batches. GC pauses are V8's scavenges, reported apart.",
      "",
      table(
        ["Longest block per round, GC apart", "Longest GC pause", "Wrong answers", "Target"],
        [
          [
            `${range(r.longestBlockMs, 2)} ms`,
            ms(r.gcMaxMs),
            int(r.wrong),
            `≤ ${BLOCK_TARGET_MS} ms: ${verdict(r.longestBlockMs.median <= BLOCK_TARGET_MS)}`
          ]
        ]
      ),
      ""
    )
    if (!missCpuMet(r))
      missed.push(
        `**Miss path CPU (${fixed(r.missBusyUsPerUser.median, 1)} µs per user loaded from Postgres, ${fixed(r.memoryMissBusyUsPerUser.median, 1)} µs from memory; target ≤ ${MISS_CPU_TARGET_US} µs).** ` +
          `The floor (statement, decode, build and evaluation with nothing around them) is ${fixed(r.floorBusyUsPerUser.median, 1)} µs, and the ` +
          "in-memory miss path is the library's own share without a round trip. What a round trip adds is mostly V8's " +
          "scavenges: 2,000 callers wait through it at once, each with its fiber, its continuation and its request " +
          "entry, so every scavenge in that window copies them, and the SDK allocates about 3 KB per evaluation, which " +
          "sets how often scavenges come" +
          (r.tuned === undefined
            ? "."
            : `; with a young generation of ${SEMI_SPACE_MB} MiB per semi-space (V8's default is 16) the same rounds cost ${fixed(r.tuned.missBusyUsPerUser.median, 1)} µs per user loaded.`) +
          " A lookup itself costs no fiber: a request entry in the repository's batch, one deadline, and the cache's entry " +
          "(effect's `Cache` forks one fiber per entry, even for a settled value)."
      )
    if (r.longestBlockMs.median > BLOCK_TARGET_MS)
      missed.push(
        `**Event-loop block (${ms(r.longestBlockMs.median)} per batch of ${int(r.batch)}).** The callers are resumed 1 ms at a time, ` +
          "a turn after the batch arrives; what remains in one block is the driver parsing a socket read of rows (in its " +
          "callback) and a slice, on a machine whose load stretches both (see the load average)."
      )
  } else lines.push(missPath._tag === "failed" ? `Failed: ${missPath.error}` : `Skipped: ${missPath.reason}`, "")
  lines.push(timing(missPath), "")

  lines.push("## 9. Hit rate on the skewed load", "")
  if (hitRate._tag === "done") {
    const r = hitRate.value
    lines.push(
      `${int(r.evaluations)} requests over ${int(r.users)} users drawn from Zipf (s = 1.1, seeded), capacity ${int(r.capacity)},`,
      `${r.callers} concurrent callers, the in-memory repository (\`bench/hitRate.ts\`): only admission and eviction decide.`,
      "The cache keeps a recently used entry over an unused one (second chance) and admits a newcomer only when it was",
      "asked for more often than the entry it would evict (TinyLFU: a count-min sketch, halved every 30 × capacity requests).",
      "",
      table(
        ["Hit rate", "Oracle (top users held)", "Gap", "Evictions", "Largest size", "Target"],
        [
          [
            `${fixed(r.hitRate * 100, 1)}%`,
            `${fixed(r.oracle * 100, 1)}%`,
            `${fixed((r.oracle - r.hitRate) * 100, 1)} points`,
            int(r.evictions),
            int(r.maxSize),
            `≤ ${HIT_RATE_POINTS} points: ${verdict(hitRateMet(r))}`
          ]
        ]
      ),
      "",
      "Before admission (second chance alone) the same run hit 66.4%. The oracle holds the top users from the first",
      "request; any real cache also pays the first request of each of them.",
      ""
    )
  } else lines.push(hitRate._tag === "failed" ? `Failed: ${hitRate.error}` : `Skipped: ${hitRate.reason}`, "")
  lines.push(timing(hitRate), "")

  lines.push("## 10. Memory per flag key", "")
  if (flagKeys._tag === "done") {
    const r = flagKeys.value
    lines.push(
      `${int(r.keys)} evaluations of distinct flag keys the SDK does not know, for a cached user (\`bench/flagKeys.ts\`).`,
      'Unknown keys share the series `flag="(unknown)"`; known keys past 1,000 share `flag="(other)"`.',
      "",
      table(
        ["Heap after GC, before", "After", "Growth", "Metric series", "Snapshot"],
        [[mib(r.heapBeforeBytes), mib(r.heapAfterBytes), mib(flagKeysGrowth(r)), int(r.series), ms(r.snapshotMs)]]
      ),
      "",
      "Before the bound: ≈ 98 MB kept and 200,001 series for 100,000 keys, a snapshot of 348 ms (issue 10).",
      ""
    )
  } else lines.push(flagKeys._tag === "failed" ? `Failed: ${flagKeys.error}` : `Skipped: ${flagKeys.reason}`, "")
  lines.push(timing(flagKeys), "")

  lines.push(
    "## The miss path, before and after the second round",
    "",
    "Measured by hand, not by this run: the benchmarks above built from commit `6bd12b5` (before) and from the branch",
    "`miss` (after), run alternately in fresh processes on the external Postgres (2026-12-02, 02:01–02:03 UTC, load",
    "average 3.6–4.4 on the 2 cores). Each cell lists every run, in order.",
    "",
    table(
      ["Measure", "Before", "After"],
      [
        [
          "Skewed load (100,000 evaluations, 20,000 users), evaluations/s",
          "13,284 · 11,937 · 16,640",
          "21,641 · 25,332 · 28,918"
        ],
        ["Skewed load, p99", "47.5 · 58.1 · 32.6 ms", "35.3 · 20.7 · 21.2 ms"],
        ["Skewed load, event-loop delay max", "118 · 114 · 49 ms", "69 · 58 · 43 ms"],
        [
          "3,000 cold users at once (30 s timeout, all full), process CPU per user",
          "922 · 774 · 798 µs",
          "467 · 641 · 507 µs"
        ],
        ["3,000 cold users at once, max", "2,065 · 1,824 · 1,773 ms", "1,096 · 1,562 · 1,232 ms"],
        ["10,000 cold users at once (1 s timeout), max", "3,165 · 3,438 ms", "1,491 · 1,781 ms"],
        ["10,000 cold users at once, process CPU per user", "563 · 592 µs", "222 · 222 µs"],
        ["10,000 cold users, in-memory repository, CPU per user", "34.7 · 58.1 · 75.7 µs", "41.2 · 46.9 · 52.5 µs"]
      ]
    ),
    "",
    "What changed: the repository's lookup has no span and no timer of its own (one deadline per batch statement, whose",
    "statement is not awaited once it runs out of time); the cache's deadlines share one timer per 10 ms slice instead of",
    "two fibers per caller and two per lookup; a lookup runs in one fiber of the cache's own and is handed to effect's",
    "`Cache` settled when it ends; timeout and not-found errors are made without a stack trace. The in-memory path was",
    "already free of timers, so it barely moves; its floor is the Effect runtime (a fiber per lookup, the caller's own",
    "steps), the context build (`buildContext`, ≈ 40 µs per user under the profiler in a 3,000-user burst) and the SDK's",
    "evaluation.",
    "",
    "The cold burst depends on the machine's load: in these hand runs (load average ≈ 4) the 10,000-user burst answered",
    "every caller id-only with a maximum of 1.5–1.8 s (3.2–3.4 s before); in the full run that wrote this file, started at",
    "a load average of 1.3, it loaded all 10,000 users within 994 ms. The bound holds when the process gets a core, not",
    "while other test runs share the two.",
    ""
  )

  lines.push("## Targets missed, or at their floor", "")
  if (missed.length === 0) lines.push("None.", "")
  else for (const sentence of missed) lines.push(`- ${sentence}`, "")
  return lines.join("\n")
}

const main = async (): Promise<void> => {
  const start = performance.now()
  const startLoad = load()
  const external = process.env["DATABASE_URL"]
  const databaseKind =
    external !== undefined && external !== ""
      ? "the Postgres server of `DATABASE_URL`"
      : "embedded PGlite (in this process, served on a loopback port); `DATABASE_URL` unset"
  console.log(`effect-flag-context benchmarks on ${databaseKind}; load average ${startLoad}`)

  const hotPath = await section("1. hot path", () =>
    measureHotPath(QUICK ? { iterations: 2_000, rounds: 8, warmup: 5_000, alternativesIterations: 500 } : {})
  )
  const stampede = await section("2. stampede", () => measureStampede())
  const fanOut = await section("3. cold fan-out", () => measureFanOut())
  const skewed = await section("4. skewed load", async (): Promise<SkewedRuns> => {
    const runs: Array<SkewedLoadResult> = []
    for (let i = 0; i < (QUICK ? 1 : SKEWED_RUNS); i++) {
      runs.push(
        await inFreshProcess<SkewedLoadResult>(
          skewedLoadModule,
          "measureSkewedLoad",
          QUICK ? { evaluations: 20_000, users: 10_000 } : {}
        )
      )
    }
    const byP99 = [...runs].sort((a, b) => a.warmP99Us - b.warmP99Us)
    const median = byP99[Math.floor(byP99.length / 2)] ?? byP99[0]
    if (median === undefined) throw new Error("no skewed-load run")
    return { ...median, runs }
  })
  const hung = await section("5. hung database", () =>
    measureHungDatabase({ lookupTimeout: contextCacheDefaults.lookupTimeout, ...(QUICK ? { rounds: 1 } : {}) })
  )
  const memory = await section("6. memory", () =>
    QUICK ? Promise.reject(new Error("skipped in quick mode")) : measureMemory()
  )
  const url = await invalidationUrl()
  const invalidation: Outcome<InvalidationBenchResult> =
    url === undefined
      ? { _tag: "skipped", reason: "needs a real Postgres: `DATABASE_URL` is unset and 127.0.0.1:5432 does not answer" }
      : await section("7. live invalidation", () => measureInvalidationLatency({ url, updates: QUICK ? 10 : 100 }))
  const burst = await section("8. cold burst", () => measureBurst(QUICK ? { users: 2_000 } : {}))
  const missPath = await section("8b. miss path", async () => {
    const options = QUICK ? { users: 500, rounds: 2, blockRounds: 3 } : {}
    const measured = await inFreshProcess<MissPathResult>(missPathModule, "measureMissPath", options)
    // The same in a process with a larger young generation, to show the scavenges' share.
    const tuned = await measureMissPathWithSemiSpace(SEMI_SPACE_MB, options).catch(() => undefined)
    return { ...measured, tuned }
  })
  const hitRate = await section("9. hit rate", () => measureHitRate(QUICK ? { evaluations: 50_000 } : {}))
  const flagKeys = await section("10. memory per flag key", () => measureFlagKeys(QUICK ? { keys: 10_000 } : {}))

  const openFeature = await section("11. OpenFeature provider", () => measureOpenFeature())
  const attacks = await section("12. attacks", () => measureAttacks({ quick: QUICK }))
  const embeddedStart = await section("13. embedded start-up", () =>
    measureEmbeddedStart(QUICK ? { runs: 2, empty: false } : {})
  )

  const totalSeconds = (performance.now() - start) / 1000
  const markdown = report(
    { hotPath, stampede, fanOut, skewed, hung, memory, invalidation, burst, missPath, hitRate, flagKeys },
    databaseKind,
    totalSeconds,
    startLoad
  )
  const target = fileURLToPath(
    new URL(QUICK ? "../../build/benchmarks-quick.md" : "../../docs/benchmarks.md", import.meta.url)
  )
  writeFileSync(target, openFeature._tag === "done" ? `${markdown}\n${openFeatureReport(openFeature.value)}` : markdown)
  appendFileSync(target, `\n${attacksReport(attacks)}\n${embeddedStartReport(embeddedStart)}`)
  console.log(`wrote ${target} in ${totalSeconds.toFixed(0)} s`)
}

await main()
