/**
 * Memory per flag key: 100,000 evaluations of distinct flag keys the SDK does not know (a caller
 * passing junk keys), for a cached user. The heap after a full GC is compared before and after,
 * and a metric snapshot is taken: its size and its time. Needs `--expose-gc` for the heap figures
 * (`npm run bench` passes it); without it they are reported as not measured.
 */
import { Context, Effect, Layer, Metric } from "effect"
import { FlagClient, FlagClientMetrics } from "../src/FlagClient.js"
import { UserRepo } from "../src/UserRepo.js"
import { flagStack, flagsFile, makeUser, quietLogs } from "./fixtures.js"
import { since } from "./harness.js"

/** Options of {@link measureFlagKeys}. */
export interface FlagKeysOptions {
  /** Distinct unknown flag keys evaluated. Default 100,000. */
  readonly keys?: number | undefined
}

export interface FlagKeysResult {
  readonly keys: number
  /** Heap used after a full GC, before and after the evaluations; `NaN` without `--expose-gc`. */
  readonly heapBeforeBytes: number
  readonly heapAfterBytes: number
  /** Series of `flag_evaluations` in a snapshot. */
  readonly series: number
  readonly snapshotMs: number
}

const gc = (globalThis as { gc?: () => void }).gc

const heapAfterGc = (): number => {
  if (gc === undefined) return Number.NaN
  gc()
  gc()
  return process.memoryUsage().heapUsed
}

export const measureFlagKeys = async (options: FlagKeysOptions = {}): Promise<FlagKeysResult> => {
  const keys = options.keys ?? 100_000
  const user = makeUser(10)
  const program = Effect.gen(function* () {
    const path = yield* flagsFile
    const services = yield* Layer.build(flagStack(path, UserRepo.layerMemory([user])))
    const client = Context.get(services, FlagClient)
    yield* client.isEnabled("warm-up", user.id)
    const heapBeforeBytes = heapAfterGc()
    for (let i = 0; i < keys; i++) yield* client.isEnabled(`no-such-flag-${i}`, user.id)
    const heapAfterBytes = heapAfterGc()
    const start = performance.now()
    const snapshot = yield* Metric.snapshot
    const snapshotMs = since(start)
    return {
      keys,
      heapBeforeBytes,
      heapAfterBytes,
      series: snapshot.filter((metric) => metric.id === FlagClientMetrics.evaluations.id).length,
      snapshotMs
    }
  }).pipe(Effect.provideService(Metric.MetricRegistry, new Map()))
  return Effect.runPromise(quietLogs(Effect.scoped(program)))
}
