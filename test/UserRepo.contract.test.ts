/**
 * One contract, the same assertions, run against every `UserRepo` layer: in-memory, Postgres (the
 * server of `DATABASE_URL`, else embedded), embedded, and HTTP (a real loopback server).
 */
import { assert, describe, layer } from "@effect/vitest"
import { DateTime, Deferred, Duration, Effect, Layer, Schema } from "effect"
import { PgClient } from "@effect/sql-pg"
import { FetchHttpClient } from "effect/http"
import { SqlClient } from "effect/sql/SqlClient"
import { EmbeddedPostgres, layerEmbedded } from "../src/embedded.js"
import { User, UserFromJson, UserFromRow, type UserId } from "../src/User.js"
import { UserRepo, type UserRepoError } from "../src/UserRepo.js"
import * as UserTable from "../src/UserTable.js"
import { TestDatabase } from "./support/TestDatabase.js"
import { UserServer } from "./support/UserServer.js"

const ada = new User({
  id: "user-ada" as UserId,
  email: "ada@example.com",
  email_verified: true,
  name: "Ada",
  created_at: DateTime.makeUnsafe(Date.UTC(2024, 0, 1)),
  updated_at: DateTime.makeUnsafe(Date.UTC(2024, 5, 1)),
  metadata: { plan: "pro", segments: ["beta"] }
})
const grace = new User({
  id: "user-grace" as UserId,
  email: "grace@example.com",
  email_verified: false,
  name: null,
  created_at: DateTime.makeUnsafe(Date.UTC(2023, 2, 3)),
  updated_at: DateTime.makeUnsafe(Date.UTC(2023, 2, 3)),
  metadata: {}
})
const users = [ada, grace]
/** Stored, but its `createdAt` is not a valid instant (a Postgres `'infinity'`). */
const corruptId = "user-corrupt"
const corruptUser = new User({ ...grace, id: corruptId as UserId, email: "corrupt@example.com" })
const metacharacterIds = [
  `'; DROP TABLE "User"; --`,
  "../admin",
  "%00",
  "a' OR '1'='1",
  "%",
  "_",
  "*",
  "a/b?c=d#e",
  "\\x00"
]
const invalidIds = ["", "   ", "\t\n", "x".repeat(256)]
/** The bound of a stalled lookup. */
const stalledTimeout = Duration.millis(300)

const encodeRow = Schema.encodeSync(UserFromRow)
const asJson = Schema.encodeSync(UserFromJson)

interface Subject<R> {
  readonly name: string
  /** The repository over `users` and the corrupt row, plus whatever the subject needs. */
  readonly layer: Layer.Layer<UserRepo | R, unknown>
  /** A repository over the same store, which does not answer while this layer is alive. */
  readonly stalled: Layer.Layer<UserRepo, unknown, UserRepo | R>
  /** How many round trips the store has seen, where that can be observed. */
  readonly roundTrips?: Effect.Effect<number, never, R>
}

const userRepoContract = <R>(subject: Subject<R>) =>
  layer(subject.layer, { excludeTestServices: true })(`UserRepo contract - ${subject.name}`, (it) => {
    const repo = UserRepo.useSync((repo) => repo)
    const roundTrips = subject.roundTrips ?? Effect.succeed(0)

    it.effect("getById - finds a stored user, every field intact", () =>
      Effect.gen(function* () {
        const found = yield* (yield* repo).getById(ada.id)
        assert.instanceOf(found, User)
        assert.deepStrictEqual(asJson(found), asJson(ada))
        assert.deepStrictEqual(asJson(yield* (yield* repo).getById(grace.id)), asJson(grace))
      })
    )

    it.effect("getById - fails with UserNotFound for an unknown id", () =>
      Effect.gen(function* () {
        const error = yield* Effect.flip((yield* repo).getById("user-nobody"))
        assert.strictEqual(error._tag, "UserNotFound")
        assert.strictEqual(error.userId, "user-nobody")
      })
    )

    it.effect("getById - fails with InvalidUserId for an invalid id, before any I/O", () =>
      Effect.gen(function* () {
        const before = yield* roundTrips
        for (const id of invalidIds) {
          const error = yield* Effect.flip((yield* repo).getById(id))
          assert.strictEqual(error._tag, "InvalidUserId", JSON.stringify(id))
          assert.strictEqual(error.userId, id)
        }
        assert.strictEqual(yield* roundTrips, before)
      })
    )

    it.effect("getById - ids full of SQL or URL metacharacters find nothing, and the store is intact", () =>
      Effect.gen(function* () {
        const before = yield* roundTrips
        for (const id of metacharacterIds) {
          const error = yield* Effect.flip((yield* repo).getById(id))
          assert.strictEqual(error._tag, "UserNotFound", JSON.stringify(id))
          assert.strictEqual(error.userId, id)
        }
        if (subject.roundTrips !== undefined) assert.isAtLeast((yield* roundTrips) - before, metacharacterIds.length)
        assert.deepStrictEqual(asJson(yield* (yield* repo).getById(ada.id)), asJson(ada))
      })
    )

    it.effect("getById - a stored user that does not decode fails with UserRepoError Decode", () =>
      Effect.gen(function* () {
        const error = yield* Effect.flip((yield* repo).getById(corruptId))
        assert.strictEqual(error._tag, "UserRepoError")
        assert.strictEqual((error as UserRepoError).reason, "Decode")
        assert.isFalse((error as UserRepoError).isRetryable)
        assert.strictEqual(error.userId, corruptId)
      })
    )

    it.effect("getById - a lookup the store does not answer ends with UserRepoError Timeout, promptly", () =>
      Effect.gen(function* () {
        const started = Date.now()
        const error = yield* Effect.flip(Effect.flatMap(repo, (repo) => repo.getById(ada.id))).pipe(
          Effect.provide(subject.stalled)
        )
        const elapsed = Date.now() - started
        assert.strictEqual(error._tag, "UserRepoError")
        assert.strictEqual((error as UserRepoError).reason, "Timeout")
        assert.isTrue((error as UserRepoError).isRetryable)
        assert.isAtLeast(elapsed, Duration.toMillis(stalledTimeout) - 50)
        assert.isBelow(elapsed, 5_000)
      })
    )
  })

