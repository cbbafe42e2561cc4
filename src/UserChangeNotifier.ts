/**
 * Live invalidation: Postgres tells every instance of the application when a user changes, and each
 * drops that user from its {@link ContextCache}, so flags follow a change in about a second instead
 * of a time-to-live.
 *
 * Two parts, both opt-in: a trigger on the user table that `pg_notify`s the id of a user after an
 * `INSERT`, `UPDATE` or `DELETE` ({@link UserChangeNotifier.migrate}), and a listener per instance
 * ({@link UserChangeNotifier.layerListen}). See `docs/caching.md`.
 *
 * @since 0.1.0
 */
import type { PgClient } from "@effect/sql-pg"
import { Config, Context, Effect, Layer, Option, type Scope } from "effect"
import * as Migrator from "effect/sql/Migrator"
import { SqlClient } from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"
import { ContextCache } from "./ContextCache.js"
import {
  checkChannel,
  defaultChannel,
  type InvalidationTarget,
  type ListenOptions,
  listenForUserChanges,
  metrics
} from "./internal/notifyListener.js"
import { fitIdentifier } from "./internal/identifier.js"
import { triggerStatements } from "./internal/notifyTrigger.js"
import { resolveTable } from "./internal/userTable.js"
import type { UserTableOptions } from "./UserTable.js"

/**
 * The channel used when none is configured: `effect_flag_context_user_changed`.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultUserChangedChannel: string = defaultChannel

/**
 * Options of the listener: the channel, the reconnection schedule, and optionally a connection
 * string of its own (`listenUrl`).
 *
 * @since 0.1.0
 * @category models
 */
export interface UserChangeNotifierOptions extends ListenOptions {}

/**
 * The listener's configuration: `DATABASE_LISTEN_URL`, optional, a connection string for the
 * listener alone (see `listenUrl`), for an application whose `DATABASE_URL` goes through a pooler
 * that can't `LISTEN`.
 *
 * @since 0.2.0
 * @category config
 */
export const userChangeNotifierConfig: Config.Config<UserChangeNotifierOptions> = Config.Redacted(
  "DATABASE_LISTEN_URL"
).pipe(
  Config.option,
  Config.map(Option.match({ onNone: (): UserChangeNotifierOptions => ({}), onSome: (listenUrl) => ({ listenUrl }) }))
)

/**
 * What the listener invalidates. A `ContextCache` is one.
 *
 * @since 0.1.0
 * @category models
 */
export interface UserChangeTarget extends InvalidationTarget {}

/**
 * Options of the trigger migration: where the users live, and the channel to notify.
 *
 * @since 0.1.0
 * @category models
 */
export interface NotifyTriggerOptions extends UserTableOptions {
  /** The channel to notify. Default {@link defaultUserChangedChannel}. */
  readonly channel?: string | undefined
  /**
   * The migrator's bookkeeping table for the trigger. Defaults to `_<table>_notify_migrations`,
   * next to the user table: separate from the table's own, so that the trigger can be added at any
   * time whatever ids the table's migrations have reached (shortened with a hash when that name
   * would pass 63 bytes, so that the two stay distinct).
   */
  readonly migrationsTable?: string | undefined
}

/**
 * The listener's counters: notifications `received`, `applied` (a valid user id, invalidated),
 * `rejected` (the payload is not a valid `UserId`: ignored), and `reconnects` (listening again
 * after a lost connection, which invalidates every user).
 *
 * @since 0.1.0
 * @category metrics
 */
export const UserChangeNotifierMetrics = metrics

const runMigrator = Migrator.make({})

const notifyMigrationsTable = (options: NotifyTriggerOptions | undefined): string => {
  const { name } = resolveTable({ table: options?.table, migrationsTable: "unused" })
  // `Migrator` splits its table name on dots.
  if (name.schema?.includes(".") === true) {
    throw new Error(`the schema of ${JSON.stringify(options?.table)} contains a dot: set migrationsTable`)
  }
  const table = fitIdentifier(`_${name.name.replaceAll(".", "_")}_notify_migrations`)
  return name.schema === undefined ? table : `${name.schema}.${table}`
}

/**
 * Listens for user changes and invalidates the users it is told about.
 *
 * The listener holds one connection of the `PgClient` pool, or opens its own with `listenUrl`. A
 * pool of one connection (it would have none left for lookups) is refused when the listener is
 * built, with the reason. Notification payloads are untrusted: anything that is not a valid
 * `UserId` is ignored and counted. After a lost connection it listens again with backoff, then
 * invalidates every user, since changes may have been missed meanwhile.
 *
 * @since 0.1.0
 * @category services
 */
