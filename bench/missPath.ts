/**
 * The miss path: users that are not cached, loaded, built into contexts and evaluated.
 *
 * - CPU per user: `users` cold users asked at once, round after round over fresh users (the first
 *   round warms up), as main-thread busy time (event-loop utilization) and as process CPU (every
 *   thread: GC helpers included), per user; the median round. Over a direct connection to the
 *   database, so the tests' recording proxy is not measured with the library; and over the
 *   in-memory repository.
 * - Event-loop block: one full batch (500 cold users at once) per round; the longest block of
 *   work the event loop ran while the batch was loaded and its callers resumed, GC pauses apart
 *   (the callers are started, each up to its request, before the watch begins).
 */
import { Context, Effect, Fiber, Layer } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { ContextBuilder } from "../src/ContextBuilder.js"
import { FlagClient } from "../src/FlagClient.js"
import { variationDetailNow } from "../src/internal/flagSdk.js"
import { defaultMetadataLimits } from "../src/internal/pgUserTable.js"
import { decodeUserRow } from "../src/internal/userDecoder.js"
import { UserRepo } from "../src/UserRepo.js"
import { directClient, openDatabase, statementCounter } from "./database.js"
import { benchFlag, flagStack, flagsFile, isBeta, makeUser, quietLogs, userId } from "./fixtures.js"
import { inFreshProcess, quantile, watchLoop } from "./harness.js"

/** Options of {@link measureMissPath}. */
export interface MissPathOptions {
  /** Cold users per round of the CPU measure. Default 2,000. */
  readonly users?: number | undefined
  /** Timed rounds (after one warm-up round). Default 8. */
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
  /** Main-thread busy time per cold user (event-loop utilization), µs: caller, miss path, evaluation. */
  readonly busyUsPerUser: Spread
  /** The same callers once their users are cached: the caller and a hit's evaluation, µs per user. */
  readonly warmBusyUsPerUser: Spread
  /** Cold minus warm, round by round: the miss path itself, µs of main thread per user loaded. */
  readonly missBusyUsPerUser: Spread
  /** Process CPU (user + system, every thread) per cold user, µs. */
  readonly cpuUsPerUser: Spread
  /** The miss path over the in-memory repository, µs of main thread per user loaded. */
  readonly memoryMissBusyUsPerUser: Spread
  readonly batch: number
  readonly blockRounds: number
  /** The longest block of work while a batch was loaded and its callers resumed, GC apart (ms). */
  readonly longestBlockMs: Spread
  /** The longest GC pause in those rounds (ms). */
  readonly gcMaxMs: number
  /**
   * The floor: the same users read by the library's own statement (500 ids each), each row decoded,
   * built into a context and evaluated by the SDK, in plain loops: no cache, no fiber or request per
   * user. Main-thread µs per user.
   */
  readonly floorBusyUsPerUser: Spread
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
    const warmBusy: Array<number> = []
    const missBusy: Array<number> = []
    const blocks: Array<number> = []
    let gcMaxMs = 0
    let wrong = 0
    for (let round = 0; round <= rounds; round++) {
      const ids = Array.from({ length: users }, (_, i) => first + round * users + i)
      const one = (i: number) =>
        Effect.map(client.evaluate(benchFlag, userId(i), false), (evaluation) => {
          if (evaluation.context !== "full" || evaluation.value !== isBeta(i)) wrong++
        })
      const elu = performance.eventLoopUtilization()
      const usage = process.cpuUsage()
      // Every caller runs up to its request before the watch starts: what the watch sees is the
      // batch being read and its callers resumed (and GC), not the benchmark starting its callers.
      const start = Effect.forEach(ids, (i) => Effect.forkChild(one(i), { startImmediately: true }))
      const running = yield* start
      const stopWatching = watchLoop()
      yield* Fiber.joinAll(running)
      const used = process.cpuUsage(usage)
      const loop = performance.eventLoopUtilization(elu)
      const watched = yield* Effect.promise(stopWatching)
      // The same callers again, every user cached now: what a caller costs without the miss path.
      const warmElu = performance.eventLoopUtilization()
      yield* Fiber.joinAll(yield* start)
      const warmLoop = performance.eventLoopUtilization(warmElu)
      if (round === 0) continue
      busy.push((loop.active * 1000) / users)
      cpu.push((used.user + used.system) / users)
      warmBusy.push((warmLoop.active * 1000) / users)
      missBusy.push(((loop.active - warmLoop.active) * 1000) / users)
      blocks.push(watched.longestBlockMs)
      gcMaxMs = Math.max(gcMaxMs, watched.gcMaxMs)
    }
    return {
      busy: spread(busy),
      cpu: spread(cpu),
      warmBusy: spread(warmBusy),
      missBusy: spread(missBusy),
      blocks: spread(blocks),
      gcMaxMs,
      wrong
    }
  })

