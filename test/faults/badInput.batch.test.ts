/**
 * Fault suite, batch isolation: nothing one id or one row does can fail the lookup of another id
 * in the same batch. Ids that can never match are answered before batching; a statement that
 * fails on one row's data is split until only that row fails; metadata over the size bounds is
 * measured and dropped in the database (it never crosses the wire) and read as `{}` with a warning
 * naming the user. On the server of `DATABASE_URL`, else PGlite.
 */
import { assert, layer } from "@effect/vitest"
import { Context, Effect, Layer, Logger, References } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { UserRepo, type UserRepoError } from "../../src/UserRepo.js"
import * as UserTable from "../../src/UserTable.js"
import { makeUser } from "../support/launchdarkly.js"
import { TestDatabase, type WireStatement } from "../support/TestDatabase.js"

const NOW = Date.now()
const USERS = Array.from({ length: 63 }, (_, i) => makeUser(`user-${i}`, NOW, 100))
const IDS = USERS.map((user) => user.id as string)

const Seeded = Layer.effectDiscard(
  Effect.gen(function* () {
    yield* UserTable.migrate()
    yield* UserTable.insertUsers(USERS)
  })
).pipe(Layer.provideMerge(TestDatabase.layer))

const lookups = (statements: ReadonlyArray<WireStatement>) =>
  statements.filter((statement) => /= ANY\(\$1(::\w+\[\])?\)$/.test(statement.sql))

const build = (options?: UserRepo.PgOptions) =>
  Effect.map(Layer.build(UserRepo.layerPg({ timeout: "30 seconds", ...options })), (context) =>
    Context.get(context, UserRepo)
  )

/** Looks every id up at once (one batch), with the warnings logged meanwhile. */
const lookupAll = (repo: UserRepo["Service"], ids: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const warnings: Array<{ readonly message: unknown; readonly annotations: Record<string, unknown> }> = []
    const capture = Logger.make((options) => {
      if (options.logLevel === "Warn") {
        warnings.push({ message: options.message, annotations: options.fiber.getRef(References.CurrentLogAnnotations) })
      }
    })
    const results = yield* Effect.forEach(ids, (id) => Effect.result(repo.getById(id)), {
      concurrency: "unbounded"
    }).pipe(Effect.provide(Logger.layer([capture])))
    return { results, warnings }
  })

const assertFound = (results: ReadonlyArray<{ readonly _tag: string }>, ids: ReadonlyArray<string>) => {
  results.forEach((result, i) => {
    assert.strictEqual(result._tag, "Success", ids[i])
  })
}

layer(Seeded, { excludeTestServices: true, timeout: "120 seconds" })("faults - batch isolation", (it) => {
  it.effect("an id containing U+0000 in a batch: the others load, it is UserNotFound, and it is never sent", () =>
    Effect.gen(function* () {
      const db = yield* TestDatabase
      const repo = yield* build()
      yield* db.clearStatements
      const { results } = yield* lookupAll(repo, [...IDS, "user-1\u0000", "\u0000"])
      assertFound(results.slice(0, IDS.length), IDS)
      for (const result of results.slice(IDS.length)) {
        assert.strictEqual(result._tag, "Failure")
        if (result._tag === "Failure") assert.strictEqual(result.failure._tag, "UserNotFound")
      }
      const sent = lookups(yield* db.statements)
      assert.lengthOf(sent, 1)
      assert.notInclude(JSON.stringify(sent[0]?.params), "\\u0000")
    })
  )

  it.effect("a row whose read fails in the database: the batch is bisected and only that id fails", () =>
    Effect.gen(function* () {
      const db = yield* TestDatabase
      const sql = yield* SqlClient
      // A view that can't produce one row (as a corrupt value or a raising function would).
      yield* sql.unsafe(`CREATE VIEW "PoisonedUser" AS SELECT id, email, "emailVerified",
        CASE WHEN id = 'user-7' THEN (1 / (length(id) - 6))::text ELSE name END AS name,
        "createdAt", "updatedAt", metadata FROM "User"`)
      const repo = yield* build({ table: "PoisonedUser" })
      yield* db.clearStatements
      const { results } = yield* lookupAll(repo, IDS)
      const poisoned = IDS.indexOf("user-7")
      assertFound(
        results.filter((_, i) => i !== poisoned),
        IDS.filter((_, i) => i !== poisoned)
      )
      const failure = results[poisoned]
      assert.strictEqual(failure?._tag, "Failure")
      if (failure?._tag === "Failure") {
        const error = failure.failure as UserRepoError
        assert.deepStrictEqual([error._tag, error.reason, error.isRetryable], ["UserRepoError", "Misconfigured", false])
        assert.include(error.message, "division by zero")
        assert.include(error.message, "SQLSTATE 22012")
      }
      // One statement, then halves down to the culprit: at most 2 per level.
      const sent = lookups(yield* db.statements)
      assert.isAtMost(sent.length, 1 + 2 * Math.ceil(Math.log2(IDS.length)))
    })
  )

  it.effect("a 17 MiB metadata row in a batch: the others load, it loads with {} and a warning naming it", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient
      yield* UserTable.insertUsers([makeUser("huge", NOW, 100)])
      yield* sql.unsafe(
        `UPDATE "User" SET metadata = jsonb_build_object('blob', repeat('x', 17 * 1024 * 1024)) WHERE id = 'huge'`
      )
      const repo = yield* build()
      const ids = [...IDS, "huge"]
      const { results, warnings } = yield* lookupAll(repo, ids)
      assertFound(results, ids)
      const huge = results.at(-1)
      if (huge?._tag === "Success") assert.deepStrictEqual(huge.success.metadata, {})
      const normal = results[0]
      if (normal?._tag === "Success") assert.notDeepEqual(normal.success.metadata, {})
      assert.deepStrictEqual(
        warnings.map((w) => [w.annotations["userId"], w.annotations["problem"]]),
        [["huge", "TooLarge"]]
      )
    })
  )

  it.effect("metadata over the key-count or depth bound reads as {} with a warning; the bounds are configurable", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient
      yield* UserTable.insertUsers([makeUser("wide", NOW, 100), makeUser("deep", NOW, 100)])
      yield* sql.unsafe(`UPDATE "User" SET metadata =
        (SELECT jsonb_object_agg('k' || i, i) FROM generate_series(1, 1500) AS i) WHERE id = 'wide'`)
      yield* sql.unsafe(`UPDATE "User" SET metadata = ('{"a":' || repeat('[', 40) || repeat(']', 40) || '}')::jsonb
        WHERE id = 'deep'`)
      const bounded = yield* lookupAll(yield* build(), ["wide", "deep", "user-1"])
      assertFound(bounded.results, ["wide", "deep", "user-1"])
      for (const result of bounded.results.slice(0, 2)) {
        if (result._tag === "Success") assert.deepStrictEqual(result.success.metadata, {})
      }
      assert.sameDeepMembers(
        bounded.warnings.map((w) => [w.annotations["userId"], w.annotations["problem"]]),
        [
          ["wide", "TooManyKeys"],
          ["deep", "TooDeep"]
        ]
      )
      const relaxed = yield* lookupAll(yield* build({ metadataLimits: { maxKeys: 2_000, maxDepth: 64 } }), [
        "wide",
        "deep"
      ])
      assert.deepStrictEqual(relaxed.warnings, [])
      const [wide] = relaxed.results
      if (wide?._tag === "Success") assert.lengthOf(Object.keys(wide.success.metadata), 1500)
    })
  )
})
