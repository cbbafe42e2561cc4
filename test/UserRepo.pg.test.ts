/**
 * The Postgres repository on the server of `DATABASE_URL` when it is set, else on embedded
 * Postgres: the migration, batching (counted on the wire), existing tables, metadata warnings and
 * faults.
 */
import { assert, describe, layer } from "@effect/vitest"
import { ConfigProvider, Context, DateTime, Effect, Layer, Logger, References, Schema } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { User, UserFromJson, type UserId } from "../src/User.js"
import { UserRepo, type UserRepoError } from "../src/UserRepo.js"
import * as UserTable from "../src/UserTable.js"
import { TestDatabase, type WireStatement } from "./support/TestDatabase.js"

const makeUser = (i: number, overrides?: Partial<ConstructorParameters<typeof User>[0]>) =>
  new User({
    id: `user-${i}` as UserId,
    email: `user-${i}@example.com`,
    email_verified: i % 2 === 0,
    name: i % 3 === 0 ? null : `User ${i}`,
    created_at: DateTime.makeUnsafe(Date.UTC(2024, 0, 1) + i * 60_000),
    updated_at: DateTime.makeUnsafe(Date.UTC(2024, 6, 1) + i * 60_000),
    metadata: { index: i },
    ...overrides
  })
const seeded = Array.from({ length: 300 }, (_, i) => makeUser(i))
const asJson = Schema.encodeSync(UserFromJson)

/** The statements that looked users up, with the ids each one carried. */
const lookups = (statements: ReadonlyArray<WireStatement>) =>
  statements
    .filter((statement) => /= ANY\(\$1\)/.test(statement.sql))
    .map((statement) => {
      const ids = statement.params[0]
      assert.isTrue(Array.isArray(ids), "the ids travel as one array parameter")
      return { sql: statement.sql, ids: ids as ReadonlyArray<string> }
    })

/** Builds a layer into the test's scope and returns its repository. */
const build = <E, R>(layer: Layer.Layer<UserRepo, E, R>) =>
  Effect.map(Layer.build(layer), (context) => Context.get(context, UserRepo))

const repoWith = (options?: Parameters<typeof UserRepo.layerPg>[0]) => build(UserRepo.layerPg(options))

const withDatabaseUrl = (url: string) =>
  Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnvRecord({ DATABASE_URL: url })))

const Seeded = Layer.effectDiscard(
  Effect.gen(function* () {
    yield* UserTable.migrate()
    yield* UserTable.insertUsers(seeded)
  })
).pipe(Layer.provideMerge(TestDatabase.layer))

