/**
 * Embedded start-up (issue 13): the time `layerEmbedded` takes to answer its first lookup, and the
 * peak memory of the process, from a copy of the machine's prepared template (the default) against
 * initializing an empty cluster (`template: false`).
 *
 * Each start is a fresh Node process (this file, as a child), so that its memory is its own. A first
 * start from the template, not reported, makes the template if the machine has none and warms the
 * disk cache; then the two kinds of start alternate.
 */
import { execFile } from "node:child_process"
import { existsSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { Effect } from "effect"
import { layerEmbedded } from "../src/embedded.js"
import { templateDir } from "../src/embedded/Template.js"
import { UserRepo } from "../src/UserRepo.js"
import { fixed, median, table } from "./harness.js"

/** Options of {@link measureEmbeddedStart}. */
export interface EmbeddedStartOptions {
  /** Starts of each kind. Default 3. */
  readonly runs?: number | undefined
  /** Also start from an empty cluster (slow: ≈ 20 s each). Default `true`. */
  readonly empty?: boolean | undefined
}

/** One start, in a fresh process. */
export interface EmbeddedStart {
  /** From the process's start (Node's own start and the imports included) to the first answered lookup. */
  readonly toLookupMs: number
  /** From building the layer (after the imports) to the first answered lookup. */
  readonly layerMs: number
  /** Peak resident memory of the process, in MiB. */
  readonly maxRssMiB: number
}

/** The starts of {@link measureEmbeddedStart}, from the template and from an empty cluster. */
export interface EmbeddedStartResult {
  /** Whether the machine had the template before the first start. */
  readonly templateExisted: boolean
  readonly template: ReadonlyArray<EmbeddedStart>
  /** Empty when not measured. */
  readonly empty: ReadonlyArray<EmbeddedStart>
}

const CHILD = "embedded-start-run"

/** One start in this process: build the layer, answer one lookup, release it. */
const startHere = async (template: boolean): Promise<EmbeddedStart> => {
  const started = performance.now()
  const answered = await Effect.runPromise(
    Effect.gen(function* () {
      const repo = yield* UserRepo
      yield* Effect.flip(repo.getById("nobody"))
      return performance.now()
    }).pipe(Effect.provide(layerEmbedded({ template })))
  )
  return {
    toLookupMs: answered,
    layerMs: answered - started,
    maxRssMiB: process.resourceUsage().maxRSS / 1024
  }
}

/** One start, in a fresh process. */
const startInChild = (template: boolean): Promise<EmbeddedStart> =>
  new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [fileURLToPath(import.meta.url), CHILD, String(template)],
      { timeout: 180_000, maxBuffer: 1 << 20 },
      (error, stdout, stderr) => {
        if (error !== null) return reject(new Error(`embedded start failed: ${error.message}\n${stderr}`))
        const line = stdout.trim().split("\n").pop() ?? ""
        try {
          resolve(JSON.parse(line) as EmbeddedStart)
        } catch {
          reject(new Error(`embedded start printed no result: ${stdout}\n${stderr}`))
        }
      }
    )
  })

/** Starts `layerEmbedded` in fresh processes, alternating the two kinds of start. */
export const measureEmbeddedStart = async (options: EmbeddedStartOptions = {}): Promise<EmbeddedStartResult> => {
  const runs = options.runs ?? 3
  const withEmpty = options.empty ?? true
  const templateExisted = existsSync(join(templateDir(), "PG_VERSION"))
  await startInChild(true)
  const template: Array<EmbeddedStart> = []
  const empty: Array<EmbeddedStart> = []
  for (let i = 0; i < runs; i++) {
    template.push(await startInChild(true))
    if (withEmpty) empty.push(await startInChild(false))
  }
  return { templateExisted, template, empty }
}

/** What `bench/run.ts` hands over: the measurement, its failure, or why it was skipped. */
export type EmbeddedStartOutcome =
  | { readonly _tag: "done"; readonly value: EmbeddedStartResult; readonly seconds: number; readonly load: string }
  | { readonly _tag: "failed"; readonly error: string; readonly seconds: number; readonly load: string }
  | { readonly _tag: "skipped"; readonly reason: string }

/** `median (min–max)` of one figure over the starts. */
const spread = (starts: ReadonlyArray<EmbeddedStart>, figure: (start: EmbeddedStart) => number, digits = 0) => {
  const values = starts.map(figure)
  return `${fixed(median(values), digits)} (${fixed(Math.min(...values), digits)}–${fixed(Math.max(...values), digits)})`
}

/** The Markdown section of the report. */
export const embeddedStartReport = (outcome: EmbeddedStartOutcome): string => {
  const lines: Array<string> = ["## 13. Embedded start-up (issue 13)", ""]
  if (outcome._tag !== "done") {
    lines.push(outcome._tag === "failed" ? `Failed: ${outcome.error}` : `Skipped: ${outcome.reason}`, "")
    return lines.join("\n")
  }
  const r = outcome.value
  const row = (name: string, starts: ReadonlyArray<EmbeddedStart>): ReadonlyArray<string> => [
    name,
    String(starts.length),
    spread(starts, (s) => s.toLookupMs),
    spread(starts, (s) => s.layerMs),
    spread(starts, (s) => s.maxRssMiB)
  ]
  const sum = (starts: ReadonlyArray<EmbeddedStart>, figure: (start: EmbeddedStart) => number) =>
    starts.reduce((total, start) => total + figure(start), 0)
  lines.push(
    "`layerEmbedded()` built in a fresh Node process, until its first lookup answers (`UserNotFound` for an",
    "unknown id), then released (`bench/embeddedStart.ts`): by default from a copy of this machine's prepared",
    "template, against `template: false` (an empty cluster initialized in memory, as every start did before).",
    "Median (min–max) over the starts, alternated; a first start from the template, not counted, " +
      (r.templateExisted
        ? "warmed the disk cache."
        : "made the template (the machine had none) and warmed the disk cache."),
    "",
    table(
      ["Start", "Runs", "Process start → first lookup (ms)", "Layer → first lookup (ms)", "Peak RSS (MiB)"],
      [
        row("from the template (default)", r.template),
        ...(r.empty.length === 0 ? [] : [row("empty cluster (`template: false`)", r.empty)])
      ]
    ),
    "",
    ...(r.empty.length === 0
      ? ["The empty-cluster starts are skipped in quick mode."]
      : [
          `From the template: ${fixed(sum(r.empty, (s) => s.toLookupMs) / sum(r.template, (s) => s.toLookupMs), 1)}× faster ` +
            `and ${fixed(sum(r.empty, (s) => s.maxRssMiB) / sum(r.template, (s) => s.maxRssMiB), 1)}× less memory (ratios of the means).`
        ]),
    "Issue 13 measured 6.4 s and 760 MB RSS for a start that initialized an empty cluster (every start did then).",
    "Absolute times on this shared 2-core machine follow its load; the side-by-side ratio is the figure.",
    "",
    `_${fixed(outcome.seconds, 1)} s; load average ${outcome.load}._`,
    ""
  )
  return lines.join("\n")
}

if (process.argv[2] === CHILD) {
  const run = await startHere(process.argv[3] !== "false")
  process.stdout.write(`${JSON.stringify(run)}\n`)
  process.exit(0)
} else if (import.meta.url === `file://${process.argv[1]}`) {
  const start = performance.now()
  const value = await measureEmbeddedStart({ empty: !process.argv.includes("--quick") })
  console.log(embeddedStartReport({ _tag: "done", value, seconds: (performance.now() - start) / 1000, load: "n/a" }))
}
