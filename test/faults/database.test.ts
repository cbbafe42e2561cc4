/**
 * Fault suite: the database goes away in the middle of a stream of evaluations and comes back.
 *
 * The real stack: `FlagClient` (the SDK on `TestData`) over `ContextCache` over
 * `UserRepo.layerPg`, on the test database (the server of `DATABASE_URL`, else PGlite) reached
 * through its proxy, or on embedded Postgres whose socket server is stopped and started. A small
 * cache makes almost every evaluation a lookup. Every evaluation must answer, the id-only
 * fallback while the database is away, full contexts again once it is back, with no unhandled
 * rejection and no fiber left running.
 */
import { assert, describe, it, layer } from "@effect/vitest"
import { PgClient } from "@effect/sql-pg"
import { Effect, Exit, Fiber, Layer, Metric } from "effect"
import { ContextBuilder } from "../../src/ContextBuilder.js"
import { ContextCache, ContextCacheMetrics } from "../../src/ContextCache.js"
import { EmbeddedPostgres, layerEmbedded } from "../../src/embedded.js"
import { FlagClient, TestFlags } from "../../src/FlagClient.js"
import { UserRepo } from "../../src/UserRepo.js"
import * as UserTable from "../../src/UserTable.js"
import {
  type FiberCount,
  fiberCount,
  hungListener,
  type ProcessWatch,
  sleepLive,
  watchProcess
} from "../support/faults.js"
import { captureLogs, type LogLine, makeUser } from "../support/launchdarkly.js"
import { TestDatabase } from "../support/TestDatabase.js"

const NOW = Date.now()
const USERS = Array.from({ length: 40 }, (_, i) => makeUser(`user-${i}`, NOW, 100))
const FLAG = "db-flag"
const LOOKUP_TIMEOUT_MS = 500
/** A generous bound on one evaluation: the lookup timeout and then some; an answer later than this is no answer. */
const ANSWER_WITHIN_MS = 5_000
const CALLERS = 8

/** `FlagClient` on `TestData` (the flag is on for the segment every full context has) over the repository. */
const clientOver = <E, R>(repo: Layer.Layer<UserRepo, E, R>) =>
  Layer.effectDiscard(TestFlags.use((flags) => flags.enableForSegments(FLAG, ["user"]))).pipe(
    Layer.provideMerge(FlagClient.layerTest),
    // Nothing is kept (time-to-live 0), so every evaluation reaches the database: with a cache, the
    // users it keeps (popular ones, under TinyLFU admission) would rightly be served full while it is away.
    Layer.provideMerge(
      ContextCache.layer({ capacity: 4, timeToLive: 0, lookupTimeout: `${LOOKUP_TIMEOUT_MS} millis` })
    ),
    Layer.provideMerge(Layer.merge(repo, ContextBuilder.layer()))
  )

type Phase = "up" | "down" | "recovering" | "recovered"

interface Answered {
  readonly startedIn: Phase
  readonly endedIn: Phase
  readonly outcome: "full" | "id-only-fallback" | "other" | "no answer" | "failed"
  readonly detail: string
}

/**
 * `CALLERS` fibers evaluating `FLAG` for the users in turn until `stop`, each evaluation recorded
 * with the phase it started and ended in. Every loop is bounded (20,000 evaluations per caller).
 */