layer(Seeded, { excludeTestServices: true, timeout: "60 seconds" })("UserRepo.layerPg", (it) => {
  describe("migration", () => {
    it.effect("creates the Prisma-compatible table, and a second run applies nothing", () =>
      Effect.gen(function* () {
        const db = yield* TestDatabase
        const columns = yield* db.admin<{
          readonly column_name: string
          readonly data_type: string
          readonly is_nullable: string
          readonly column_default: string | null
        }>`SELECT column_name, data_type, is_nullable, column_default FROM information_schema.columns
           WHERE table_schema = ${db.schema} AND table_name = 'User' ORDER BY ordinal_position`
        assert.deepStrictEqual(
          columns.map((c) => [c.column_name, c.data_type, c.is_nullable]),
          [
            ["id", "text", "NO"],
            ["email", "text", "NO"],
            ["emailVerified", "boolean", "NO"],
            ["name", "text", "YES"],
            ["createdAt", "timestamp with time zone", "NO"],
            ["updatedAt", "timestamp with time zone", "NO"],
            ["metadata", "jsonb", "NO"]
          ]
        )
        const defaults = Object.fromEntries(columns.map((c) => [c.column_name, c.column_default]))
        assert.strictEqual(defaults["emailVerified"], "true")
        assert.match(defaults["createdAt"] ?? "", /now\(\)/)
        assert.match(defaults["updatedAt"] ?? "", /now\(\)/)
        assert.match(defaults["metadata"] ?? "", /'\{\}'::jsonb/)
        assert.isNull(defaults["id"] ?? null)

        const constraints = yield* db.admin<{ readonly conname: string; readonly contype: string }>`
          SELECT conname, contype FROM pg_constraint
          WHERE conrelid = to_regclass(${`"${db.schema}"."User"`}) AND contype IN ('p', 'u') ORDER BY conname`
        assert.deepStrictEqual(
          constraints.map((c) => [c.conname, c.contype]),
          [
            ["User_email_key", "u"],
            ["User_pkey", "p"]
          ]
        )
        assert.deepStrictEqual(yield* UserTable.migrate(), [])
      })
    )

    it.effect("creates a schema-qualified table with an awkward name, quoted, next to its own migrations", () =>
      Effect.gen(function* () {
        const db = yield* TestDatabase
        const table = `"${db.schema}"."Odd ""name"". users"`
        assert.deepStrictEqual(yield* UserTable.migrate({ table }), [[1, "create_user_table"]])
        yield* UserTable.insertUsers([makeUser(1)], { table })
        const repo = yield* repoWith({ table })
        assert.deepStrictEqual(asJson(yield* repo.getById("user-1")), asJson(makeUser(1)))
        const tables = yield* db.admin<{ readonly table_name: string }>`
          SELECT table_name FROM information_schema.tables WHERE table_schema = ${db.schema} ORDER BY table_name`
        assert.includeMembers(
          tables.map((t) => t.table_name),
          ['Odd "name". users', '_Odd "name"_ users_migrations', "User", "_User_migrations"]
        )
      })
    )
    it.effect("creates a schema-qualified table in a schema that does not exist yet", () =>
      Effect.gen(function* () {
        const db = yield* TestDatabase
        const schema = `${db.schema}_new`
        const table = `"${schema}"."users"`
        const applied = yield* UserTable.migrate({ table }).pipe(
          Effect.ensuring(Effect.ignore(db.admin.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)))
        )
        assert.deepStrictEqual(applied, [[1, "create_user_table"]])
      })
    )
    it.effect("takes extra migrations after its own, each applied once", () =>
      Effect.gen(function* () {
        const db = yield* TestDatabase
        const sql = yield* SqlClient
        const table = `${db.schema}.extended`
        const extra = { "2_add_plan_column": sql.unsafe(`ALTER TABLE "${db.schema}".extended ADD COLUMN plan text`) }
        assert.deepStrictEqual(yield* UserTable.migrate({ table, extra }), [
          [1, "create_user_table"],
          [2, "add_plan_column"]
        ])
        assert.deepStrictEqual(yield* UserTable.migrate({ table, extra }), [])
        const [row] = yield* db.admin<{ readonly n: number }>`
          SELECT count(*)::int AS n FROM information_schema.columns
          WHERE table_schema = ${db.schema} AND table_name = 'extended' AND column_name = 'plan'`
        assert.strictEqual(row?.n, 1)
      })
    )
  })

  describe("batching", () => {
    it.effect("200 concurrent lookups of distinct ids issue one statement", () =>
      Effect.gen(function* () {
        const db = yield* TestDatabase
        const repo = yield* repoWith()
        const ids = seeded.slice(0, 200).map((user) => user.id)
        yield* db.clearStatements
        const found = yield* Effect.forEach(ids, (id) => repo.getById(id), { concurrency: "unbounded" })
        const sent = lookups(yield* db.statements)
        assert.strictEqual(sent.length, 1)
        assert.sameMembers([...(sent[0]?.ids ?? [])], ids)
        assert.match(
          sent[0]?.sql ?? "",
          /^SELECT .* FROM "User" AS "u" CROSS JOIN LATERAL .* WHERE "u"."id" = ANY\(\$1\)$/
        )
        assert.deepStrictEqual(
          found.map((user) => user.id),
          ids
        )
        assert.deepStrictEqual(asJson(found[7] as User), asJson(makeUser(7)))
      })
    )

    it.effect("sequential lookups are not batched (the count sees every statement)", () =>
      Effect.gen(function* () {
        const db = yield* TestDatabase
        const repo = yield* repoWith()
        yield* db.clearStatements
        yield* repo.getById("user-1")
        yield* repo.getById("user-2")
        yield* Effect.flip(repo.getById("user-missing"))
        assert.deepStrictEqual(
          lookups(yield* db.statements).map((s) => s.ids),
          [["user-1"], ["user-2"], ["user-missing"]]
        )
      })
    )

    it.effect("duplicates in a batch are fetched once, and every caller gets the user", () =>
      Effect.gen(function* () {
        const db = yield* TestDatabase
        const repo = yield* repoWith()
        const ids = Array.from({ length: 200 }, (_, i) => `user-${i % 20}`)
        yield* db.clearStatements
        const found = yield* Effect.forEach(ids, (id) => repo.getById(id), { concurrency: "unbounded" })
        const sent = lookups(yield* db.statements)
        assert.strictEqual(sent.length, 1)
        assert.strictEqual(sent[0]?.ids.length, 20)
        assert.strictEqual(new Set(sent[0]?.ids).size, 20)
        assert.deepStrictEqual(
          found.map((user) => user.id),
          ids
        )
      })
    )

    it.effect("a batch carries at most maxBatchSize ids", () =>
      Effect.gen(function* () {
        const db = yield* TestDatabase
        const repo = yield* repoWith({ maxBatchSize: 50 })
        const ids = seeded.slice(0, 120).map((user) => user.id)
        yield* db.clearStatements
        yield* Effect.forEach(ids, (id) => repo.getById(id), { concurrency: "unbounded" })
        const sent = lookups(yield* db.statements)
        assert.deepStrictEqual(sent.map((s) => s.ids.length).sort(), [20, 50, 50])
        assert.sameMembers(
          sent.flatMap((s) => s.ids),
          ids
        )
      })
    )

    it.effect("a row that does not decode fails only its own lookup in a shared batch", () =>
      Effect.gen(function* () {
        const sql = yield* SqlClient
        yield* UserTable.insertUsers([makeUser(900)])
        yield* sql`UPDATE "User" SET "createdAt" = 'infinity' WHERE id = 'user-900'`
        const repo = yield* repoWith()
        const [bad, good] = yield* Effect.all([Effect.flip(repo.getById("user-900")), repo.getById("user-3")], {
          concurrency: "unbounded"
        })
        assert.strictEqual((bad as UserRepoError).reason, "Decode")
        // The message names the field and what was wrong with it.
        assert.include((bad as UserRepoError).message, `["createdAt"]`)
        assert.strictEqual(good.id, "user-3")
      })
    )
  })

  describe("metadata", () => {
    it.effect("metadata that is not a JSON object reads as {} and is logged as a warning", () =>
      Effect.gen(function* () {
        const sql = yield* SqlClient
        yield* UserTable.insertUsers([makeUser(901), makeUser(902)])
        // A double-encoded string that is not JSON, and an array.
        yield* sql`UPDATE "User" SET metadata = to_jsonb('{not json'::text) WHERE id = 'user-901'`
        yield* sql`UPDATE "User" SET metadata = '[1, 2]'::jsonb WHERE id = 'user-902'`
        const warnings: Array<{ readonly message: unknown; readonly annotations: Record<string, unknown> }> = []
        const capture = Logger.make((options) => {
          if (options.logLevel === "Warn") {
            warnings.push({
              message: options.message,
              annotations: options.fiber.getRef(References.CurrentLogAnnotations)
            })
          }
        })
        const repo = yield* repoWith()
        const users = yield* Effect.forEach(["user-901", "user-902", "user-4"], (id) => repo.getById(id)).pipe(
          Effect.provide(Logger.layer([capture]))
        )
        assert.deepStrictEqual(
          users.map((user) => user.metadata),
          [{}, {}, { index: 4 }]
        )
        assert.deepStrictEqual(
          warnings.map((w) => [w.annotations["userId"], w.annotations["problem"]]),
          [
            ["user-901", "InvalidJson"],
            ["user-902", "NotAnObject"]
          ]
        )
      })
    )
  })

  describe("existing tables", () => {
    it.effect("reads an application's own table with its own column names, qualified by schema", () =>
      Effect.gen(function* () {
        const db = yield* TestDatabase
        const sql = yield* SqlClient
        yield* sql.unsafe(`CREATE TABLE "${db.schema}".users (
          id text PRIMARY KEY, email text NOT NULL, email_verified boolean NOT NULL, name text,
          created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL, metadata jsonb NOT NULL,
          password_hash text NOT NULL)`)
        yield* sql`INSERT INTO ${sql(`${db.schema}.users`)} VALUES
          ('app-1', 'a@example.com', true, 'A', '2024-01-01T00:00:00Z', '2024-02-01T00:00:00Z', '{"plan":"pro"}', 'secret')`
        const repo = yield* repoWith({
          table: `${db.schema}.users`,
          columns: {
            emailVerified: "email_verified",
            createdAt: "created_at",
            updatedAt: "updated_at"
          }
        })
        yield* db.clearStatements
        const user = yield* repo.getById("app-1")
        assert.strictEqual(user.email, "a@example.com")
        assert.strictEqual(user.email_verified, true)
        assert.strictEqual(DateTime.formatIso(user.updated_at), "2024-02-01T00:00:00.000Z")
        assert.deepStrictEqual(user.metadata, { plan: "pro" })
        const sent = lookups(yield* db.statements)
        assert.include(sent[0]?.sql ?? "", `FROM "${db.schema}"."users"`)
        assert.notInclude(sent[0]?.sql ?? "", "password_hash")
      })
    )

    it.effect("layerPgConfig reads DATABASE_URL", () =>
      Effect.gen(function* () {
        const db = yield* TestDatabase
        const repo = yield* build(UserRepo.layerPgConfig({ table: `${db.schema}.User` }).pipe(withDatabaseUrl(db.url)))
        assert.strictEqual((yield* repo.getById("user-5")).email, "user-5@example.com")
      })
    )

    it.effect("metacharacter ids leave the table intact", () =>
      Effect.gen(function* () {
        const db = yield* TestDatabase
        const repo = yield* repoWith()
        for (const id of [`'; DROP TABLE "User"; --`, `x"); DROP TABLE "User"; --`, "../admin", "%00"]) {
          assert.strictEqual((yield* Effect.flip(repo.getById(id)))._tag, "UserNotFound")
        }
        const [count] = yield* db.admin<{ readonly n: number }>`
          SELECT count(*)::int AS n FROM ${db.admin(`${db.schema}.User`)}`
        assert.isAtLeast(count?.n ?? 0, seeded.length)
      })
    )
  })

  describe("faults", () => {
    it.effect("while the database is unreachable lookups fail with Unavailable promptly, then recover", () =>
      Effect.gen(function* () {
        const db = yield* TestDatabase
        const repo = yield* repoWith({ timeout: "10 seconds" })
        assert.strictEqual((yield* repo.getById("user-10")).id, "user-10")

        yield* db.disconnect
        const started = Date.now()
        const errors = yield* Effect.forEach(["user-11", "user-12", "user-11"], (id) => Effect.flip(repo.getById(id)))
        assert.isBelow(Date.now() - started, 5_000, "an unreachable database is reported, not waited for")
        for (const error of errors) {
          assert.strictEqual(error._tag, "UserRepoError")
          assert.strictEqual((error as UserRepoError).reason, "Unavailable")
          assert.isTrue((error as UserRepoError).isRetryable)
        }

        yield* db.reconnect
        const again = yield* Effect.forEach(["user-11", "user-12"], (id) => repo.getById(id), {
          concurrency: "unbounded"
        })
        assert.deepStrictEqual(
          again.map((user) => user.id),
          ["user-11", "user-12"]
        )
      })
    )

    it.effect("a connection refused at the address of DATABASE_URL is Unavailable, not a hang", () =>
      Effect.gen(function* () {
        const db = yield* TestDatabase
        yield* db.disconnect
        const repo = yield* build(UserRepo.layerPgConfig({ timeout: "10 seconds" }).pipe(withDatabaseUrl(db.url)))
        const started = Date.now()
        const error = yield* Effect.flip(repo.getById("user-1")).pipe(Effect.ensuring(db.reconnect))
        assert.strictEqual(error._tag, "UserRepoError")
        assert.strictEqual((error as UserRepoError).reason, "Unavailable")
        // The root cause, not three causes deep: what the FlagClient warning and the CLI print.
        assert.include(error.message, "ECONNREFUSED")
        assert.isBelow(Date.now() - started, 5_000)
      })
    )

    // PGlite has no backends to terminate: this one needs the real server.
    it.effect.skipIf(!process.env["DATABASE_URL"])(
      "after pg_terminate_backend ends its sessions, the same layer answers again",
      () =>
        Effect.gen(function* () {
          const db = yield* TestDatabase
          const repo = yield* repoWith({ timeout: "10 seconds" })
          yield* Effect.forEach(["user-20", "user-21"], (id) => repo.getById(id), { concurrency: "unbounded" })
          assert.isAtLeast(yield* db.terminateBackends, 1)
          const outcomes: Array<string> = []
          for (let attempt = 0; attempt < 3; attempt++) {
            const result = yield* Effect.result(repo.getById("user-20"))
            outcomes.push(result._tag === "Success" ? "found" : (result.failure as UserRepoError).reason)
            if (result._tag === "Success") break
          }
          assert.strictEqual(outcomes.at(-1), "found", outcomes.join(", "))
          assert.isTrue(
            outcomes.slice(0, -1).every((o) => o === "Unavailable"),
            outcomes.join(", ")
          )
        })
    )
  })
})
