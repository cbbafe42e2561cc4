/**
 * The measuring kit of the benchmarks: interleaved rounds after a warm-up, medians, percentiles,
 * and the Markdown report. Benchmarks are not tests: nothing here asserts a time.
 */
import { execFile } from "node:child_process"
import { cpus, totalmem } from "node:os"
import { PerformanceObserver } from "node:perf_hooks"

/** One competitor: runs `iterations` operations and returns when they are done. */
export interface Competitor {
  readonly name: string
  readonly run: (iterations: number) => Promise<void>
}

/** Nanoseconds per operation of each competitor, one sample per round. */
export interface InterleavedResult {
  readonly name: string
  readonly samples: ReadonlyArray<number>
  readonly median: number
}

/** The value at `q` (0..1) of sorted numbers, nearest rank. */
export const quantile = (sorted: ReadonlyArray<number>, q: number): number => {
  if (sorted.length === 0) return Number.NaN
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))
  return sorted[index] ?? Number.NaN
}

/** The median of unsorted numbers. */
export const median = (values: ReadonlyArray<number>): number =>
  quantile(
    [...values].sort((a, b) => a - b),
    0.5
  )

/**
 * Runs every competitor once per round, in a rotating order, after `warmup` operations each, and
 * reports the median time per operation over the rounds.
 */
export const interleaved = async (
  competitors: ReadonlyArray<Competitor>,
  options: { readonly warmup: number; readonly rounds: number; readonly iterations: number }
): Promise<ReadonlyArray<InterleavedResult>> => {
  for (const competitor of competitors) await competitor.run(options.warmup)
  const samples = competitors.map(() => [] as Array<number>)
  for (let round = 0; round < options.rounds; round++) {
    for (let k = 0; k < competitors.length; k++) {
      const index = (round + k) % competitors.length
      const competitor = competitors[index]
      if (competitor === undefined) continue
      const start = process.hrtime.bigint()
      await competitor.run(options.iterations)
      const elapsed = Number(process.hrtime.bigint() - start)
      samples[index]?.push(elapsed / options.iterations)
    }
  }
  return competitors.map((competitor, i) => ({
    name: competitor.name,
    samples: samples[i] ?? [],
    median: median(samples[i] ?? [])
  }))
}

/** Milliseconds since `start` (from `performance.now()`). */
export const since = (start: number): number => performance.now() - start

/** The machine and the day, for the report's header. */
export const machine = (): string => {
  const cpu = cpus()
  return [
    `- Date: ${new Date().toISOString()}`,
    `- Node: ${process.version} on ${process.platform}/${process.arch}`,
    `- CPU: ${cpu.length} × ${cpu[0]?.model ?? "unknown"}`,
    `- Memory: ${(totalmem() / 2 ** 30).toFixed(1)} GiB`
  ].join("\n")
}

/** A Markdown table. */
export const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string =>
  [
    `| ${header.join(" | ")} |`,
    `| ${header.map(() => "---").join(" | ")} |`,
    ...rows.map((row) => `| ${row.join(" | ")} |`)
  ].join("\n")

/** A number with a fixed count of decimals. */
export const fixed = (value: number, digits = 2): string => (Number.isFinite(value) ? value.toFixed(digits) : "n/a")

/** "met" or "missed" against a target. */
export const verdict = (met: boolean): string => (met ? "met" : "**missed**")

/** What {@link watchLoop} saw. */
export interface LoopWatch {
  /**
   * The longest stretch the event loop kept a 1 ms timer waiting, minus the GC pauses inside it and
   * the timer's own period: the longest block of JavaScript work, in ms.
   */
  readonly longestBlockMs: number
  /** The longest GC pause, in ms. */
  readonly gcMaxMs: number
  /** The share of the wall time spent in GC pauses. */
  readonly gcShare: number
}

/** Watches the event loop: gaps between the ticks of a 1 ms timer, and GC pauses, with their times. */
export const watchLoop = (): (() => Promise<LoopWatch>) => {
  const gaps: Array<{ readonly start: number; readonly end: number }> = []
  const pauses: Array<{ readonly start: number; readonly end: number }> = []
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries())
      pauses.push({ start: entry.startTime, end: entry.startTime + entry.duration })
  })
  observer.observe({ entryTypes: ["gc"] })
  let last = performance.now()
  const timer = setInterval(() => {
    const now = performance.now()
    if (now - last > 1.5) gaps.push({ start: last, end: now })
    last = now
  }, 1)
  const started = performance.now()
  return async (): Promise<LoopWatch> => {
    clearInterval(timer)
    const ended = performance.now()
    // GC entries are delivered after the fact.
    await new Promise((resolve) => setTimeout(resolve, 50))
    observer.disconnect()
    const inRun = pauses.filter((pause) => pause.start >= started && pause.start < ended)
    let longestBlockMs = 0
    for (const gap of gaps) {
      let gc = 0
      for (const pause of inRun) gc += Math.max(0, Math.min(gap.end, pause.end) - Math.max(gap.start, pause.start))
      // The timer's own period (1 ms) is not a block.
      longestBlockMs = Math.max(longestBlockMs, gap.end - gap.start - gc - 1)
    }
    const gcTotal = inRun.reduce((sum, pause) => sum + (pause.end - pause.start), 0)
    return {
      longestBlockMs,
      gcMaxMs: inRun.reduce((max, pause) => Math.max(max, pause.end - pause.start), 0),
      gcShare: gcTotal / (ended - started)
    }
  }
}

/**
 * Runs `exportName(options)` of the benchmark module `moduleUrl` in a fresh Node process (with
 * `--expose-gc` and `nodeArgs`) and returns its JSON result: a benchmark that measures latency or
 * GC is not measured on a heap, and a young generation, that the benchmarks before it shaped.
 */
export const inFreshProcess = <A>(
  moduleUrl: string,
  exportName: string,
  options: unknown,
  nodeArgs: ReadonlyArray<string> = []
): Promise<A> =>
  new Promise((resolve, reject) => {
    const script =
      `import(${JSON.stringify(moduleUrl)}).then(async (m) => ` +
      `process.stdout.write(JSON.stringify(await m[${JSON.stringify(exportName)}](${JSON.stringify(options)}))))`
    execFile(
      process.execPath,
      ["--expose-gc", ...nodeArgs, "--input-type=module", "-e", script],
      { env: process.env, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout) => {
        if (error !== null) reject(error)
        else resolve(JSON.parse(stdout) as A)
      }
    )
  })
