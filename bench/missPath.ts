/**
 * The miss path's CPU: users that are not cached, loaded and evaluated, measured as main-thread
 * busy time (event-loop utilization) and process CPU per user, after a warm-up, over a direct
 * connection to the database (no recording proxy in this process).
 */
import { performance } from "node:perf_hooks"
import { PgClient } from "@effect/sql-pg"
import { Context, Effect, Layer, Redacted } from "effect"
import { FlagClient } from "../src/FlagClient.js"
import { UserRepo } from "../src/UserRepo.js"
import { openDatabase } from "./database.js"
import { benchFlag, flagStack, flagsFile, isBeta, makeUser, quietLogs, userId } from "./fixtures.js"
import { quantile } from "./harness.js"

export interface MissPathOptions {
  /** Cold users per round. Default 2,000. */
  readonly users?: number | undefined
  /** Timed rounds (after one warm-up round). Default 5. */
  readonly rounds?: number | undefined
  /** Concurrent callers; `"all"` asks every user of a round at once. Default `"all"`. */
  readonly callers?: number | "all" | undefined
  /** Also measure the in-memory repository. Default `true`. */
  readonly memory?: boolean | undefined
}

export interface MissPathResult {
  readonly database: "external" | "embedded"
  readonly users: number
  readonly rounds: number
  /** Main-thread busy time per user (event-loop utilization), µs: median round. */
  readonly busyUsPerUser: number
  /** Process CPU (user + system, every thread) per user, µs: median round. */
  readonly cpuUsPerUser: number
  /** The same over the in-memory repository. */
  readonly memoryBusyUsPerUser: number
  readonly memoryCpuUsPerUser: number
  readonly wrong: number
}

const measureRounds = (
  client: FlagClient["Service"],
  users: number,
  rounds: number,
  callers: number | "all"
) =>
  Effect.gen(function* () {
    const busy: Array<number> = []
    const cpu: Array<number> = []
    let wrong = 0
    for (let round = 0; round <= rounds; round++) {
      const ids = Array.from({ length: users }, (_, i) => round * users + i)
      const one = (i: number) =>
        Effect.map(client.evaluate(benchFlag, userId(i), false), (evaluation) => {
          if (evaluation.context !== "full" || evaluation.value !== isBeta(i)) wrong++
        })
      const elu = performance.eventLoopUtilization()
      const usage = process.cpuUsage()
      if (callers === "all") yield* Effect.forEach(ids, one, { concurrency: "unbounded", discard: true })
      else {
        let next = 0
        const caller = Effect.gen(function* () {
          for (let k = next++; k < ids.length; k = next++) yield* one(ids[k] ?? 0)
        })
        yield* Effect.forEach(Array.from({ length: callers }), () => caller, { concurrency: "unbounded", discard: true })
      }
      const used = process.cpuUsage(usage)
      const loop = performance.eventLoopUtilization(elu)
      if (round === 0) continue
      busy.push((loop.active * 1000) / users)
      cpu.push((used.user + used.system) / users)
    }
    return {
      busy: quantile(busy.sort((a, b) => a - b), 0.5),
      cpu: quantile(cpu.sort((a, b) => a - b), 0.5),
      wrong
    }
  })

export const measureMissPath = async (options: MissPathOptions = {}): Promise<MissPathResult> => {
  const users = options.users ?? 2000
  const rounds = options.rounds ?? 5
  const callers = options.callers ?? "all"
  const population = users * (rounds + 1)
  const program = Effect.gen(function* () {
    const database = yield* openDatabase
    yield* database.seed(0, population)
    const path = yield* flagsFile
    const direct =
      database.db.kind === "external"
        ? PgClient.layer({
            url: Redacted.make(process.env["DATABASE_URL"] ?? ""),
            startupParameters: { search_path: `"${database.db.schema}"` }
          })
        : Layer.succeedContext(database.services)
    const services = yield* Layer.build(
      flagStack(path, UserRepo.layerPg(), { capacity: population }).pipe(Layer.provide(direct))
    )
    const g = globalThis as unknown as { __profStart?: () => Promise<void>; __profStop?: () => Promise<void> }
    if (g.__profStart) yield* Effect.promise(g.__profStart)
    const measured = yield* measureRounds(Context.get(services, FlagClient), users, rounds, callers)
    if (g.__profStop) yield* Effect.promise(g.__profStop)
    if (options.memory === false)
      return { database: database.db.kind, users, rounds, busyUsPerUser: measured.busy, cpuUsPerUser: measured.cpu, memoryBusyUsPerUser: Number.NaN, memoryCpuUsPerUser: Number.NaN, wrong: measured.wrong }
    const memory = Array.from({ length: population }, (_, i) => makeUser(i))
    const memoryServices = yield* Layer.build(flagStack(path, UserRepo.layerMemory(memory), { capacity: population }))
    const inMemory = yield* measureRounds(Context.get(memoryServices, FlagClient), users, rounds, callers)
    return {
      database: database.db.kind,
      users,
      rounds,
      busyUsPerUser: measured.busy,
      cpuUsPerUser: measured.cpu,
      memoryBusyUsPerUser: inMemory.busy,
      memoryCpuUsPerUser: inMemory.cpu,
      wrong: measured.wrong + inMemory.wrong
    }
  })
  return Effect.runPromise(quietLogs(Effect.scoped(program)))
}
