/**
 * Bring your own user table: the configuration of `UserRepo.layerPg` for the user tables of six
 * frameworks, the check that fails the layer when the table does not match, and the bounds on
 * what is read of each user.
 *
 * `program` creates each table with the DDL its framework generates on an embedded database, reads
 * one user from each, and shows the message of a misconfigured table.
 */
import { Effect, Layer } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { UserRepo } from "effect-flag-context"
import { layerPgClient } from "effect-flag-context/embedded"

// #region prisma
// Prisma's `User` model (the default): nothing to configure.
const Prisma = UserRepo.layerPg()
// #endregion

// #region authjs
// Prisma with the Auth.js adapter: `"emailVerified" timestamp(3) NULL` (verified when set, as the
// column's type is read from the catalog), a nullable `email` (no `email_domain`, no `employee`),
// and no metadata column (`null`: metadata reads as `{}`).
const AuthJs = UserRepo.layerPg({ table: "User", columns: { metadata: null } })
// #endregion

// #region supabase
// Supabase `auth.users`: a uuid id (looked up as `= ANY($1::uuid[])`, so the primary key is used),
// `email_confirmed_at` as the verification, `raw_user_meta_data` as the metadata.
const Supabase = UserRepo.layerPg({
  table: "auth.users",
  columns: {
    emailVerified: "email_confirmed_at",
    name: null,
    createdAt: "created_at",
    updatedAt: "updated_at",
    metadata: "raw_user_meta_data"
  }
})
// Or, the same: UserRepo.layerPg(UserRepo.tableShapes.supabase)
// #endregion

// #region snake-case
// A snake_case application table (Drizzle, Lucia): id uuid or text, `email_verified boolean`.
const SnakeCase = UserRepo.layerPg({
  table: "users",
  columns: { emailVerified: "email_verified", createdAt: "created_at", updatedAt: "updated_at" }
})
// #endregion

// #region django
// Django's `auth_user`: an integer id (ask for "42"), `date_joined`; no verification column (every
// email reads as unverified), no single name column, no metadata.
const Django = UserRepo.layerPg({
  table: "auth_user",
  columns: { emailVerified: null, name: null, createdAt: "date_joined", updatedAt: null, metadata: null }
})
// #endregion

// #region rails
// Rails `users`: a bigint id (exact beyond 2^53: ids travel as text), `timestamp(6)` columns without
// time zone, read as UTC (Rails stores UTC).
const Rails = UserRepo.layerPg({
  table: "users",
  columns: { emailVerified: null, name: null, createdAt: "created_at", updatedAt: "updated_at", metadata: null }
})
// #endregion

// #region misconfigured
// The layer checks the table against the configuration when it is built. A missing table, a
// missing column, a column of a type that can't map, or a column the role may not SELECT fails it
// with UserTableMisconfigured, whose message names the table, the column, the types and the option.
const explain = (repo: ReturnType<typeof UserRepo.layerPg>) =>
  Layer.build(repo).pipe(
    Effect.as("ok"),
    Effect.catchTag("UserTableMisconfigured", (error) => Effect.succeed(error.message))
  )
// #endregion

// #region deferred
// A table created after the application starts: the check runs on lookups until it passes;
// meanwhile they fail with UserRepoError "Misconfigured" (not retryable) and the same message.
// Metadata is bounded per user: over 64 KiB (measured in the database, which then never sends
// it), 1,000 keys or a depth of 32 it reads as {} with a warning naming the user.
const Deferred = UserRepo.layerPg({
  table: "later.users",
  checkTable: "firstLookup",
  metadataLimits: { maxBytes: 16 * 1024, maxKeys: 200, maxDepth: 8 }
})
// #endregion

/** The DDL each framework generates (abridged to the columns that matter), and one user. */
const createTables = Effect.gen(function* () {
  const sql = yield* SqlClient
  yield* sql.unsafe(`CREATE TABLE "User" ("id" TEXT NOT NULL PRIMARY KEY, "email" TEXT NOT NULL,
    "emailVerified" BOOLEAN NOT NULL DEFAULT true, "name" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP, "updatedAt" TIMESTAMP(3) NOT NULL,
    "metadata" JSONB NOT NULL DEFAULT '{}')`)
  yield* sql.unsafe(`INSERT INTO "User" VALUES ('ck1', 'ada@example.com', true, 'Ada', now(), now(), '{}')`)
  yield* sql.unsafe(`CREATE SCHEMA auth`)
  yield* sql.unsafe(`CREATE TABLE auth.users (id uuid NOT NULL PRIMARY KEY, email varchar(255) NULL,
    email_confirmed_at timestamptz NULL, raw_user_meta_data jsonb NULL, created_at timestamptz NULL,
    updated_at timestamptz NULL)`)
  yield* sql.unsafe(`INSERT INTO auth.users VALUES ('4b7e5a0c-2f6d-4a58-9d2e-0c8f3b1a6e11', 'grace@example.com',
    now(), '{"plan":"pro"}', now(), now())`)
  yield* sql.unsafe(`CREATE TABLE users (id uuid PRIMARY KEY, email text NOT NULL,
    email_verified boolean NOT NULL DEFAULT false, name text, created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(), metadata jsonb NOT NULL DEFAULT '{}')`)
  yield* sql.unsafe(`INSERT INTO users (id, email) VALUES ('0f8fad5b-d9cb-469f-a165-70867728950e', 'lin@example.com')`)
  yield* sql.unsafe(`CREATE TABLE auth_user (id integer PRIMARY KEY GENERATED BY DEFAULT AS IDENTITY,
    username varchar(150) NOT NULL, email varchar(254) NOT NULL, date_joined timestamptz NOT NULL)`)
  yield* sql.unsafe(`INSERT INTO auth_user (username, email, date_joined) VALUES ('alan', 'alan@example.com', now())`)
})

const emailOf = (id: string) => UserRepo.use((users) => Effect.map(users.getById(id), (user) => user.email))

export const program = Effect.gen(function* () {
  yield* createTables
  const emails = yield* Effect.all([
    Effect.provide(emailOf("ck1"), Prisma),
    Effect.provide(emailOf("ck1"), AuthJs),
    Effect.provide(emailOf("4b7e5a0c-2f6d-4a58-9d2e-0c8f3b1a6e11"), Supabase),
    Effect.provide(emailOf("0f8fad5b-d9cb-469f-a165-70867728950e"), SnakeCase),
    Effect.provide(emailOf("1"), Django)
  ])
  // Rails' configuration reads the snake_case table too; a column that isn't there fails the build.
  const rails = yield* explain(Rails)
  const misconfigured = yield* explain(UserRepo.layerPg({ table: "users", columns: { createdAt: "inserted_at" } }))
  const deferred = yield* Effect.provide(
    UserRepo.use((users) => Effect.flip(users.getById("1"))),
    Deferred
  )
  return { emails, rails, misconfigured, deferred: deferred.message }
}).pipe(Effect.scoped, Effect.provide(layerPgClient()))
