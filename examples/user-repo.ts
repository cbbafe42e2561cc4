/**
 * The four ways to provide a `UserRepo`: in memory, embedded Postgres, your own Postgres (the
 * Prisma `User` table or an existing table of yours), and a remote HTTP user service; and a
 * repository of your own over a batching `RequestResolver`.
 *
 * `program` runs the in-memory, embedded, existing-table and HTTP repositories against local
 * resources (an embedded database, a loopback HTTP server) and needs nothing else.
 */
import * as Http from "node:http"
import { PgClient } from "@effect/sql-pg"
import { Config, Context, DateTime, Effect, Exit, Layer, Redacted, Request, RequestResolver, Schema } from "effect"
import { FetchHttpClient } from "effect/http"
import { SqlClient } from "effect/sql/SqlClient"
import {
  ContextBuilder,
  ContextCache,
  User,
  UserFromJson,
  UserId,
  UserNotFound,
  UserRepo,
  UserTable,
  validateUserId
} from "effect-flag-context"
import { EmbeddedPostgres, layerEmbedded } from "effect-flag-context/embedded"

const ada = new User({
  id: UserId.make("user-ada"),
  email: "ada@example.com",
  email_verified: true,
  name: "Ada",
  created_at: DateTime.makeUnsafe(Date.UTC(2024, 0, 1)),
  updated_at: DateTime.makeUnsafe(Date.UTC(2024, 0, 1)),
  metadata: { plan: "pro" }
})

// #region lookup
// Every layer provides the same service: code that needs users only ever sees this.
const greet = (id: string) =>
  Effect.gen(function* () {
    const users = yield* UserRepo
    const user = yield* users.getById(id)
    return `hello ${user.name ?? user.email}`
  }).pipe(
    Effect.catchTag("UserNotFound", () => Effect.succeed("hello stranger")),
    // UserRepoError.isRetryable: "Unavailable" and "Timeout" may succeed later; "Decode", "Http" and
    // "Misconfigured" won't. error.message carries the root cause (SQLSTATE, ECONNREFUSED, the field).
    Effect.catchTag("UserRepoError", (error) => Effect.succeed(`no answer (${error.reason})`))
  )
// #endregion

// #region memory
// For your own tests: a fixed set of users.
const InMemory = UserRepo.layerMemory([ada])
// #endregion

// #region embedded
// PGlite in-process behind a loopback socket, migrated and seeded; closed when the layer is released.
// From the `effect-flag-context/embedded` entry point, so production code never loads WebAssembly.
const Embedded = layerEmbedded({ users: [ada] /* , dataDir: ".pglite-data" */ })
// #endregion

// #region postgres
// Production: a PgClient pool on DATABASE_URL, and the Prisma `User` table. Concurrent lookups are
// batched into one `SELECT … WHERE "id" = ANY($1)` of at most `maxBatchSize` ids. The layer checks
// the table when it is built and fails with UserTableMisconfigured if it doesn't match.
export const Production = UserRepo.layerPgConfig({ timeout: "1 second", maxBatchSize: 500 })

// Or on a PgClient you already have, creating the table first with effect's Migrator
// (`UserTable.migrate` as an effect, or `migrate: true` in the options).
const Database = PgClient.layerConfig({ url: Config.Redacted("DATABASE_URL") })
export const WithMigration = UserRepo.layerPg().pipe(Layer.provide(UserTable.layerMigrate()), Layer.provide(Database))
// #endregion

// #region existing-table
// An existing table of yours, schema-qualified, whose columns are not named like Prisma's. Only
// these seven columns are read; the table keeps any others to itself. See examples/table-shapes.ts.
const AppUsers = UserRepo.layerPg({
  table: "app.users", // or '"app"."users"'; quote a part that contains a dot
  columns: { emailVerified: "email_verified", createdAt: "created_at", updatedAt: "updated_at" }
})
// #endregion

// #region http
// A remote user service: GET {baseUrl}/users/{id} answering the User as JSON. 404 is UserNotFound;
// 408, 429, 5xx and transport errors are retried (exponential backoff with jitter, Retry-After
// honoured up to maxDelay); other 4xx and undecodable bodies are final. `timeout` bounds the
// whole lookup, retries included.
const remote = (baseUrl: string) =>
  UserRepo.layerHttp({
    baseUrl,
    timeout: "3 seconds",
    retry: { times: 3, baseDelay: "50 millis", maxDelay: "1 second", attemptTimeout: "500 millis" }
  }).pipe(Layer.provide(FetchHttpClient.layer))
