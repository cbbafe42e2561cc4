/**
 * Bring your own user table: the tables of six frameworks, each created with the DDL its framework
 * generates, read by `UserRepo.layerPg` from configuration alone and evaluated end to end; ids
 * compared in the column's own type (index scans, statement counts); misconfigurations that fail
 * the layer at build, or the first lookup, with a message that says what to fix.
 */
import { randomBytes } from "node:crypto"
import { PgClient } from "@effect/sql-pg"
import { assert, describe, layer } from "@effect/vitest"
import { Context, DateTime, Effect, Layer, Redacted } from "effect"
import * as Reactivity from "effect/reactivity/Reactivity"
import { SqlClient } from "effect/sql/SqlClient"
import { ContextBuilder } from "../src/ContextBuilder.js"
import { ContextCache } from "../src/ContextCache.js"
import { FlagClient, TestFlags } from "../src/FlagClient.js"
import type { UserId } from "../src/User.js"
import { UserRepo, type UserRepoError, UserTableMisconfigured } from "../src/UserRepo.js"
import { TestDatabase, type WireStatement } from "./support/TestDatabase.js"

const random = () => randomBytes(4).toString("hex")

/** Statements that looked users up. */
const lookups = (statements: ReadonlyArray<WireStatement>) =>
  statements.filter((statement) => /= ANY\(\$1(::\w+\[\])?\)$/.test(statement.sql))

/** The whole stack on `options`: the flag `staff-tools` on for employees, `beta-banner` for `beta`. */
const stack = (options: UserRepo.PgOptions) =>
  Layer.effectDiscard(
    TestFlags.use((flags) =>
      Effect.andThen(
        flags.enableForSegments("staff-tools", ["employee"]),
        flags.enableForSegments("beta-banner", ["beta"])
      )
    )
  ).pipe(
    Layer.provideMerge(FlagClient.layerTest),
    Layer.provideMerge(ContextCache.layer({ capacity: 100, lookupTimeout: "5 seconds" })),
    Layer.provideMerge(
      Layer.mergeAll(
        UserRepo.layerPg({ ...options, timeout: "5 seconds" }),
        ContextBuilder.layer({ employeeDomains: ["acme.com"] })
      )
    )
  )

/** Evaluates `flag` for `id` on the stack, and reads the user it loaded. */
const evaluate = (options: UserRepo.PgOptions, id: string, flag = "staff-tools") =>
  Effect.scoped(
    Effect.gen(function* () {
      const context = yield* Layer.build(stack(options))
      const client = Context.get(context, FlagClient)
      const cache = Context.get(context, ContextCache)
      const evaluation = yield* client.evaluate(flag, id as UserId, false)
      const user = yield* cache.getUser(id)
      const built = yield* cache.get(id)
      return { evaluation, user, context: built }
    })
  )

/**
 * The id of the user `lookup` finds within 10 attempts 300 ms apart (a failed table check is shared
 * by the lookups of the next second, then run again), or `""`.
 */
const eventually = (lookup: Effect.Effect<{ readonly id: string }, unknown>) =>
  Effect.gen(function* () {
    for (let attempt = 0; attempt < 10; attempt++) {
      const result = yield* Effect.result(lookup)
      if (result._tag === "Success") return result.success.id
      yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 300)))
    }
    return ""
  })

const build = (options: UserRepo.PgOptions) =>
  Effect.map(Layer.build(UserRepo.layerPg(options)), (context) => Context.get(context, UserRepo))