export class UserChangeNotifier extends Context.Service<
  UserChangeNotifier,
  {
    /** The channel listened on. */
    readonly channel: string
    /** Whether a `LISTEN` is confirmed right now. */
    readonly isListening: Effect.Effect<boolean>
    /** Waits until a `LISTEN` is confirmed (at once when it is). Bound it with a timeout. */
    readonly awaitListening: Effect.Effect<void>
  }
>()("effect-flag-context/UserChangeNotifier") {
  /**
   * Starts a listener in the current scope that invalidates `target`, and returns at once: it
   * connects in the background. Closing the scope stops it and gives its connection back.
   *
   * @since 0.1.0
   */
  static readonly make: (
    target: UserChangeTarget,
    options?: UserChangeNotifierOptions
  ) => Effect.Effect<UserChangeNotifier["Service"], never, PgClient.PgClient | Scope.Scope> = listenForUserChanges

  /**
   * A listener that invalidates the {@link ContextCache} of the environment.
   *
   * @since 0.1.0
   */
  static readonly layerListen = (
    options?: UserChangeNotifierOptions
  ): Layer.Layer<UserChangeNotifier, never, PgClient.PgClient | ContextCache> =>
    Layer.effect(
      UserChangeNotifier,
      Effect.gen(function* () {
        return yield* listenForUserChanges(yield* ContextCache, options)
      })
    )

  /**
   * {@link UserChangeNotifier.layerListen} with its options read from
   * {@link userChangeNotifierConfig} (`DATABASE_LISTEN_URL`) and `channel` given here.
   *
   * @since 0.2.0
   */
  static readonly layerListenConfig = (options?: {
    readonly channel?: string | undefined
  }): Layer.Layer<UserChangeNotifier, Config.ConfigError, PgClient.PgClient | ContextCache> =>
    Layer.unwrap(
      Effect.map(userChangeNotifierConfig, (config) => UserChangeNotifier.layerListen({ ...config, ...options }))
    )

  /**
   * The trigger's migrations, keyed `<id>_<name>` as `Migrator.fromRecord` expects (re-key them to
   * run them under an application's own migrator). Each installs the current trigger (replacing any
   * older one): `1_notify_user_changes` for a new table, `2_notify_user_inserts` for a table that
   * has the first version, which did not notify `INSERT`s.
   *
   * @since 0.1.0
   */
  static readonly migrations = (
    options?: NotifyTriggerOptions
  ): Readonly<Record<string, Effect.Effect<void, SqlError, SqlClient>>> => {
    // Only the table and its columns matter here, not the bookkeeping table's name.
    const table = resolveTable({ table: options?.table, columns: options?.columns, migrationsTable: "unused" })
    const statements = triggerStatements(
      table,
      options?.columns?.id ?? "id",
      checkChannel(options?.channel ?? defaultChannel)
    )
    const install = Effect.gen(function* () {
      const sql = yield* SqlClient
      for (const statement of statements) yield* sql.unsafe(statement)
    })
    return { "1_notify_user_changes": install, "2_notify_user_inserts": install }
  }

  /**
   * Installs the trigger with effect's `Migrator`, in its own bookkeeping table (see
   * {@link NotifyTriggerOptions}), and returns the migrations it applied. Run it after the table
   * exists (after `UserTable.migrate`).
   *
   * @since 0.1.0
   */
  static readonly migrate = (
    options?: NotifyTriggerOptions
  ): Effect.Effect<ReadonlyArray<readonly [id: number, name: string]>, Migrator.MigrationError | SqlError, SqlClient> =>
    Effect.suspend(() => {
      // Named like the table's own bookkeeping table, so the two sit side by side (and stay two
      // tables when the names are long enough to be shortened).
      const migrationsTable = options?.migrationsTable ?? notifyMigrationsTable(options)
      return runMigrator({
        loader: Migrator.fromRecord({ ...UserChangeNotifier.migrations(options) }),
        table: migrationsTable
      })
    })

  /**
   * A layer that installs the trigger when it is built. Provide it after `UserTable.layerMigrate`:
   * `UserChangeNotifier.layerMigrate(o).pipe(Layer.provide(UserTable.layerMigrate(o)))`.
   *
   * @since 0.1.0
   */
  static readonly layerMigrate = (
    options?: NotifyTriggerOptions
  ): Layer.Layer<never, Migrator.MigrationError | SqlError, SqlClient> =>
    Layer.effectDiscard(UserChangeNotifier.migrate(options))

  /**
   * The listener's counters.
   *
   * @since 0.1.0
   */
  static readonly metrics = UserChangeNotifierMetrics
}