// #endregion

const createAppUsers = Effect.gen(function* () {
  const sql = yield* SqlClient
  yield* sql`CREATE SCHEMA IF NOT EXISTS app`
  yield* sql`CREATE TABLE IF NOT EXISTS app.users (
    id text PRIMARY KEY, email text NOT NULL, email_verified boolean NOT NULL, name text,
    created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL, metadata jsonb NOT NULL DEFAULT '{}')`
  yield* sql`INSERT INTO app.users VALUES ('app-1', 'grace@example.com', true, 'Grace', now(), now(), '{}')
    ON CONFLICT (id) DO NOTHING`
})

/** A loopback user service answering from the in-memory repository, for the HTTP layer to call. */
const userService = Effect.acquireRelease(
  Effect.callback<Http.Server>((resume) => {
    const server = Http.createServer((request, response) => {
      const id = decodeURIComponent(request.url?.replace(/^\/users\//, "") ?? "")
      void Effect.runPromise(
        Effect.result(
          Effect.provide(
            UserRepo.use((users) => users.getById(id)),
            InMemory
          )
        )
      ).then((result) => {
        const found = result._tag === "Success"
        response.writeHead(found ? 200 : 404, { "content-type": "application/json" })
        response.end(found ? JSON.stringify(Schema.encodeSync(UserFromJson)(result.success)) : "{}")
      })
    })
    server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
  }),
  (server) =>
    Effect.callback<void>((resume) => {
      server.close(() => resume(Effect.void))
      server.closeAllConnections()
    })
)

// #region lookup-unsafe
// Your own repository over a batching RequestResolver: `getById` for everyone, and the optional
// `lookupUnsafe`, with which the context cache starts a lookup without a fiber of its own.
interface GetUser extends Request.Request<User, UserNotFound> {
  readonly id: UserId
}
const GetUser = Request.of<GetUser>()

const makeBatched = (users: ReadonlyMap<string, User>) => {
  const resolver = RequestResolver.make<GetUser>((entries) =>
    Effect.sync(() => {
      // One call for the whole batch here: one query, one HTTP request, …
      for (const entry of entries) {
        const user = users.get(entry.request.id)
        entry.completeUnsafe(
          user === undefined ? Exit.fail(new UserNotFound({ userId: entry.request.id })) : Exit.succeed(user)
        )
      }
    })
  )
  return UserRepo.of({
    getById: (id) => Effect.flatMap(validateUserId(id), (userId) => Effect.request(GetUser({ id: userId }), resolver)),
    lookupUnsafe: (id, { context, onExit }) => Effect.requestUnsafe(GetUser({ id }), { resolver, context, onExit })
  })
}

const Batched = Layer.sync(UserRepo, () => makeBatched(new Map([[ada.id, ada]])))
const BatchedCache = ContextCache.layer().pipe(Layer.provide(Layer.merge(Batched, ContextBuilder.layer())))
// #endregion

export const program = Effect.gen(function* () {
  const fromMemory = yield* Effect.provide(greet("user-ada"), InMemory)
  const fromBatched = yield* Effect.provide(greet("user-ada"), Batched)
  const cached = yield* Effect.provide(
    ContextCache.use((cache) => cache.get("user-ada")),
    BatchedCache
  )
  if (cached.key !== "user-ada") return yield* Effect.die(new Error("the cache did not load ada"))

  const embedded = yield* Layer.build(Embedded)
  const fromEmbedded = yield* Effect.provide(greet("user-ada"), embedded)

  // Any PgClient will do for an existing table: here, one on the embedded database.
  const client = PgClient.layer({ url: Redacted.make(Context.get(embedded, EmbeddedPostgres).url) })
  yield* Effect.provide(createAppUsers, client)
  const fromAppTable = yield* Effect.provide(greet("app-1"), AppUsers.pipe(Layer.provide(client)))

  const server = yield* userService
  const address = server.address()
  const port = address !== null && typeof address === "object" ? address.port : 0
  const fromHttp = yield* Effect.provide(greet("user-nobody"), remote(`http://127.0.0.1:${port}`))

  return [fromMemory, fromBatched, fromEmbedded, fromAppTable, fromHttp]
}).pipe(Effect.scoped)