const evaluationStream = Effect.fnUntraced(function* (phase: { current: Phase; stop: boolean }) {
  const client = yield* FlagClient
  const answers: Array<Answered> = []
  const caller = (offset: number) =>
    Effect.gen(function* () {
      for (let i = 0; i < 20_000 && !phase.stop; i++) {
        const user = USERS[(offset + i * CALLERS) % USERS.length]
        if (user === undefined) continue
        const startedIn = phase.current
        const exit = yield* Effect.exit(
          client.evaluate(FLAG, user.id, false).pipe(Effect.timeoutOption(`${ANSWER_WITHIN_MS} millis`))
        )
        const endedIn = phase.current
        if (Exit.isFailure(exit)) {
          answers.push({ startedIn, endedIn, outcome: "failed", detail: String(exit.cause) })
        } else if (exit.value._tag === "None") {
          answers.push({ startedIn, endedIn, outcome: "no answer", detail: user.id })
        } else {
          const e = exit.value.value
          const outcome =
            e.context === "full" && e.fallback === null && e.value === true
              ? "full"
              : e.context === "id-only" && e.fallback === "UserRepoUnavailable" && e.value === false
                ? "id-only-fallback"
                : "other"
          answers.push({ startedIn, endedIn, outcome, detail: `${e.context}/${e.fallback}/${e.value}` })
        }
        // Let the clock move between evaluations of one caller: a stream, not a spin.
        if (i % 4 === 3) yield* sleepLive(1)
      }
    })
  const fibers = yield* Effect.forEach(
    Array.from({ length: CALLERS }, (_, i) => i),
    (i) => Effect.forkChild(caller(i))
  )
  return { answers, join: Effect.asVoid(Fiber.joinAll(fibers)) }
})

/** Waits (bounded) until an evaluation in the stream has a full context again; fails otherwise. */
const untilFull = (answers: ReadonlyArray<Answered>, from: number, withinMs: number) =>
  Effect.gen(function* () {
    const deadline = Date.now() + withinMs
    while (Date.now() < deadline) {
      if (answers.slice(from).some((a) => a.outcome === "full")) return
      yield* sleepLive(25)
    }
    return yield* Effect.fail(new Error(`no full context within ${withinMs} ms of the database coming back`))
  })

const summary = (answers: ReadonlyArray<Answered>) => {
  const counts = new Map<string, number>()
  for (const a of answers) {
    const key = `${a.startedIn}->${a.endedIn}:${a.outcome}`
    counts.set(key, (counts.get(key) ?? 0) + 1)
  }
  return JSON.stringify(Object.fromEntries(counts))
}

/**
 * The scenario, with `takeAway` / `bringBack` as the fault: a stream of evaluations, the database
 * taken away for `downMs`, brought back, and the stream kept up until full contexts are back.
 */
const outageScenario = <E1, E2, R>(options: {
  readonly takeAway: Effect.Effect<void, E1, R>
  readonly bringBack: Effect.Effect<void, E2, R>
  readonly downMs: number
  readonly watch: ProcessWatch
  readonly fibers: FiberCount
  readonly logs: ReadonlyArray<LogLine>
}) =>
  Effect.gen(function* () {
    const phase: { current: Phase; stop: boolean } = { current: "up", stop: false }
    const lookups = Metric.value(ContextCacheMetrics.lookups)
    const lookupsBefore = (yield* lookups).count

    const stream = yield* options.fibers.track(evaluationStream(phase))
    yield* sleepLive(400)
    phase.current = "down"
    yield* options.takeAway
    yield* sleepLive(options.downMs)
    phase.current = "recovering"
    yield* options.bringBack
    const from = stream.answers.length
    yield* untilFull(stream.answers, from, 10_000)
    phase.current = "recovered"
    yield* sleepLive(500)
    phase.stop = true
    yield* stream.join

    const answers = stream.answers
    const report = summary(answers)
    // Every evaluation answered, and none failed.
    assert.isTrue(
      answers.every((a) => a.outcome !== "failed" && a.outcome !== "no answer"),
      report
    )
    // Before the fault: full contexts.
    const up = answers.filter((a) => a.endedIn === "up")
    assert.isAbove(up.length, 10, report)
    assert.isTrue(
      up.every((a) => a.outcome === "full"),
      report
    )
    // While the database was away: the id-only fallback, and the value of the id-only context.
    const down = answers.filter((a) => a.startedIn === "down" && a.endedIn === "down")
    assert.isAbove(down.length, 10, report)
    assert.isTrue(
      down.every((a) => a.outcome === "id-only-fallback"),
      report
    )
    // Across the whole stream only the two expected outcomes occur.
    assert.isTrue(
      answers.every((a) => a.outcome === "full" || a.outcome === "id-only-fallback"),
      report
    )
    // After it came back, on the same layers: full contexts only.
    const recovered = answers.filter((a) => a.startedIn === "recovered")
    assert.isAbove(recovered.length, 10, report)
    assert.isTrue(
      recovered.every((a) => a.outcome === "full"),
      report
    )
    // Lookups really reached the repository throughout (the cache is small).
    assert.isAbove((yield* lookups).count - lookupsBefore, answers.length / 2, report)

    // No fiber left running: every fiber forked for the stream (callers, cache lookups, batches,
    // queries) has ended once the callers are done.
    assert.isAbove(options.fibers.started(), CALLERS)
    yield* assertNoFiberLeft(options.fibers, report)
    assert.deepStrictEqual(options.watch.problems(), [])
    assertQuietLogs(options.logs)
  })

