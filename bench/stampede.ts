/**
 * The stampede: many concurrent evaluations for one user who is not cached yet. The cache shares
 * one lookup between them, so the database sees one statement.
 *
 * The pool is warmed first (one evaluation for another user), so that the figure is the stampede's,
 * not the connection's.
 */
import { Context, Effect, Layer } from "effect"
import { FlagClient } from "../src/FlagClient.js"
import { UserRepo } from "../src/UserRepo.js"
import { openDatabase } from "./database.js"
import { benchFlag, flagStack, flagsFile, quietLogs, userId } from "./fixtures.js"
import { since } from "./harness.js"

/** Options of {@link measureStampede}. */
export interface StampedeOptions {
  /** Concurrent evaluations for the cold user. Default 1000. */
  readonly concurrency?: number | undefined
}

export interface StampedeResult {
  readonly database: "external" | "embedded"
  readonly concurrency: number
  /** Every statement the client sent during the stampede (target: exactly 1). */
  readonly statements: number
  /** Of which looked users up. */
  readonly lookups: number
  readonly wallMs: number
  /** Evaluations answered with the user's full context (all of them, when the lookup succeeded). */
  readonly fullContexts: number
}

export const measureStampede = async (options: StampedeOptions = {}): Promise<StampedeResult> => {
  const concurrency = options.concurrency ?? 1000
  const program = Effect.gen(function* () {
    const database = yield* openDatabase
    yield* database.seed(0, 2)
    const path = yield* flagsFile
    const services = yield* Layer.build(flagStack(path, UserRepo.layerPg())).pipe(
      Effect.provideContext(database.services)
    )
    const client = Context.get(services, FlagClient)
    yield* client.isEnabled(benchFlag, userId(1))
    yield* database.reset

    const cold = userId(0)
    const start = performance.now()
    const evaluations = yield* Effect.forEach(
      Array.from({ length: concurrency }),
      () => client.evaluate(benchFlag, cold, false),
      { concurrency: "unbounded" }
    )
    const wallMs = since(start)
    const count = yield* database.count
    return {
      database: database.db.kind,
      concurrency,
      statements: count.statements,
      lookups: count.lookups,
      wallMs,
      fullContexts: evaluations.filter((evaluation) => evaluation.context === "full" && evaluation.value).length
    }
  })
  return Effect.runPromise(quietLogs(Effect.scoped(program)))
}
