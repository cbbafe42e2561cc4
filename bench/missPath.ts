/**
 * The miss path: users that are not cached, loaded, built into contexts and evaluated.
 *
 * - CPU per user: `users` cold users asked at once, round after round over fresh users (the first
 *   round warms up), as main-thread busy time (event-loop utilization) and as process CPU (every
 *   thread: GC helpers included), per user; the median round. Over a direct connection to the
 *   database, so the tests' recording proxy is not measured with the library; and over the
 *   in-memory repository.
 * - Event-loop block: one full batch (500 cold users at once) per round; the longest block of
 *   work the event loop ran while the batch was loaded and its callers resumed, GC pauses apart.
 */
import { Context, Effect, Layer } from "effect"
import { FlagClient } from "../src/FlagClient.js"
import { UserRepo } from "../src/UserRepo.js"
import { directClient, openDatabase } from "./database.js"
import { benchFlag, flagStack, flagsFile, isBeta, makeUser, quietLogs, userId } from "./fixtures.js"
import { quantile, watchLoop } from "./harness.js"

/** Options of {@link measureMissPath}. */
export interface MissPathOptions {
  /** Cold users per round of the CPU measure. Default 2,000. */
  readonly users?: number | undefined
  /** Timed rounds (after one warm-up round). Default 5. */
  readonly rounds?: number | undefined
  /** Cold users per round of the block measure: one batch. Default 500. */
  readonly batch?: number | undefined
  /** Rounds of the block measure. Default 10. */
  readonly blockRounds?: number | undefined
}

/** A median and the spread (lowest, highest) of the timed rounds. */
export interface Spread {
  readonly median: number
  readonly min: number
  readonly max: number
}

export interface MissPathResult {
  readonly database: "external" | "embedded"
  readonly users: number
  readonly rounds: number
  /** Main-thread busy time per user (event-loop utilization), µs. */
  readonly busyUsPerUser: Spread
  /** Process CPU (user + system, every thread) per user, µs. */
  readonly cpuUsPerUser: Spread
  /** The same over the in-memory repository. */
  readonly memoryBusyUsPerUser: Spread
  readonly memoryCpuUsPerUser: Spread
  readonly batch: number
  readonly blockRounds: number
  /** The longest block of work while a batch was loaded and its callers resumed, GC apart (ms). */
  readonly longestBlockMs: Spread
  /** The longest GC pause in those rounds (ms). */
  readonly gcMaxMs: number
  /** Answers that were not the full context with the right value (target 0). */
  readonly wrong: number
}

const spread = (values: ReadonlyArray<number>): Spread => {
  const sorted = [...values].sort((a, b) => a - b)
  return { median: quantile(sorted, 0.5), min: sorted[0] ?? Number.NaN, max: sorted[sorted.length - 1] ?? Number.NaN }
}

/** `rounds + 1` rounds of `users` cold users at once, from `first` on; the first round untimed. */
const coldRounds = (client: FlagClient["Service"], first: number, users: number, rounds: number) =>
  Effect.gen(function* () {
    const busy: Array<number> = []
    const cpu: Array<number> = []
    const blocks: Array<number> = []
    let gcMaxMs = 0
    let wrong = 0
    for (let round = 0; round <= rounds; round++) {
      const ids = Array.from({ length: users }, (_, i) => first + round * users + i)
      const stopWatching = watchLoop()
      const elu = performance.eventLoopUtilization()
      const usage = process.cpuUsage()
      yield* Effect.forEach(
        ids,
        (i) =>
          Effect.map(client.evaluate(benchFlag, userId(i), false), (evaluation) => {
            if (evaluation.context !== "full" || evaluation.value !== isBeta(i)) wrong++
          }),
        { concurrency: "unbounded", discard: true }
      )
      const used = process.cpuUsage(usage)
      const loop = performance.eventLoopUtilization(elu)
      const watched = yield* Effect.promise(stopWatching)
      if (round === 0) continue
      busy.push((loop.active * 1000) / users)
      cpu.push((used.user + used.system) / users)
      blocks.push(watched.longestBlockMs)
      gcMaxMs = Math.max(gcMaxMs, watched.gcMaxMs)
    }
    return { busy: spread(busy), cpu: spread(cpu), blocks: spread(blocks), gcMaxMs, wrong }
  })

export const measureMissPath = async (options: MissPathOptions = {}): Promise<MissPathResult> => {
  const users = options.users ?? 2000
  const rounds = options.rounds ?? 5
  const batch = options.batch ?? 500
  const blockRounds = options.blockRounds ?? 10
  const cpuUsers = users * (rounds + 1)
  const population = cpuUsers + batch * (blockRounds + 1)
  const program = Effect.gen(function* () {
    const database = yield* openDatabase
    yield* database.seed(0, population)
    const path = yield* flagsFile
    const services = yield* Layer.build(
      flagStack(path, UserRepo.layerPg(), { capacity: population }).pipe(Layer.provide(directClient(database)))
    )
    const client = Context.get(services, FlagClient)
    const measured = yield* coldRounds(client, 0, users, rounds)
    const blocks = yield* coldRounds(client, cpuUsers, batch, blockRounds)

    const memory = Array.from({ length: cpuUsers }, (_, i) => makeUser(i))
    const memoryServices = yield* Layer.build(flagStack(path, UserRepo.layerMemory(memory), { capacity: cpuUsers }))
    const inMemory = yield* coldRounds(Context.get(memoryServices, FlagClient), 0, users, rounds)
    return {
      database: database.db.kind,
      users,
      rounds,
      busyUsPerUser: measured.busy,
      cpuUsPerUser: measured.cpu,
      memoryBusyUsPerUser: inMemory.busy,
      memoryCpuUsPerUser: inMemory.cpu,
      batch,
      blockRounds,
      longestBlockMs: blocks.blocks,
      gcMaxMs: blocks.gcMaxMs,
      wrong: measured.wrong + blocks.wrong + inMemory.wrong
    }
  })
  return Effect.runPromise(quietLogs(Effect.scoped(program)))
}