/** Every fiber counted has ended (waiting up to 3 s for the last ones to finish). */
const assertNoFiberLeft = (fibers: FiberCount, report: string) =>
  Effect.gen(function* () {
    const deadline = Date.now() + 3_000
    while (fibers.running() > 0 && Date.now() < deadline) yield* sleepLive(20)
    assert.strictEqual(fibers.running(), 0, `fibers still running (of ${fibers.started()} started): ${report}`)
  })

/** An outage is logged, but not once per evaluation: at most one warning per user, and no errors. */
const assertQuietLogs = (logs: ReadonlyArray<LogLine>) => {
  const levels = JSON.stringify(logs.map((line) => `${line.level}: ${line.message}`).slice(0, 5))
  const fallbacks = logs.filter((line) => /id-only context/.test(line.message))
  assert.isAbove(fallbacks.length, 0, levels)
  assert.isAtMost(fallbacks.length, USERS.length, levels)
  assert.isTrue(
    logs.every((line) => line.level !== "Error" && line.level !== "Fatal"),
    levels
  )
}

// ---------------------------------------------------------------------------------------------
// The test database (the server of DATABASE_URL, else PGlite), taken away at its proxy
// ---------------------------------------------------------------------------------------------

const Seeded = Layer.effectDiscard(
  Effect.gen(function* () {
    yield* UserTable.migrate()
    yield* UserTable.insertUsers(USERS)
  })
).pipe(Layer.provideMerge(TestDatabase.layer))

const pgClient = clientOver(UserRepo.layerPg({ timeout: `${LOOKUP_TIMEOUT_MS} millis` }))

const withPg = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.provide(effect, pgClient)

layer(Seeded, { excludeTestServices: true, timeout: "60 seconds" })("faults - database (TestDatabase)", (it) => {
  it.effect(
    "connections cut and refused mid-stream - id-only fallbacks while away, full contexts after, nothing leaked",
    () =>
      Effect.gen(function* () {
        const db = yield* TestDatabase
        const watch = yield* watchProcess
        const logs = captureLogs()
        yield* withPg(
          outageScenario({
            takeAway: db.disconnect,
            bringBack: db.reconnect,
            downMs: 1_500,
            watch,
            fibers: fiberCount(),
            logs: logs.lines
          })
        ).pipe(Effect.provide(logs.layer), Effect.ensuring(db.reconnect))
      })
  )

  // PGlite has no backends to terminate: this one needs the real server.
  it.effect.skipIf(!process.env["DATABASE_URL"])(
    "server sessions terminated mid-stream (pg_terminate_backend) - every evaluation answers, full contexts after",
    () =>
      Effect.gen(function* () {
        const db = yield* TestDatabase
        const watch = yield* watchProcess
        const logs = captureLogs()
        const fibers = fiberCount()
        // Terminated again and again for a second, so that reconnected sessions are cut too.
        const terminate = Effect.gen(function* () {
          let ended = 0
          const deadline = Date.now() + 1_000
          for (let i = 0; i < 100 && Date.now() < deadline; i++) {
            ended += yield* Effect.orDie(db.terminateBackends)
            yield* sleepLive(50)
          }
          return ended
        })
        yield* withPg(
          Effect.gen(function* () {
            const phase: { current: Phase; stop: boolean } = { current: "up", stop: false }
            const stream = yield* fibers.track(evaluationStream(phase))
            yield* sleepLive(300)
            phase.current = "down"
            const ended = yield* terminate
            phase.current = "recovering"
            yield* untilFull(stream.answers, stream.answers.length, 10_000)
            phase.current = "recovered"
            yield* sleepLive(500)
            phase.stop = true
            yield* stream.join
            const report = `${ended} sessions ended; ${summary(stream.answers)}`
            assert.isAtLeast(ended, 1, report)
            assert.isTrue(
              stream.answers.every((a) => a.outcome === "full" || a.outcome === "id-only-fallback"),
              report
            )
            const recovered = stream.answers.filter((a) => a.startedIn === "recovered")
            assert.isAbove(recovered.length, 10, report)
            assert.isTrue(
              recovered.every((a) => a.outcome === "full"),
              report
            )
            yield* assertNoFiberLeft(fibers, report)
            assert.deepStrictEqual(watch.problems(), [])
          })
        ).pipe(Effect.provide(logs.layer))
      })
  )
})

