/**
 * Embedded Postgres: PGlite in-process, served on an ephemeral loopback port by
 * `@electric-sql/pglite-socket`, with the same `@effect/sql-pg` client and migration on top as
 * a real server. For local runs, demos and tests.
 *
 * Import it from `effect-flag-context/embedded`: the root entry point never loads PGlite's
 * WebAssembly.
 *
 * @since 0.1.0
 */
import { PGlite } from "@electric-sql/pglite"
import { PGLiteSocketServer } from "@electric-sql/pglite-socket"
import { PgClient } from "@effect/sql-pg"
import { Context, Effect, Layer, Schema } from "effect"
import type { MigrationError } from "effect/sql/Migrator"
import type { SqlClient } from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"
import type { User } from "./User.js"
import { freshDataDir } from "./embedded/Template.js"
import { UserRepo, type UserTableMisconfigured } from "./UserRepo.js"
import * as UserTable from "./UserTable.js"

/**
 * PGlite or its socket server failed to start.
 *
 * @since 0.1.0
 * @category errors
 */
export class EmbeddedPostgresError extends Schema.TaggedError<EmbeddedPostgresError>()("EmbeddedPostgresError", {
  message: Schema.String,
  cause: Schema.Defect()
}) {}

/**
 * Options of the embedded database.
 *
 * @since 0.1.0
 * @category models
 */
export interface EmbeddedOptions {
  /**
   * Where PGlite keeps its files. By default, a fresh copy of this machine's prepared template (see
   * `template`), removed when the layer is released.
   */
  readonly dataDir?: string | undefined
  /**
   * Without `dataDir`: start from a copy of a database cluster prepared once per machine (in
   * `$XDG_CACHE_HOME/effect-flag-context`, made by the first start) rather than initializing an
   * empty one, which costs seconds of CPU and hundreds of MB on every start. Default `true`;
   * `false` initializes in memory.
   */
  readonly template?: boolean | undefined
  /** The client pool's size. Default 10; the socket server accepts more than that. */
  readonly maxConnections?: number | undefined
}

/**
 * A running embedded database: the PGlite instance and the loopback address it is served on.
 *
 * @since 0.1.0
 * @category services
 */
export class EmbeddedPostgres extends Context.Service<
  EmbeddedPostgres,
  {
    readonly db: PGlite
    readonly host: string
    readonly port: number
    /** `postgres://postgres@host:port/postgres`: trust authentication, nothing secret. */
    readonly url: string
    /** Stops the socket server and closes its connections; the database stays. */
    readonly stop: Effect.Effect<void>
    /** Serves the database again, on the same port. */
    readonly start: Effect.Effect<void, EmbeddedPostgresError>
  }
>()("effect-flag-context/EmbeddedPostgres") {
  /**
   * Starts PGlite and its socket server; both close when the layer is released.
   *
   * @since 0.1.0
   */
  static readonly layer = (options?: EmbeddedOptions): Layer.Layer<EmbeddedPostgres, EmbeddedPostgresError> =>
    Layer.effect(EmbeddedPostgres, makeEmbedded(options ?? {}))
}

const makeEmbedded = Effect.fnUntraced(function* (options: EmbeddedOptions) {
  const dataDir = options.dataDir ?? (options.template === false ? undefined : yield* freshDataDir)
  const db = yield* Effect.acquireRelease(
    Effect.tryPromise({
      try: () => PGlite.create(dataDir),
      catch: (cause) => new EmbeddedPostgresError({ message: "PGlite did not start", cause })
    }),
    (db) => Effect.promise(() => db.close())
  )
  const server = new PGLiteSocketServer({
    db,
    host: "127.0.0.1",
    port: 0,
    // One connection per pooled client plus headroom for cancel requests: beyond the limit the
    // server answers garbage instead of a Postgres error.
    maxConnections: (options.maxConnections ?? 10) * 2 + 8
  })
  const start = Effect.tryPromise({
    try: () => server.start(),
    catch: (cause) => new EmbeddedPostgresError({ message: "the PGlite socket server did not start", cause })
  })
  const stop = Effect.promise(() => server.stop())
  // pglite-socket's `stop` can wait forever for a socket it no longer closes (seen when a process is
  // interrupted while starting): the release is bounded so that shutting down always finishes.
  yield* Effect.acquireRelease(start, () =>
    stop.pipe(
      Effect.timeoutOrElse({
        duration: "2 seconds",
        orElse: () => Effect.logWarning("the embedded Postgres socket server did not close within 2 seconds")
      })
    )
  )
  const address = server.getServerConn()
  const port = Number(address.slice(address.lastIndexOf(":") + 1))
  const host = "127.0.0.1"
  return EmbeddedPostgres.of({ db, host, port, url: `postgres://postgres@${host}:${port}/postgres`, stop, start })
})

/**
 * A `PgClient` pool on an embedded database, which it provides too, e.g. to stop and restart
 * its socket server.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerPgClient = (
  options?: EmbeddedOptions
): Layer.Layer<PgClient.PgClient | SqlClient | EmbeddedPostgres, EmbeddedPostgresError | SqlError> =>
  Layer.unwrap(
    Effect.map(EmbeddedPostgres, (embedded) =>
      PgClient.layer({
        host: embedded.host,
        port: embedded.port,
        username: "postgres",
        database: "postgres",
        maxConnections: options?.maxConnections ?? 10,
        applicationName: "effect-flag-context/embedded"
      })
    )
  ).pipe(Layer.provideMerge(EmbeddedPostgres.layer(options)))

/**
 * Options of {@link layerEmbedded}.
 *
 * @since 0.1.0
 * @category models
 */
export interface LayerEmbeddedOptions extends EmbeddedOptions, Omit<UserRepo.PgOptions, "migrate" | "columns"> {
  /** Actual column names of the table it creates (none may be `null`: the table is created here). */
  readonly columns?: UserTable.UserTableOptions["columns"]
  /** Users to insert (or update) once the table exists. */
  readonly users?: Iterable<User> | undefined
}

/**
 * The user repository on an embedded database: the table is migrated, optionally seeded, and
 * served by {@link UserRepo.layerPg}. Everything closes when the layer is released.
 *
 * Without `dataDir` it starts from a copy of this machine's prepared template (made by the first
 * start, with a log line). Measured on a 2-core machine (`npm run bench`, section "Embedded start-up"
 * of `docs/benchmarks.md`: to the first answered lookup, in a fresh process): ≈ 4 s and 365 MiB peak
 * RSS from the template, against ≈ 8–9 s and 740 MiB initializing an empty cluster (`template: false`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerEmbedded = (
  options?: LayerEmbeddedOptions
): Layer.Layer<
  UserRepo | EmbeddedPostgres,
  EmbeddedPostgresError | MigrationError | SqlError | UserTableMisconfigured
> => {
  const seed =
    options?.users === undefined ? Layer.empty : Layer.effectDiscard(UserTable.insertUsers(options.users, options))
  return UserRepo.layerPg(options).pipe(
    Layer.provide(seed),
    Layer.provide(UserTable.layerMigrate(options)),
    Layer.provideMerge(layerPgClient(options))
  )
}