layer(TestDatabase.layer, { excludeTestServices: true, timeout: "60 seconds" })(
  "UserRepo.layerPg - table shapes",
  (it) => {
    describe("six frameworks, by configuration alone", () => {
      it.effect("Prisma User (the default): TIMESTAMP(3) without time zone, metadata jsonb", () =>
        Effect.gen(function* () {
          const db = yield* TestDatabase
          const sql = yield* SqlClient
          const table = `${db.schema}.User`
          yield* sql.unsafe(`CREATE TABLE "${db.schema}"."User" (
          "id" TEXT NOT NULL, "email" TEXT NOT NULL, "emailVerified" BOOLEAN NOT NULL DEFAULT true, "name" TEXT,
          "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP, "updatedAt" TIMESTAMP(3) NOT NULL,
          "metadata" JSONB NOT NULL DEFAULT '{}', CONSTRAINT "User_pkey" PRIMARY KEY ("id"))`)
          yield* sql.unsafe(`CREATE UNIQUE INDEX "User_email_key" ON "${db.schema}"."User"("email")`)
          yield* sql.unsafe(`INSERT INTO "${db.schema}"."User" VALUES
          ('ckprisma1', 'ada@acme.com', true, 'Ada', '2020-01-01 10:00:00', '2024-01-01 10:00:00', '{"segments":["beta"]}')`)
          const { evaluation, user } = yield* evaluate({ ...UserRepo.tableShapes.prisma, table }, "ckprisma1")
          assert.deepStrictEqual([evaluation.value, evaluation.context, evaluation.fallback], [true, "full", null])
          assert.strictEqual(DateTime.formatIso(user.created_at), "2020-01-01T10:00:00.000Z")
          assert.deepStrictEqual(user.metadata, { segments: ["beta"] })
          const beta = yield* evaluate({ table }, "ckprisma1", "beta-banner")
          assert.isTrue(beta.evaluation.value)
        })
      )

      it.effect("Prisma + Auth.js adapter: emailVerified timestamp(3) NULL, nullable email, no metadata", () =>
        Effect.gen(function* () {
          const db = yield* TestDatabase
          const sql = yield* SqlClient
          const schema = `authjs_${random()}`
          yield* sql.unsafe(`CREATE SCHEMA "${schema}"`)
          yield* Effect.addFinalizer(() => Effect.ignore(db.admin.unsafe(`DROP SCHEMA "${schema}" CASCADE`)))
          yield* sql.unsafe(`CREATE TABLE "${schema}"."User" (
          "id" TEXT NOT NULL, "name" TEXT, "email" TEXT, "emailVerified" TIMESTAMP(3), "image" TEXT,
          "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP, "updatedAt" TIMESTAMP(3) NOT NULL,
          CONSTRAINT "User_pkey" PRIMARY KEY ("id"))`)
          yield* sql.unsafe(`CREATE UNIQUE INDEX "User_email_key" ON "${schema}"."User"("email")`)
          yield* sql.unsafe(`INSERT INTO "${schema}"."User" VALUES
          ('verified', 'Ada', 'ada@acme.com', '2024-01-02 03:04:05.678', NULL, '2020-01-01', '2024-01-01'),
          ('unverified', 'Bob', 'bob@acme.com', NULL, NULL, '2020-01-01', '2024-01-01'),
          ('no-email', 'Cy', NULL, NULL, NULL, '2020-01-01', '2024-01-01')`)
          const options = { ...UserRepo.tableShapes.authJs, table: `${schema}.User` }
          const verified = yield* evaluate(options, "verified")
          assert.deepStrictEqual([verified.evaluation.value, verified.evaluation.context], [true, "full"])
          assert.isTrue(verified.user.email_verified)
          assert.deepStrictEqual(verified.user.metadata, {})
          const unverified = yield* evaluate(options, "unverified")
          assert.deepStrictEqual([unverified.evaluation.context, unverified.user.email_verified], ["full", false])
          const noEmail = yield* evaluate(options, "no-email")
          assert.deepStrictEqual([noEmail.evaluation.value, noEmail.evaluation.context], [false, "full"])
          assert.isNull(noEmail.user.email)
          assert.isUndefined(noEmail.context["email_domain"])
          assert.isUndefined(noEmail.context["email"])
          assert.notInclude(noEmail.context.segments ?? [], "employee")
        })
      )

      it.effect("Supabase auth.users: uuid id, email_confirmed_at, raw_user_meta_data, in its own schema", () =>
        Effect.gen(function* () {
          const db = yield* TestDatabase
          const sql = yield* SqlClient
          const auth = `auth_${random()}`
          yield* sql.unsafe(`CREATE SCHEMA "${auth}"`)
          yield* Effect.addFinalizer(() => Effect.ignore(db.admin.unsafe(`DROP SCHEMA "${auth}" CASCADE`)))
          yield* sql.unsafe(`CREATE TABLE "${auth}".users (
          instance_id uuid NULL, id uuid NOT NULL, aud varchar(255) NULL, "role" varchar(255) NULL,
          email varchar(255) NULL, encrypted_password varchar(255) NULL, email_confirmed_at timestamptz NULL,
          invited_at timestamptz NULL, confirmation_token varchar(255) NULL, last_sign_in_at timestamptz NULL,
          raw_app_meta_data jsonb NULL, raw_user_meta_data jsonb NULL, is_super_admin bool NULL,
          created_at timestamptz NULL, updated_at timestamptz NULL, phone text NULL DEFAULT NULL::character varying,
          CONSTRAINT users_pkey PRIMARY KEY (id))`)
          const id = "4b7e5a0c-2f6d-4a58-9d2e-0c8f3b1a6e11"
          yield* sql.unsafe(`INSERT INTO "${auth}".users (id, email, email_confirmed_at, raw_user_meta_data, created_at, updated_at)
          VALUES ('${id}', 'ada@acme.com', '2024-01-01T00:00:00Z', '{"segments":["beta"],"plan":"pro"}', '2020-01-01T00:00:00Z', NULL)`)
          const options = { ...UserRepo.tableShapes.supabase, table: `${auth}.users` }
          const staff = yield* evaluate(options, id)
          assert.deepStrictEqual([staff.evaluation.value, staff.evaluation.context], [true, "full"])
          assert.deepStrictEqual(staff.user.metadata, { segments: ["beta"], plan: "pro" })
          assert.strictEqual(DateTime.formatIso(staff.user.updated_at), "2020-01-01T00:00:00.000Z")
          assert.isTrue((yield* evaluate(options, id, "beta-banner")).evaluation.value)
          // Uppercase is the same uuid: it is looked up lowercased.
          assert.strictEqual((yield* (yield* build(options)).getById(id.toUpperCase())).id, id)
        })
      )

      for (const idType of ["uuid", "text"] as const) {
        it.effect(`snake_case Drizzle/Lucia table: id ${idType}, email_verified boolean, created_at, metadata`, () =>
          Effect.gen(function* () {
            const db = yield* TestDatabase
            const sql = yield* SqlClient
            const name = `users_${idType}`
            yield* sql.unsafe(`CREATE TABLE "${db.schema}"."${name}" (
            "id" ${idType} PRIMARY KEY NOT NULL, "email" text NOT NULL, "email_verified" boolean DEFAULT false NOT NULL,
            "name" text, "created_at" timestamp with time zone DEFAULT now() NOT NULL,
            "updated_at" timestamp with time zone DEFAULT now() NOT NULL, "metadata" jsonb DEFAULT '{}'::jsonb NOT NULL,
            CONSTRAINT "${name}_email_unique" UNIQUE("email"))`)
            const id = "0f8fad5b-d9cb-469f-a165-70867728950e"
            yield* sql.unsafe(`INSERT INTO "${db.schema}"."${name}" (id, email, email_verified, name, created_at, metadata)
            VALUES ('${id}', 'ada@acme.com', true, 'Ada', '2020-01-01T00:00:00Z', '{"role":"admin"}')`)
            const options = { ...UserRepo.tableShapes.snakeCase, table: `${db.schema}.${name}` }
            const { evaluation, user } = yield* evaluate(options, id)
            assert.deepStrictEqual([evaluation.value, evaluation.context], [true, "full"])
            assert.deepStrictEqual([user.name, user.metadata], ["Ada", { role: "admin" }])
          })
        )
      }

      it.effect("Django auth_user: id integer, date_joined, no verification, no metadata", () =>
        Effect.gen(function* () {
          const db = yield* TestDatabase
          const sql = yield* SqlClient
          yield* sql.unsafe(`CREATE TABLE "${db.schema}"."auth_user" (
          "id" integer NOT NULL PRIMARY KEY GENERATED BY DEFAULT AS IDENTITY, "password" varchar(128) NOT NULL,
          "last_login" timestamp with time zone NULL, "is_superuser" boolean NOT NULL,
          "username" varchar(150) NOT NULL UNIQUE, "first_name" varchar(150) NOT NULL,
          "last_name" varchar(150) NOT NULL, "email" varchar(254) NOT NULL, "is_staff" boolean NOT NULL,
          "is_active" boolean NOT NULL, "date_joined" timestamp with time zone NOT NULL)`)
          yield* sql.unsafe(`INSERT INTO "${db.schema}"."auth_user"
          (password, is_superuser, username, first_name, last_name, email, is_staff, is_active, date_joined)
          VALUES ('x', false, 'ada', 'Ada', 'L', 'ada@acme.com', true, true, '2020-01-01T00:00:00Z')`)
          const options = { ...UserRepo.tableShapes.django, table: `${db.schema}.auth_user` }
          const { evaluation, user, context } = yield* evaluate(options, "1")
          assert.deepStrictEqual([evaluation.context, evaluation.fallback], ["full", null])
          assert.deepStrictEqual(
            [user.id, user.email, user.email_verified, user.name],
            ["1", "ada@acme.com", false, null]
          )
          assert.strictEqual(context["email_domain"], "acme.com")
          assert.include(context.segments ?? [], "established_user")
        })
      )

      it.effect("Rails users: id bigint, created_at/updated_at timestamp(6) without time zone (read as UTC)", () =>
        Effect.gen(function* () {
          const db = yield* TestDatabase
          const sql = yield* SqlClient
          yield* sql.unsafe(`CREATE TABLE "${db.schema}"."rails_users" ("id" bigserial primary key,
          "email" character varying DEFAULT '' NOT NULL, "encrypted_password" character varying DEFAULT '' NOT NULL,
          "created_at" timestamp(6) NOT NULL, "updated_at" timestamp(6) NOT NULL)`)
          yield* sql.unsafe(`CREATE UNIQUE INDEX "index_users_on_email" ON "${db.schema}"."rails_users" ("email")`)
          yield* sql.unsafe(`INSERT INTO "${db.schema}"."rails_users" (id, email, created_at, updated_at)
          VALUES (9007199254740993, 'ada@acme.com', '2020-01-01 12:00:00.123456', '2024-06-01 08:00:00')`)
          const options = { ...UserRepo.tableShapes.rails, table: `${db.schema}.rails_users` }
          // Beyond Number.MAX_SAFE_INTEGER: the id stays exact because it travels as text.
          const { evaluation, user, context } = yield* evaluate(options, "9007199254740993")
          assert.deepStrictEqual([evaluation.context, evaluation.fallback], ["full", null])
          assert.strictEqual(user.id, "9007199254740993")
          assert.strictEqual(DateTime.formatIso(user.created_at), "2020-01-01T12:00:00.123Z")
          assert.strictEqual(DateTime.formatIso(user.updated_at), "2024-06-01T08:00:00.000Z")
          assert.include(context.segments ?? [], "established_user")
        })
      )
    })

    describe("ids in the column's own type", () => {
      const seedUuid = Effect.gen(function* () {
        const db = yield* TestDatabase
        const sql = yield* SqlClient
        const name = `uuid_${random()}`
        yield* sql.unsafe(`CREATE TABLE "${db.schema}"."${name}" (id uuid PRIMARY KEY, email text NOT NULL,
        email_verified boolean NOT NULL, name text, created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL,
        metadata jsonb NOT NULL DEFAULT '{}')`)
        yield* sql.unsafe(`INSERT INTO "${db.schema}"."${name}" (id, email, email_verified, created_at, updated_at)
        SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(i), 12, '0'))::uuid, 'u' || i || '@example.com', true, now(), now()
        FROM generate_series(1, 2000) AS i`)
        yield* sql.unsafe(`ANALYZE "${db.schema}"."${name}"`)
        return { ...UserRepo.tableShapes.snakeCase, table: `${db.schema}.${name}` }
      })
      const uuidOf = (i: number) => `00000000-0000-4000-8000-${i.toString(16).padStart(12, "0")}`

      it.effect("1,000 cold uuid users: at most 2 statements, the ids cast to uuid[], an index scan", () =>
        Effect.gen(function* () {
          const db = yield* TestDatabase
          const options = yield* seedUuid
          const repo = yield* build({ ...options, timeout: "20 seconds" })
          const ids = Array.from({ length: 1_000 }, (_, i) => uuidOf(i + 1))
          yield* db.clearStatements
          const found = yield* Effect.forEach(ids, (id) => repo.getById(id), { concurrency: "unbounded" })
          assert.deepStrictEqual(
            found.map((user) => user.id),
            ids
          )
          const sent = lookups(yield* db.statements)
          assert.isAtMost(sent.length, 2)
          assert.match(sent[0]?.sql ?? "", /= ANY\(\$1::uuid\[\]\)$/)

          const explain = yield* Effect.acquireUseRelease(
            db.admin.unsafe("SET enable_seqscan = off"),
            () =>
              db.admin.unsafe<{ readonly "QUERY PLAN": string }>(`EXPLAIN ${sent[0]?.sql ?? ""}`, [ids.slice(0, 10)]),
            () => Effect.ignore(db.admin.unsafe("RESET enable_seqscan"))
          )
          const plan = explain.map((row) => row["QUERY PLAN"]).join("\n")
          assert.match(plan, /Index/, plan)
          assert.notMatch(plan, /Seq Scan/, plan)
        })
      )

      it.effect("ids the column can't hold are UserNotFound without a statement, never an SQL error", () =>
        Effect.gen(function* () {
          const db = yield* TestDatabase
          const sql = yield* SqlClient
          const uuidRepo = yield* build(yield* seedUuid)
          const name = `int_${random()}`
          yield* sql.unsafe(`CREATE TABLE "${db.schema}"."${name}" (id integer PRIMARY KEY, email text NOT NULL,
          date_joined timestamptz NOT NULL)`)
          yield* sql.unsafe(`INSERT INTO "${db.schema}"."${name}" VALUES (7, 'seven@example.com', now())`)
          const intRepo = yield* build({ ...UserRepo.tableShapes.django, table: `${db.schema}.${name}` })
          yield* db.clearStatements
          const cases = [
            [uuidRepo, "abc"],
            [uuidRepo, "4b7e5a0c-2f6d-4a58-9d2e-0c8f3b1a6e1"],
            [uuidRepo, "nul\u0000"],
            [intRepo, "1.5"],
            [intRepo, "99999999999999999999"],
            [intRepo, "2147483648"],
            [intRepo, "07"],
            [intRepo, "seven"]
          ] as const
          for (const [repo, id] of cases) {
            const error = yield* Effect.flip(repo.getById(id))
            assert.strictEqual(error._tag, "UserNotFound", id)
          }
          assert.deepStrictEqual(lookups(yield* db.statements), [])
          // In a batch with them, a valid id is found.
          const [found, ...missing] = yield* Effect.all(
            [
              intRepo.getById("7"),
              ...cases.filter(([repo]) => repo === intRepo).map(([, id]) => Effect.flip(intRepo.getById(id)))
            ],
            { concurrency: "unbounded" }
          )
          assert.strictEqual(found?.id, "7")
          assert.lengthOf(missing, 5)
        })
      )
    })

    describe("misconfiguration fails fast, saying what to fix", () => {
      const seedTable = (columns: string) =>
        Effect.gen(function* () {
          const db = yield* TestDatabase
          const sql = yield* SqlClient
          const name = `t_${random()}`
          yield* sql.unsafe(`CREATE TABLE "${db.schema}"."${name}" (${columns})`)
          return { db, sql, name, table: `${db.schema}.${name}` }
        })

      it.effect("a missing table fails the layer, naming the table and the option", () =>
        Effect.gen(function* () {
          const db = yield* TestDatabase
          const error = yield* Effect.flip(build({ table: `${db.schema}.no_such_users` }))
          assert.instanceOf(error, UserTableMisconfigured)
          const misconfigured = error as UserTableMisconfigured
          assert.strictEqual(misconfigured.option, "table")
          assert.include(misconfigured.message, "no_such_users")
          assert.include(misconfigured.message, "does not exist")
          assert.include(misconfigured.message, "migrate: true")
          // Nothing was created.
          const tables = yield* db.admin<{ readonly table_name: string }>`
          SELECT table_name FROM information_schema.tables WHERE table_schema = ${db.schema}`
          assert.notInclude(
            tables.map((t) => t.table_name),
            "no_such_users"
          )
        })
      )

      it.effect("a missing column fails the layer, naming the column, its option and the columns there are", () =>
        Effect.gen(function* () {
          const { table } = yield* seedTable(`id text PRIMARY KEY, email text, created timestamptz`)
          const error = (yield* Effect.flip(
            build({ table, columns: { emailVerified: null, name: null, updatedAt: null, metadata: null } })
          )) as UserTableMisconfigured
          assert.strictEqual(error._tag, "UserTableMisconfigured")
          assert.deepStrictEqual([error.column, error.option], ["createdAt", "columns.createdAt"])
          assert.include(error.message, `"created"`)
          assert.include(error.message, "columns.createdAt")
        })
      )

      it.effect("a column of a type that can't map fails the layer, naming the type found and expected", () =>
        Effect.gen(function* () {
          const { table } = yield* seedTable(`id text PRIMARY KEY, email text, created_at date, metadata jsonb`)
          const error = (yield* Effect.flip(
            build({ table, columns: { createdAt: "created_at", emailVerified: null, name: null, updatedAt: null } })
          )) as UserTableMisconfigured
          assert.deepStrictEqual([error.column, error.found, error.option], ["created_at", "date", "columns.createdAt"])
          assert.include(error.message, "timestamptz, timestamp")
          const id = (yield* Effect.flip(
            build({
              table,
              columns: { id: "metadata", createdAt: "created_at", emailVerified: null, name: null, updatedAt: null }
            })
          )) as UserTableMisconfigured
          assert.deepStrictEqual([id.column, id.found, id.option], ["metadata", "jsonb", "columns.id"])
        })
      )

      it.effect("options that can't be right fail the layer with the option named, never a defect", () =>
        Effect.gen(function* () {
          const cases = [
            [{ columns: { id: null } }, "columns.id"],
            [{ columns: { email: "" } }, "columns.email"],
            [{ metadataLimits: { maxKeys: 0 } }, "metadataLimits.maxKeys"],
            [{ metadataLimits: { maxBytes: 1.5 } }, "metadataLimits.maxBytes"],
            [{ table: "a.b.c" }, "table"],
            [{ table: '"unterminated' }, "table"]
          ] as const
          for (const [options, option] of cases) {
            const error = (yield* Effect.flip(build(options as UserRepo.PgOptions))) as UserTableMisconfigured
            assert.deepStrictEqual(
              [error._tag, error.option],
              ["UserTableMisconfigured", option],
              JSON.stringify(options)
            )
            assert.include(error.message, option === "table" ? "table name" : `\`${option}\``)
          }
        })
      )

      it.effect("deferred: the layer builds before the table exists; lookups fail Misconfigured until it does", () =>
        Effect.gen(function* () {
          const db = yield* TestDatabase
          const sql = yield* SqlClient
          const name = `later_${random()}`
          const repo = yield* build({ table: `${db.schema}.${name}`, checkTable: "firstLookup" })
          const error = (yield* Effect.flip(repo.getById("user-1"))) as UserRepoError
          assert.deepStrictEqual(
            [error._tag, error.reason, error.isRetryable],
            ["UserRepoError", "Misconfigured", false]
          )
          assert.include(error.message, name)
          assert.include(error.message, "does not exist")
          yield* sql.unsafe(`CREATE TABLE "${db.schema}"."${name}" (id text PRIMARY KEY, email text NOT NULL,
          "emailVerified" boolean NOT NULL, name text, "createdAt" timestamptz NOT NULL, "updatedAt" timestamptz NOT NULL,
          metadata jsonb NOT NULL)`)
          yield* sql.unsafe(
            `INSERT INTO "${db.schema}"."${name}" VALUES ('user-1', 'a@example.com', true, NULL, now(), now(), '{}')`
          )
          assert.strictEqual(yield* eventually(repo.getById("user-1")), "user-1")
        })
      )

      it.effect(
        "a database unreachable at build: the layer builds, lookups say why, and the check runs once it is back",
        () =>
          Effect.gen(function* () {
            const db = yield* TestDatabase
            const { table } =
              yield* seedTable(`id text PRIMARY KEY, email text NOT NULL, "emailVerified" boolean NOT NULL,
          name text, "createdAt" timestamptz NOT NULL, "updatedAt" timestamptz NOT NULL, metadata jsonb NOT NULL`)
            yield* db.admin.unsafe(
              `INSERT INTO ${table
                .split(".")
                .map((part) => `"${part}"`)
                .join(".")} VALUES ('user-1', 'a@example.com', true, NULL, now(), now(), '{}')`
            )
            yield* db.disconnect
            const repo = yield* build({ table, timeout: "10 seconds" })
            const errors = yield* Effect.forEach(
              ["user-1", "user-2", "user-1"],
              (id) => Effect.flip(repo.getById(id)),
              {
                concurrency: "unbounded"
              }
            ).pipe(Effect.ensuring(db.reconnect))
            for (const error of errors) {
              const repoError = error as UserRepoError
              assert.deepStrictEqual([repoError.reason, repoError.isRetryable], ["Unavailable", true])
              assert.include(repoError.message, "ECONNREFUSED")
            }
            assert.strictEqual(yield* eventually(repo.getById("user-1")), "user-1")
          })
      )

      it.effect(
        "a table dropped after build: Misconfigured (not retryable), the SQL error and code in the message",
        () =>
          Effect.gen(function* () {
            const { sql, name, table } = yield* seedTable(`id text PRIMARY KEY, email text NOT NULL,
          "emailVerified" boolean NOT NULL, name text, "createdAt" timestamptz NOT NULL, "updatedAt" timestamptz NOT NULL,
          metadata jsonb NOT NULL`)
            const repo = yield* build({ table })
            yield* sql.unsafe(`DROP TABLE "${(yield* TestDatabase).schema}"."${name}"`)
            const error = (yield* Effect.flip(repo.getById("user-1"))) as UserRepoError
            assert.deepStrictEqual([error.reason, error.isRetryable], ["Misconfigured", false])
            assert.include(error.message, "does not exist")
            assert.include(error.message, "SQLSTATE 42P01")
          })
      )

      // PGlite has one role, a superuser: privileges need the real server.
      it.effect.skipIf(!process.env["DATABASE_URL"])(
        "a role without SELECT: the layer fails naming the grant; deferred, lookups fail Misconfigured (42501)",
        () =>
          Effect.gen(function* () {
            const db = yield* TestDatabase
            const { table } =
              yield* seedTable(`id text PRIMARY KEY, email text NOT NULL, "emailVerified" boolean NOT NULL,
            name text, "createdAt" timestamptz NOT NULL, "updatedAt" timestamptz NOT NULL, metadata jsonb NOT NULL`)
            const role = `efc_test_role_${random()}`
            yield* db.admin.unsafe(`CREATE ROLE "${role}" LOGIN`)
            yield* Effect.addFinalizer(() =>
              Effect.ignore(
                Effect.andThen(
                  db.admin.unsafe(`DROP OWNED BY "${role}"`),
                  db.admin.unsafe(`DROP ROLE IF EXISTS "${role}"`)
                )
              )
            )
            yield* db.admin.unsafe(`GRANT USAGE ON SCHEMA "${db.schema}" TO "${role}"`)
            const url = new URL(db.url)
            url.username = role
            const client = yield* PgClient.make({ url: Redacted.make(url.toString()), maxConnections: 2 }).pipe(
              Effect.provide(Reactivity.layer)
            )
            const asRole = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.provideService(effect, SqlClient, client)

            const error = (yield* Effect.flip(asRole(build({ table })))) as UserTableMisconfigured
            assert.strictEqual(error._tag, "UserTableMisconfigured")
            assert.include(error.message, "permission denied")
            assert.include(error.message, "GRANT SELECT")

            const repo = yield* asRole(build({ table, checkTable: "firstLookup" }))
            const lookup = (yield* Effect.flip(repo.getById("user-1"))) as UserRepoError
            assert.deepStrictEqual([lookup.reason, lookup.isRetryable], ["Misconfigured", false])
            assert.include(lookup.message, "permission denied")
          })
      )
    })
  }
)