/**
 * The floor of the miss path on this driver: the library's lookup statement (captured from a first
 * lookup), 500 ids at a time, and per row the decode, the context build and the SDK's evaluation.
 */
const floorRounds = (
  services: Context.Context<FlagClient | ContextBuilder | SqlClient>,
  users: number,
  rounds: number,
  spare: number
) =>
  Effect.gen(function* () {
    const client = Context.get(services, FlagClient)
    const builder = Context.get(services, ContextBuilder)
    const sql = Context.get(services, SqlClient)
    // A user the cache has not seen, looked up by the library: its statement is the floor's.
    const counter = statementCounter()
    yield* counter.counting(client.evaluate(benchFlag, userId(spare), false))
    const text = counter.lookupSql
    if (text === undefined) return yield* Effect.die(new Error("no lookup statement seen"))
    const busy: Array<number> = []
    let wrong = 0
    for (let round = 0; round <= rounds; round++) {
      const chunks: Array<Array<string>> = []
      for (let start = 0; start < users; start += 500)
        chunks.push(Array.from({ length: Math.min(500, users - start) }, (_, k) => userId(round * users + start + k)))
      const elu = performance.eventLoopUtilization()
      yield* Effect.forEach(
        chunks,
        (ids) =>
          Effect.map(sql.unsafe<Record<string, unknown>>(text, [ids]), (rows) => {
            const now = Date.now()
            for (const row of rows) {
              const decoded = decodeUserRow(row, defaultMetadataLimits)
              if (!("user" in decoded)) {
                wrong++
                continue
              }
              const answer = variationDetailNow(client.sdk, benchFlag, builder.build(decoded.user, now), false)
              if (answer instanceof Promise || !("value" in answer)) wrong++
            }
          }),
        { concurrency: "unbounded", discard: true }
      )
      const loop = performance.eventLoopUtilization(elu)
      if (round > 0) busy.push((loop.active * 1000) / users)
    }
    return { busy: spread(busy), wrong }
  })

export const measureMissPath = async (options: MissPathOptions = {}): Promise<MissPathResult> => {
  const users = options.users ?? 2000
  const rounds = options.rounds ?? 8
  const batch = options.batch ?? 500
  const blockRounds = options.blockRounds ?? 10
  const cpuUsers = users * (rounds + 1)
  // Users for the CPU rounds, the block rounds, and one more, cold until the floor
  // captures the lookup statement with it.
  const population = cpuUsers + batch * (blockRounds + 1) + 1
  const program = Effect.gen(function* () {
    const database = yield* openDatabase
    yield* database.seed(0, population)
    const path = yield* flagsFile
    const direct = yield* Layer.build(directClient(database))
    const services = yield* Layer.build(
      flagStack(path, UserRepo.layerPg(), { capacity: population }).pipe(Layer.provide(Layer.succeedContext(direct)))
    )
    const client = Context.get(services, FlagClient)
    const measured = yield* coldRounds(client, 0, users, rounds)
    const blocks = yield* coldRounds(client, cpuUsers, batch, blockRounds)
    const floor = yield* floorRounds(Context.merge(services, direct), users, rounds, population - 1)

    const memory = Array.from({ length: cpuUsers }, (_, i) => makeUser(i))
    const memoryServices = yield* Layer.build(flagStack(path, UserRepo.layerMemory(memory), { capacity: cpuUsers }))
    const inMemory = yield* coldRounds(Context.get(memoryServices, FlagClient), 0, users, rounds)
    return {
      database: database.db.kind,
      users,
      rounds,
      busyUsPerUser: measured.busy,
      warmBusyUsPerUser: measured.warmBusy,
      missBusyUsPerUser: measured.missBusy,
      cpuUsPerUser: measured.cpu,
      memoryMissBusyUsPerUser: inMemory.missBusy,
      batch,
      blockRounds,
      longestBlockMs: blocks.blocks,
      gcMaxMs: blocks.gcMaxMs,
      floorBusyUsPerUser: floor.busy,
      wrong: measured.wrong + blocks.wrong + inMemory.wrong + floor.wrong
    }
  })
  return Effect.runPromise(quietLogs(Effect.scoped(program)))
}

/**
 * {@link measureMissPath} in a fresh process whose V8 young generation is `semiSpaceMb` MiB per
 * semi-space (`--max-semi-space-size`; V8's default on 64-bit is 16): how much of the miss path is
 * the garbage collector's scavenges.
 */
export const measureMissPathWithSemiSpace = (
  semiSpaceMb: number,
  options: MissPathOptions = {}
): Promise<MissPathResult> =>
  inFreshProcess(import.meta.url, "measureMissPath", options, [`--max-semi-space-size=${semiSpaceMb}`])