// -- in-memory ----------------------------------------------------------------------------------

const rows = [...users.map((user) => encodeRow(user)), { ...encodeRow(corruptUser), createdAt: new Date(Number.NaN) }]

userRepoContract({
  name: "layerMemoryRows",
  layer: UserRepo.layerMemoryRows(rows),
  stalled: UserRepo.layerMemoryRows(rows, { latency: "1 minute", timeout: stalledTimeout })
})

// -- Postgres (DATABASE_URL, else embedded) -------------------------------------------------------

const corruptInPostgres = (sql: SqlClient) =>
  sql`UPDATE "User" SET "createdAt" = 'infinity' WHERE id = ${corruptId}`.pipe(Effect.asVoid)

/** Holds `ACCESS EXCLUSIVE` on the table in an open transaction until the layer is released. */
const lockUserTable = Layer.effectDiscard(
  Effect.gen(function* () {
    const sql = yield* SqlClient
    const locked = yield* Deferred.make<void>()
    yield* sql
      .withTransaction(
        Effect.andThen(sql`LOCK TABLE "User" IN ACCESS EXCLUSIVE MODE`, Deferred.succeed(locked, undefined)).pipe(
          Effect.andThen(Effect.never)
        )
      )
      .pipe(Effect.forkScoped)
    yield* Deferred.await(locked)
  })
)

userRepoContract({
  name: "layerPg",
  layer: UserRepo.layerPg().pipe(
    Layer.provideMerge(
      Layer.effectDiscard(
        Effect.gen(function* () {
          yield* UserTable.migrate()
          yield* UserTable.insertUsers([...users, corruptUser])
          yield* corruptInPostgres(yield* SqlClient)
        })
      )
    ),
    Layer.provideMerge(TestDatabase.layer)
  ),
  stalled: UserRepo.layerPg({ timeout: stalledTimeout }).pipe(Layer.provide(lockUserTable)),
  roundTrips: TestDatabase.use((db) => Effect.map(db.statements, (statements) => statements.length))
})

// -- embedded -----------------------------------------------------------------------------------

userRepoContract({
  name: "layerEmbedded",
  layer: Layer.effectDiscard(
    EmbeddedPostgres.use(({ db }) =>
      Effect.promise(() => db.query(`UPDATE "User" SET "createdAt" = 'infinity' WHERE id = $1`, [corruptId]))
    )
  ).pipe(Layer.provideMerge(layerEmbedded({ users: [...users, corruptUser], timeout: stalledTimeout }))),
  // pglite-socket runs one session's transaction at a time: while one is open, the others wait.
  stalled: Layer.effect(
    UserRepo,
    UserRepo.useSync((repo) => repo)
  ).pipe(
    Layer.provide(lockUserTable),
    Layer.provide(
      Layer.unwrap(
        EmbeddedPostgres.useSync(({ host, port }) =>
          PgClient.layer({ host, port, username: "postgres", database: "postgres", maxConnections: 1 })
        )
      )
    )
  )
})

// -- HTTP -----------------------------------------------------------------------------------------

const httpLayer = Layer.unwrap(
  UserServer.useSync((server) => UserRepo.layerHttp({ baseUrl: server.url }).pipe(Layer.provide(FetchHttpClient.layer)))
).pipe(Layer.provideMerge(Layer.provide(UserServer.layer, UserRepo.layerMemoryRows(rows))))

describe("UserRepo.layerHttp", () => {
  userRepoContract({
    name: "layerHttp",
    layer: httpLayer,
    stalled: Layer.unwrap(
      UserServer.useSync((server) =>
        UserRepo.layerHttp({ baseUrl: `${server.url}/hang`, timeout: stalledTimeout }).pipe(
          Layer.provide(FetchHttpClient.layer)
        )
      )
    ),
    roundTrips: UserServer.use((server) => Effect.map(server.requests, (requests) => requests.length))
  })
})
