/**
 * Memory: many distinct users through a cache of fixed capacity. What the process retains after a
 * forced GC, with the client still alive, must not grow with the number of users.
 *
 * Each run is a process of its own (this file, with `--expose-gc`): in one process, a client
 * released by an earlier run is collected at some later GC, which lands in the next run's figure.
 * In the child, the client is built and warmed up on other users, the cache is emptied, and the heap
 * after a forced GC is the reference; the figure is the heap after the run minus that. The
 * repository makes each user up from its id, so that it holds nothing itself.
 */
import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import { Context, Effect, Layer } from "effect"
import { ContextCache } from "../src/ContextCache.js"
import { FlagClient } from "../src/FlagClient.js"
import { UserNotFound, UserRepo, validateUserId } from "../src/UserRepo.js"
import { benchFlag, flagStack, flagsFile, makeUser, quietLogs, userId } from "./fixtures.js"
import { since } from "./harness.js"

/** Options of {@link measureMemory}. */
export interface MemoryOptions {
  /** The large run's distinct users. Default 1,000,000. */
  readonly users?: number | undefined
  /** The small run's distinct users, which fit in the cache. Default 1000. */
  readonly baselineUsers?: number | undefined
  /** The cache's capacity. Default 1000. */
  readonly capacity?: number | undefined
}

export interface MemoryRun {
  readonly users: number
  /** Heap used after a forced GC with the client alive, minus the same with its cache empty. */
  readonly retainedBytes: number
  /** Entries in the cache at the end. */
  readonly cacheSize: number
  readonly wallMs: number
}

export interface MemoryResult {
  readonly capacity: number
  /** The small run, the large run, the small run again (for the noise); each in a fresh process. */
  readonly baseline: MemoryRun
  readonly large: MemoryRun
  readonly baselineAgain: MemoryRun
  /** `large − mean(baselines)`. */
  readonly growthBytes: number
  /** What counts as noise: twice the gap between the two baselines, and at least 1 MiB. */
  readonly noiseBytes: number
}

const CHILD = "memory-run"
const WARMUP_USERS = 2000
const WARMUP_OFFSET = 100_000_000

const collect = (): number => {
  const gc = globalThis.gc
  if (gc === undefined) throw new Error("the memory benchmark needs node --expose-gc")
  for (let i = 0; i < 4; i++) gc()
  return process.memoryUsage().heapUsed
}

/** Makes user `user-<i>` up from its id; holds nothing. */
const syntheticRepo = Layer.succeed(
  UserRepo,
  UserRepo.of({
    getById: (id) =>
      Effect.flatMap(validateUserId(id), (valid) => {
        const i = Number(valid.slice("user-".length))
        return Number.isInteger(i) && valid === userId(i)
          ? Effect.succeed(makeUser(i))
          : Effect.fail(new UserNotFound({ userId: valid }))
      })
  })
)

/** One run, in the current process. */
const runHere = (users: number, capacity: number): Promise<MemoryRun> =>
  Effect.runPromise(
    quietLogs(
      Effect.scoped(
        Effect.gen(function* () {
          const path = yield* flagsFile
          const services = yield* Layer.build(flagStack(path, syntheticRepo, { capacity }))
          const client = Context.get(services, FlagClient)
          const cache = Context.get(services, ContextCache)
          // Warm-up on other users, so that compiled code and lazily built state are in the reference.
          for (let i = 0; i < WARMUP_USERS; i++) yield* client.isEnabled(benchFlag, userId(WARMUP_OFFSET + i))
          yield* cache.invalidateAll
          const before = collect()
          const start = performance.now()
          let on = 0
          for (let i = 0; i < users; i++) if (yield* client.isEnabled(benchFlag, userId(i))) on++
          const wallMs = since(start)
          if (on !== Math.ceil(users / 10))
            return yield* Effect.die(new Error(`expected every tenth user on, got ${on}`))
          const cacheSize = yield* cache.size
          const retainedBytes = collect() - before
          // Keeps the client reachable until after the measurement.
          if (client.sdk === undefined) return yield* Effect.die(new Error("unreachable"))
          return { users, retainedBytes, cacheSize, wallMs }
        })
      )
    )
  )

/** One run, in a fresh process. */
const runInChild = (users: number, capacity: number): Promise<MemoryRun> =>
  new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ["--expose-gc", fileURLToPath(import.meta.url), CHILD, String(users), String(capacity)],
      { timeout: 240_000, maxBuffer: 1 << 20 },
      (error, stdout, stderr) => {
        if (error !== null) return reject(new Error(`memory run failed: ${error.message}\n${stderr}`))
        const line = stdout.trim().split("\n").pop() ?? ""
        try {
          resolve(JSON.parse(line) as MemoryRun)
        } catch {
          reject(new Error(`memory run printed no result: ${stdout}\n${stderr}`))
        }
      }
    )
  })

export const measureMemory = async (options: MemoryOptions = {}): Promise<MemoryResult> => {
  const users = options.users ?? 1_000_000
  const baselineUsers = options.baselineUsers ?? 1000
  const capacity = options.capacity ?? 1000
  const baseline = await runInChild(baselineUsers, capacity)
  const large = await runInChild(users, capacity)
  const baselineAgain = await runInChild(baselineUsers, capacity)
  const growthBytes = large.retainedBytes - (baseline.retainedBytes + baselineAgain.retainedBytes) / 2
  const noiseBytes = Math.max(2 ** 20, 2 * Math.abs(baseline.retainedBytes - baselineAgain.retainedBytes))
  return { capacity, baseline, large, baselineAgain, growthBytes, noiseBytes }
}

if (process.argv[2] === CHILD) {
  const run = await runHere(Number(process.argv[3]), Number(process.argv[4]))
  process.stdout.write(`${JSON.stringify(run)}\n`)
  process.exit(0)
}
