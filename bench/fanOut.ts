/**
 * The cold fan-out: one concurrent evaluation for each of many users, none cached. The Postgres
 * repository batches concurrent lookups into `SELECT … WHERE id = ANY($1)` (at most 500 ids each);
 * the baseline is the same stack over a repository that sends one query per user, as a naive
 * repository would.
 *
 * Each competitor gets a fresh cache on the same database and a warm pool; the two alternate for
 * `repetitions` runs and the wall times are medians. The lookup timeout is raised (30 seconds by
 * default) for both, so that every lookup completes and both do the same work: with the default
 * second, the one-query-per-user baseline times most of its lookups out on PGlite.
 */
import { Context, Duration, Effect, Layer, Schema } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { FlagClient } from "../src/FlagClient.js"
import { UserFromRow } from "../src/User.js"
import { UserNotFound, UserRepo, UserRepoError, validateUserId } from "../src/UserRepo.js"
import { openDatabase } from "./database.js"
import { benchFlag, flagStack, flagsFile, quietLogs, userId } from "./fixtures.js"
import { median, since } from "./harness.js"

/** Options of {@link measureFanOut}. */
export interface FanOutOptions {
  /** Cold users, one evaluation each, all at once. Default 1000. */
  readonly users?: number | undefined
  /** Runs of each competitor. Default 3. */
  readonly repetitions?: number | undefined
  /** The cache's lookup timeout, for both competitors. Default 30 seconds. */
  readonly lookupTimeout?: Duration.Input | undefined
  /** Run the one-query-per-user baseline too. Default `true`. */
  readonly baseline?: boolean | undefined
}

export interface FanOutRun {
  /** Every statement the client sent (target for the batched repository: at most 10). */
  readonly statements: number
  readonly lookups: number
  /** Median wall time of the runs. */
  readonly wallMs: number
  /** Evaluations answered with the user's full context. */
  readonly fullContexts: number
}

export interface FanOutResult {
  readonly database: "external" | "embedded"
  readonly users: number
  readonly repetitions: number
  readonly lookupTimeoutMs: number
  readonly batched: FanOutRun
  /** `undefined` when the baseline was not run. */
  readonly perUser: FanOutRun | undefined
}

const decodeRow = Schema.decodeUnknownEffect(UserFromRow)

/** The baseline repository: one `SELECT … WHERE "id" = $1` per lookup. */
const layerPerUser = Layer.effect(
  UserRepo,
  Effect.gen(function* () {
    const sql = (yield* SqlClient).withoutTransforms()
    return UserRepo.of({
      getById: (id) =>
        Effect.gen(function* () {
          const userId = yield* validateUserId(id)
          const rows = yield* sql`SELECT "id", "email", "emailVerified", "name", "createdAt", "updatedAt", "metadata"
FROM "User" WHERE "id" = ${userId}`.pipe(
            Effect.mapError((cause) => new UserRepoError({ userId, reason: "Unavailable", cause }))
          )
          if (rows[0] === undefined) return yield* new UserNotFound({ userId })
          return yield* Effect.mapError(
            decodeRow(rows[0]),
            (cause) => new UserRepoError({ userId, reason: "Decode", cause })
          )
        })
    })
  })
)

export const measureFanOut = async (options: FanOutOptions = {}): Promise<FanOutResult> => {
  const users = options.users ?? 1000
  const repetitions = options.repetitions ?? 3
  const lookupTimeout = Duration.fromInputUnsafe(options.lookupTimeout ?? "30 seconds")
  const warmUser = userId(users)

  const program = Effect.gen(function* () {
    const database = yield* openDatabase
    yield* database.seed(0, users + 1)
    const path = yield* flagsFile

    // One run: a fresh stack, the pool warmed by one evaluation, then every user at once.
    const runOnce = (repo: Layer.Layer<UserRepo, unknown, SqlClient>) =>
      Effect.scoped(
        Effect.gen(function* () {
          const services = yield* Layer.build(flagStack(path, repo, { lookupTimeout })).pipe(
            Effect.provideContext(database.services)
          )
          const client = Context.get(services, FlagClient)
          yield* client.isEnabled(benchFlag, warmUser)
          yield* database.reset
          const start = performance.now()
          const evaluations = yield* Effect.forEach(
            Array.from({ length: users }, (_, i) => userId(i)),
            (id) => client.evaluate(benchFlag, id, false),
            { concurrency: "unbounded" }
          )
          const wallMs = since(start)
          const count = yield* database.count
          return {
            statements: count.statements,
            lookups: count.lookups,
            wallMs,
            fullContexts: evaluations.filter((evaluation) => evaluation.context === "full").length
          }
        })
      )

    const batchedRuns: Array<FanOutRun> = []
    const perUserRuns: Array<FanOutRun> = []
    for (let i = 0; i < repetitions; i++) {
      batchedRuns.push(yield* runOnce(UserRepo.layerPg({ timeout: lookupTimeout })))
      if (options.baseline !== false) perUserRuns.push(yield* runOnce(layerPerUser))
    }
    const summarize = (runs: ReadonlyArray<FanOutRun>): FanOutRun => ({
      statements: Math.max(...runs.map((run) => run.statements)),
      lookups: Math.max(...runs.map((run) => run.lookups)),
      wallMs: median(runs.map((run) => run.wallMs)),
      fullContexts: Math.min(...runs.map((run) => run.fullContexts))
    })
    return {
      database: database.db.kind,
      users,
      repetitions,
      lookupTimeoutMs: Duration.toMillis(lookupTimeout),
      batched: summarize(batchedRuns),
      perUser: perUserRuns.length === 0 ? undefined : summarize(perUserRuns)
    }
  })
  return Effect.runPromise(quietLogs(Effect.scoped(program)))
}
