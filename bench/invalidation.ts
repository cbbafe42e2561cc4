/**
 * Live invalidation latency: the time from the `COMMIT` of an update to a user until the first
 * evaluation that reflects it, on one application instance listening on the real Postgres.
 *
 * Each round commits one change to the user's `segments` (alternately into and out of the segment a
 * flag targets) and polls `FlagClient.isEnabled` until it answers accordingly. The clock starts
 * when `COMMIT` is sent, so the commit's own round trip is included. Loopback only; bounded: a
 * round that does not see its change within `timeoutMs` fails the run.
 */
import { randomBytes } from "node:crypto"
import { PgClient } from "@effect/sql-pg"
import { Context, DateTime, Effect, Layer, Redacted } from "effect"
import * as Reactivity from "effect/reactivity/Reactivity"
import { SqlClient } from "effect/sql/SqlClient"
import { ContextBuilder } from "../src/ContextBuilder.js"
import { ContextCache } from "../src/ContextCache.js"
import { FlagClient, TestFlags } from "../src/FlagClient.js"
import { User, type UserId } from "../src/User.js"
import { UserChangeNotifier } from "../src/UserChangeNotifier.js"
import { UserRepo } from "../src/UserRepo.js"
import * as UserTable from "../src/UserTable.js"
import { median, quantile } from "./harness.js"

/** Options of {@link measureInvalidationLatency}. */
export interface InvalidationBenchOptions {
  /** A loopback Postgres. Default `DATABASE_URL`, else `postgres://postgres@127.0.0.1:5432/test`. */
  readonly url?: string | undefined
  /** How many updates to time. Default 100. */
  readonly updates?: number | undefined
  /** The most one update may take to be reflected before the run fails. Default 5000 ms. */
  readonly timeoutMs?: number | undefined
}

/** Milliseconds from `COMMIT` to the first evaluation that reflects the update. */
export interface InvalidationBenchResult {
  readonly updates: number
  readonly medianMs: number
  readonly p99Ms: number
  readonly maxMs: number
  /** One per update, in order. */
  readonly samplesMs: ReadonlyArray<number>
}

const loopbackHosts = new Set(["127.0.0.1", "localhost", "[::1]", "::1"])

const flag = "bench-beta"

/** Yields to the event loop (so that socket data is read) between two polls. */
const nextTick = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))

/**
 * Runs the benchmark in a schema of its own (dropped afterwards) and returns the figures.
 */
export const measureInvalidationLatency = async (
  options: InvalidationBenchOptions = {}
): Promise<InvalidationBenchResult> => {
  const url = options.url ?? (process.env["DATABASE_URL"] || "postgres://postgres@127.0.0.1:5432/test")
  if (!loopbackHosts.has(new URL(url).hostname)) throw new Error(`the invalidation bench runs on loopback only: ${url}`)
  const updates = Math.max(1, Math.floor(options.updates ?? 100))
  const timeoutMs = options.timeoutMs ?? 5000
  const schema = `efc_bench_${randomBytes(6).toString("hex")}`
  const table = `${schema}.User`
  const channel = schema
  const user = new User({
    id: "bench-user" as UserId,
    email: "bench@example.com",
    email_verified: true,
    name: null,
    created_at: DateTime.makeUnsafe(Date.UTC(2024, 0, 1)),
    updated_at: DateTime.makeUnsafe(Date.UTC(2024, 0, 1)),
    metadata: { segments: [] }
  })

  const run = Effect.gen(function* () {
    // One connection: BEGIN, UPDATE and COMMIT run on the same session.
    const writer = yield* PgClient.make({ url: Redacted.make(url), maxConnections: 1, applicationName: `${schema}_w` })
    yield* Effect.acquireRelease(writer.unsafe(`CREATE SCHEMA "${schema}"`), () =>
      Effect.ignore(writer.unsafe(`DROP SCHEMA "${schema}" CASCADE`))
    )
    const asWriter = Effect.provideService(SqlClient, writer)
    yield* asWriter(UserTable.migrate({ table }))
    yield* asWriter(UserChangeNotifier.migrate({ table, channel }))
    yield* asWriter(UserTable.insertUsers([user], { table }))

    const app = yield* Layer.build(
      Layer.mergeAll(FlagClient.layerTest, UserChangeNotifier.layerListen({ channel })).pipe(
        Layer.provideMerge(ContextCache.layer()),
        Layer.provideMerge(Layer.mergeAll(UserRepo.layerPg({ table }), ContextBuilder.layer())),
        Layer.provideMerge(PgClient.layer({ url: Redacted.make(url), applicationName: `${schema}_app` }))
      )
    )
    yield* Context.get(app, TestFlags).enableForSegments(flag, ["beta"])
    yield* Context.get(app, UserChangeNotifier).awaitListening.pipe(Effect.timeout("5 seconds"))
    const client = Context.get(app, FlagClient)
    const isEnabled = client.isEnabled(flag, user.id)
    if (yield* isEnabled) return yield* Effect.die(new Error("the bench user starts in the segment"))

    const quoted = writer.literal(`"${schema}"."User"`)
    const samples: Array<number> = []
    for (let i = 0; i < updates; i++) {
      const expected = i % 2 === 0
      yield* writer`BEGIN`
      yield* writer`UPDATE ${quoted} SET "metadata" = ${JSON.stringify({
        segments: expected ? ["beta"] : []
      })}::jsonb WHERE "id" = ${user.id}`
      const start = performance.now()
      yield* writer`COMMIT`
      let seen = false
      while (!seen && performance.now() - start < timeoutMs) {
        seen = (yield* isEnabled) === expected
        if (!seen) yield* nextTick
      }
      if (!seen) return yield* Effect.die(new Error(`update ${i} was not reflected within ${timeoutMs} ms`))
      samples.push(performance.now() - start)
    }
    return samples
  })

  const samplesMs = await Effect.runPromise(Effect.scoped(run).pipe(Effect.provide(Reactivity.layer)))
  const sorted = [...samplesMs].sort((a, b) => a - b)
  return {
    updates,
    medianMs: median(samplesMs),
    p99Ms: quantile(sorted, 0.99),
    maxMs: sorted[sorted.length - 1] ?? Number.NaN,
    samplesMs
  }
}