// ---------------------------------------------------------------------------------------------
// Embedded Postgres, its socket server stopped and started
// ---------------------------------------------------------------------------------------------

const embedded = layerEmbedded({ users: USERS, timeout: `${LOOKUP_TIMEOUT_MS} millis` })

layer(embedded, { excludeTestServices: true, timeout: "60 seconds" })("faults - database (embedded)", (it) => {
  it.effect("socket server stopped and started mid-stream - id-only fallbacks while stopped, full contexts after", () =>
    Effect.gen(function* () {
      const postgres = yield* EmbeddedPostgres
      const repo = yield* UserRepo
      const watch = yield* watchProcess
      const logs = captureLogs()
      yield* outageScenario({
        takeAway: postgres.stop,
        bringBack: Effect.orDie(postgres.start),
        downMs: 1_500,
        watch,
        fibers: fiberCount(),
        logs: logs.lines
      }).pipe(
        Effect.provide(clientOver(Layer.succeed(UserRepo, repo))),
        Effect.provide(logs.layer),
        Effect.ensuring(Effect.ignore(postgres.start))
      )
    })
  )
})

// ---------------------------------------------------------------------------------------------
// A database that accepts connections and never answers
// ---------------------------------------------------------------------------------------------

describe("faults - database (hung)", () => {
  it.live(
    "a database that never answers - every evaluation answers the id-only fallback within the lookup timeout",
    () =>
      Effect.gen(function* () {
        const hung = yield* hungListener
        const watch = yield* watchProcess
        const logs = captureLogs()
        const fibers = fiberCount()
        const repo = UserRepo.layerPg({ timeout: `${LOOKUP_TIMEOUT_MS} millis` }).pipe(
          Layer.provide(
            PgClient.layer({
              host: hung.host,
              port: hung.port,
              username: "postgres",
              database: "postgres",
              connectTimeout: "10 seconds",
              maxConnections: 4
            })
          )
        )
        yield* Effect.gen(function* () {
          const client = yield* FlagClient
          const started = Date.now()
          const results = yield* fibers.track(
            Effect.forEach(
              USERS.slice(0, 16),
              (user) => client.evaluate(FLAG, user.id, false).pipe(Effect.timeoutOption(`${ANSWER_WITHIN_MS} millis`)),
              { concurrency: "unbounded" }
            )
          )
          const elapsed = Date.now() - started
          for (const result of results) {
            assert.isTrue(result._tag === "Some", "every evaluation answers")
            if (result._tag === "Some") {
              assert.deepStrictEqual(
                [result.value.value, result.value.fallback, result.value.context],
                [false, "UserRepoUnavailable", "id-only"]
              )
            }
          }
          // Generous: the lookup timeout bounds the wait, whatever the database does.
          assert.isBelow(elapsed, ANSWER_WITHIN_MS)
          assert.isAbove(hung.accepted(), 0, "the client really connected to the hung peer")
        }).pipe(Effect.provide(clientOver(repo)), Effect.provide(logs.layer))
        yield* assertNoFiberLeft(fibers, "after evaluations against a hung database")
        assert.deepStrictEqual(watch.problems(), [])
        assertQuietLogs(logs.lines)
      })
  )
})
