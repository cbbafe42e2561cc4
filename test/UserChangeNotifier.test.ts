/**
 * Live invalidation against the real Postgres (LISTEN/NOTIFY does not cross pglite-socket
 * connections): `DATABASE_URL`, else the local server. Each test gets its own schema and channel,
 * dropped afterwards; application instances are independently built layer stacks.
 */
import { randomBytes } from "node:crypto"
import { assert, describe, it } from "@effect/vitest"
import { PgClient } from "@effect/sql-pg"
import {
  Cause,
  Clock,
  ConfigProvider,
  Context,
  DateTime,
  Duration,
  Effect,
  Exit,
  Latch,
  Layer,
  Metric,
  Redacted,
  Ref,
  Schedule,
  Scope
} from "effect"
import * as Reactivity from "effect/reactivity/Reactivity"
import { SqlClient } from "effect/sql/SqlClient"
import { ContextBuilder } from "../src/ContextBuilder.js"
import { ContextCache } from "../src/ContextCache.js"
import { FlagClient, TestFlags } from "../src/FlagClient.js"
import { User, type UserId } from "../src/User.js"
import { UserChangeNotifier, UserChangeNotifierMetrics, userChangeNotifierConfig } from "../src/UserChangeNotifier.js"
import { UserRepo } from "../src/UserRepo.js"
import * as UserTable from "../src/UserTable.js"

const url = process.env["DATABASE_URL"] || "postgres://postgres@127.0.0.1:5432/test"
/** Where a real Postgres is expected (CI, or an explicit `DATABASE_URL`), being unreachable fails. */
const required = (process.env["CI"] ?? "") !== "" || (process.env["DATABASE_URL"] ?? "") !== ""

const pgLayer = (applicationName: string, maxConnections = 4) =>
  PgClient.layer({ url: Redacted.make(url), applicationName, maxConnections, connectTimeout: "3 seconds" })

const reachable = await Effect.runPromise(
  Effect.gen(function* () {
    const sql = yield* SqlClient
    yield* sql`SELECT 1`
    return true
  }).pipe(
    Effect.provide(pgLayer("efc_notify_probe", 1)),
    Effect.timeout("3 seconds"),
    Effect.catchCause(() => Effect.succeed(false))
  )
)

const flag = "beta-feature"
const day = (n: number) => DateTime.makeUnsafe(Date.UTC(2024, 0, n))
const makeUser = (id: string, segments: ReadonlyArray<string>) =>
  new User({
    id: id as UserId,
    email: `${id}@example.com`,
    email_verified: true,
    name: id,
    created_at: day(1),
    updated_at: day(2),
    metadata: { segments: [...segments] }
  })
const ada = makeUser("user-ada", [])
const grace = makeUser("user-grace", [])

/** A fresh schema with the user table, its trigger, and the users; dropped with the test's scope. */
const freshDatabase = (users: ReadonlyArray<User>) =>
  Effect.gen(function* () {
    const suffix = `${Date.now().toString(36)}_${randomBytes(4).toString("hex")}`
    const schema = `efc_notify_${suffix}`
    const channel = `efc_notify_${suffix}`
    const table = `${schema}.User`
    const admin = yield* PgClient.make({
      url: Redacted.make(url),
      maxConnections: 2,
      applicationName: `${schema}_admin`
    }).pipe(Effect.provide(Reactivity.layer))
    yield* Effect.acquireRelease(admin.unsafe(`CREATE SCHEMA "${schema}"`), () =>
      Effect.ignore(admin.unsafe(`DROP SCHEMA "${schema}" CASCADE`))
    )
    const asAdmin = Effect.provideService(SqlClient, admin)
    yield* asAdmin(UserTable.migrate({ table }))
    yield* asAdmin(UserChangeNotifier.migrate({ table, channel }))
    yield* asAdmin(UserTable.insertUsers(users, { table }))
    return {
      schema,
      channel,
      table,
      admin,
      /** Sets a user's `metadata.segments` in one committed statement. */
      setSegments: (userId: string, segments: ReadonlyArray<string>) =>
        admin`UPDATE ${admin.literal(`"${schema}"."User"`)} SET "metadata" = ${JSON.stringify({
          segments
        })}::jsonb, "updatedAt" = now() WHERE "id" = ${userId}`
    }
  })

type Database = Effect.Success<ReturnType<typeof freshDatabase>>

/** One application instance: its own pool, repository, cache, SDK client and listener. */
const instance = (db: Database, name: string, reconnect?: Schedule.Schedule<unknown, unknown>) =>
  Layer.mergeAll(FlagClient.layerTest, UserChangeNotifier.layerListen({ channel: db.channel, reconnect })).pipe(
    Layer.provideMerge(ContextCache.layer()),
    Layer.provideMerge(Layer.mergeAll(UserRepo.layerPg({ table: db.table }), ContextBuilder.layer())),
    Layer.provideMerge(pgLayer(`${db.schema}_${name}`))
  )

/** The same instance, listening through the cache's own option `invalidateOn: "notify"`. */
const instanceWithOption = (db: Database, name: string) =>
  FlagClient.layerTest.pipe(
    Layer.provideMerge(ContextCache.layer({ invalidateOn: "notify", notify: { channel: db.channel } })),
    Layer.provideMerge(Layer.mergeAll(UserRepo.layerPg({ table: db.table }), ContextBuilder.layer())),
    Layer.provideMerge(pgLayer(`${db.schema}_${name}`))
  )

/** Builds an instance, flags `beta-feature` on for segment `beta`, and waits until it listens. */
const startInstance = (db: Database, name: string, reconnect?: Schedule.Schedule<unknown, unknown>) =>
  Effect.gen(function* () {
    const context = yield* Layer.build(instance(db, name, reconnect))
    yield* Effect.provideContext(
      Effect.gen(function* () {
        yield* (yield* TestFlags).enableForSegments(flag, ["beta"])
        yield* (yield* UserChangeNotifier).awaitListening.pipe(Effect.timeout("5 seconds"))
      }),
      context
    )
    return context
  })

const isEnabled = (context: Context.Context<FlagClient>, userId: UserId) =>
  Effect.provideContext(FlagClient.isEnabled(flag, userId), context)

/**
 * Polls `check` until it holds, for at most `within`; returns the milliseconds it took. A bounded
 * loop: at most one check every 10 ms until the deadline, then a failure naming `what`.
 */
const eventually = <E, R>(what: string, within: Duration.Input, check: Effect.Effect<boolean, E, R>) =>
  Effect.gen(function* () {
    const start = yield* Clock.currentTimeMillis
    const limit = Duration.toMillis(Duration.fromInputUnsafe(within))
    for (let attempt = 0; attempt <= limit / 10; attempt++) {
      if (yield* check) return (yield* Clock.currentTimeMillis) - start
      if ((yield* Clock.currentTimeMillis) - start >= limit) break
      yield* Effect.sleep("10 millis")
    }
    return yield* Effect.die(new Error(`${what}: not within ${Duration.format(Duration.fromInputUnsafe(within))}`))
  })

const counts = Effect.all({
  received: Metric.value(UserChangeNotifierMetrics.received),
  applied: Metric.value(UserChangeNotifierMetrics.applied),
  rejected: Metric.value(UserChangeNotifierMetrics.rejected),
  reconnects: Metric.value(UserChangeNotifierMetrics.reconnects)
}).pipe(
  Effect.map((state) => ({
    received: state.received.count,
    applied: state.applied.count,
    rejected: state.rejected.count,
    reconnects: state.reconnects.count
  }))
)

const listenerPids = (db: Database, applicationName: string) =>
  Effect.map(
    db.admin<{ readonly pid: number }>`SELECT pid FROM pg_stat_activity
      WHERE application_name = ${applicationName} AND query = ${`LISTEN "${db.channel}"`}`,
    (rows) => rows.map((row) => row.pid)
  )

const backends = (db: Database, applicationName: string) =>
  Effect.map(
    db.admin<{
      readonly n: number
    }>`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = ${applicationName}`,
    (rows) => rows[0]?.n ?? 0
  )

if (!reachable && required) {
  describe("UserChangeNotifier - real Postgres", () => {
    it("Postgres is reachable", () => {
      assert.fail(
        `cannot reach Postgres at ${url}; live invalidation must be tested against a real server when CI or DATABASE_URL is set`
      )
    })
  })
}

describe.skipIf(!reachable)(
  `UserChangeNotifier - real Postgres${reachable ? "" : ` (SKIPPED: ${url} is unreachable; set DATABASE_URL)`}`,
  () => {
    it.live(
      "two instances (layerListen, and ContextCache invalidateOn: notify) - both serve a segment change within 2 seconds, with no call to invalidate",
      () =>
        Effect.gen(function* () {
          const db = yield* freshDatabase([ada])
          const withOption = yield* Layer.build(instanceWithOption(db, "b"))
          yield* Effect.provideContext(
            Effect.gen(function* () {
              yield* (yield* TestFlags).enableForSegments(flag, ["beta"])
            }),
            withOption
          )
          const instances: ReadonlyArray<Context.Context<FlagClient>> = [yield* startInstance(db, "a"), withOption]
          for (const context of instances) assert.isFalse(yield* isEnabled(context, ada.id))

          yield* db.setSegments(ada.id, ["beta"])
          const took = yield* Effect.forEach(
            instances,
            (context, i) => eventually(`instance ${i} serves the change`, "2 seconds", isEnabled(context, ada.id)),
            { concurrency: "unbounded" }
          )
          assert.lengthOf(took, 2)

          // And back: the listener keeps working after the first change.
          yield* db.setSegments(ada.id, [])
          yield* Effect.forEach(
            instances,
            (context, i) =>
              eventually(
                `instance ${i} serves the revert`,
                "2 seconds",
                Effect.map(isEnabled(context, ada.id), (on) => !on)
              ),
            { concurrency: "unbounded" }
          )
        }),
      20_000
    )

    it.live(
      "reconnect - after pg_terminate_backend, an update made while the listener was down is reflected",
      () =>
        Effect.gen(function* () {
          const db = yield* freshDatabase([ada])
          // The test holds the reconnection back until it has made its update.
          const gate = yield* Latch.make(true)
          const reconnect = Schedule.spaced("20 millis").pipe(Schedule.tap(() => gate.await))
          const context = yield* startInstance(db, "a", reconnect)
          const notifier = Context.get(context, UserChangeNotifier)
          assert.isFalse(yield* isEnabled(context, ada.id))

          const [pid, ...others] = yield* listenerPids(db, `${db.schema}_a`)
          assert.isDefined(pid)
          assert.lengthOf(others, 0)
          const before = yield* counts
          yield* gate.close
          yield* db.admin`SELECT pg_terminate_backend(${pid})`
          yield* eventually(
            "the listener notices",
            "2 seconds",
            Effect.map(notifier.isListening, (on) => !on)
          )

          yield* db.setSegments(ada.id, ["beta"])
          // Nobody heard it: the instance still serves the cached user.
          assert.isFalse(yield* isEnabled(context, ada.id))
          assert.isFalse(yield* notifier.isListening)

          yield* gate.open
          yield* eventually("the update made while down is served", "2 seconds", isEnabled(context, ada.id))
          assert.isTrue(yield* notifier.isListening)
          assert.strictEqual((yield* counts).reconnects - before.reconnects, 1)
          const [newPid] = yield* listenerPids(db, `${db.schema}_a`)
          assert.isDefined(newPid)
          assert.notStrictEqual(newPid, pid)
        }),
      20_000
    )

    it.live(
      "untrusted payloads - forged malformed notifications change nothing and are counted",
      () =>
        Effect.gen(function* () {
          const db = yield* freshDatabase([ada, grace])
          const context = yield* startInstance(db, "a")
          const notifier = Context.get(context, UserChangeNotifier)
          assert.isFalse(yield* isEnabled(context, ada.id))
          assert.isFalse(yield* isEnabled(context, grace.id))

          // Ada changes without a notification: if anything invalidated her, she would show it.
          yield* db.admin`ALTER TABLE ${db.admin.literal(`"${db.schema}"."User"`)} DISABLE TRIGGER USER`
          yield* db.setSegments(ada.id, ["beta"])
          yield* db.admin`ALTER TABLE ${db.admin.literal(`"${db.schema}"."User"`)} ENABLE TRIGGER USER`

          const malformed = [
            "",
            " \t\r\n\u00a0\u3000",
            "x".repeat(300),
            "\ufffd\u0001\u007f\u200b\udbff\udfff".repeat(60),
            // A cached user's id, padded past the limit: not hers.
            `${ada.id}${"\t".repeat(250)}`
          ]
          // Well-formed but nobody's id: it is applied, and there is nothing to drop.
          const strangerId = "\ufffd\u0001 no such user"
          const before = yield* counts
          for (const payload of [...malformed, strangerId]) {
            yield* db.admin`SELECT pg_notify(${db.channel}, ${payload})`
          }
          // Notifications arrive in commit order: once Grace's change is served, the forged ones
          // before it have been handled.
          yield* db.setSegments(grace.id, ["beta"])
          yield* eventually("a real change after the forged ones is served", "2 seconds", isEnabled(context, grace.id))

          assert.isFalse(yield* isEnabled(context, ada.id), "a forged notification invalidated a user")
          assert.isTrue(yield* notifier.isListening)
          const after = yield* counts
          assert.deepStrictEqual(
            {
              received: after.received - before.received,
              applied: after.applied - before.applied,
              rejected: after.rejected - before.rejected,
              reconnects: after.reconnects - before.reconnects
            },
            { received: malformed.length + 2, applied: 2, rejected: malformed.length, reconnects: 0 }
          )
        }),
      20_000
    )

    it.live(
      "trigger - quotes a schema-qualified table, a custom id column and an odd channel; INSERT, UPDATE and DELETE",
      () =>
        Effect.gen(function* () {
          const db = yield* freshDatabase([])
          const options = {
            table: `"${db.schema}"."Odd ""User"" $x$ table.v2"`,
            columns: { id: "user id" },
            channel: `odd "chan" 'x' \\ $$ ${db.schema.slice(-12)}`
          }
          const asAdmin = Effect.provideService(SqlClient, db.admin)
          yield* asAdmin(UserTable.migrate(options))
          assert.lengthOf(yield* asAdmin(UserChangeNotifier.migrate(options)), 2)
          assert.lengthOf(yield* asAdmin(UserChangeNotifier.migrate(options)), 0, "applied twice")

          const seen = yield* Ref.make<ReadonlyArray<string>>([])
          const pg = yield* Layer.build(pgLayer(`${db.schema}_odd`))
          const notifier = yield* UserChangeNotifier.make(
            {
              invalidate: (userId) => Ref.update(seen, (ids) => [...ids, userId]),
              invalidateAll: Effect.void
            },
            { channel: options.channel }
          ).pipe(Effect.provideContext(pg))
          yield* notifier.awaitListening.pipe(Effect.timeout("5 seconds"))

          const quoted = db.admin.literal(`"${db.schema}"."Odd ""User"" $x$ table.v2"`)
          const users = [makeUser("u1", []), makeUser("u2", []), makeUser("u3", [])]
          yield* asAdmin(UserTable.insertUsers(users, options))
          yield* db.admin`UPDATE ${quoted} SET "metadata" = '{"segments":["beta"]}' WHERE "user id" = 'u1'`
          yield* db.admin`UPDATE ${quoted} SET "metadata" = "metadata" WHERE "user id" = 'u1'`
          yield* db.admin`UPDATE ${quoted} SET "user id" = 'u2-renamed' WHERE "user id" = 'u2'`
          yield* db.admin`DELETE FROM ${quoted} WHERE "user id" = 'u3'`
          const expected = ["u1", "u2", "u3", "u1", "u2", "u2-renamed", "u3"]
          yield* eventually(
            "every change is notified",
            "5 seconds",
            Effect.map(Ref.get(seen), (ids) => ids.length >= expected.length)
          )
          assert.deepStrictEqual(yield* Ref.get(seen), expected)
        }),
      20_000
    )

    it.live(
      "new users - a remembered 'no such user' ends on both instances when the user is created (p99 printed)",
      () =>
        Effect.gen(function* () {
          const db = yield* freshDatabase([])
          const withOption = yield* Layer.build(instanceWithOption(db, "b"))
          yield* Effect.provideContext(
            Effect.gen(function* () {
              yield* (yield* TestFlags).enableForSegments(flag, ["beta"])
            }),
            withOption
          )
          const instances: ReadonlyArray<Context.Context<FlagClient | ContextCache>> = [
            yield* startInstance(db, "a"),
            withOption
          ]
          const took: Array<number> = []
          for (let i = 0; i < 20; i++) {
            const newcomer = makeUser(`user-new-${i}`, ["beta"])
            for (const context of instances) {
              assert.isFalse(yield* isEnabled(context, newcomer.id))
              const cache = Context.get(context, ContextCache)
              const error = yield* Effect.flip(cache.getUser(newcomer.id))
              assert.strictEqual(error._tag, "UserNotFound", "remembered as missing")
            }
            const start = yield* Clock.currentTimeMillis
            yield* Effect.provideService(UserTable.insertUsers([newcomer], { table: db.table }), SqlClient, db.admin)
            yield* Effect.forEach(
              instances,
              (context, n) =>
                eventually(`instance ${n} serves new user ${i}`, "2 seconds", isEnabled(context, newcomer.id)),
              { concurrency: "unbounded" }
            )
            took.push((yield* Clock.currentTimeMillis) - start)
          }
          const sorted = took.slice().sort((a, b) => a - b)
          const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]
          console.log(
            `new user served on both instances after INSERT: p50 ${at(0.5)} ms, p99 ${at(0.99)} ms, max ${at(1)} ms (n=${took.length})`
          )
        }),
      60_000
    )

    it.live("migration - a table with the first trigger (UPDATE and DELETE) gets the INSERT one", () =>
      Effect.gen(function* () {
        const db = yield* freshDatabase([])
        const triggerDef = Effect.map(
          db.admin<{ readonly def: string }>`SELECT pg_get_triggerdef(t.oid) AS def FROM pg_trigger t
            JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = ${db.schema} AND c.relname = 'User' AND NOT t.tgisinternal`,
          (rows) => rows.map((row) => row.def)
        )
        // As version 0.1 left it: the first migration applied, its trigger without INSERT.
        const quoted = `"${db.schema}"."User"`
        yield* db.admin.unsafe(`DELETE FROM "${db.schema}"."_User_notify_migrations" WHERE migration_id = 2`)
        yield* db.admin.unsafe(`DROP TRIGGER effect_flag_context_user_changed ON ${quoted}`)
        yield* db.admin.unsafe(
          `CREATE TRIGGER effect_flag_context_user_changed AFTER UPDATE OR DELETE ON ${quoted} FOR EACH ROW EXECUTE FUNCTION "${db.schema}".effect_flag_context_notify_user_changed('${db.channel}', 'id')`
        )
        const [before] = yield* triggerDef
        assert.notInclude(before, "INSERT")

        const applied = yield* Effect.provideService(
          UserChangeNotifier.migrate({ table: db.table, channel: db.channel }),
          SqlClient,
          db.admin
        )
        assert.deepStrictEqual(applied, [[2, "notify_user_inserts"]])
        const after = yield* triggerDef
        assert.lengthOf(after, 1)
        assert.include(after[0], "AFTER INSERT OR DELETE OR UPDATE")
      })
    )

    it.live(
      "pool too small - notify over a pool of one connection fails at build, saying why (ContextCache option and layerListen)",
      () =>
        Effect.gen(function* () {
          const db = yield* freshDatabase([ada])
          const repo = Layer.mergeAll(UserRepo.layerPg({ table: db.table }), ContextBuilder.layer())
          const viaOption = ContextCache.layer({ invalidateOn: "notify", notify: { channel: db.channel } }).pipe(
            Layer.provideMerge(repo),
            Layer.provideMerge(pgLayer(`${db.schema}_one`, 1))
          )
          const viaLayer = UserChangeNotifier.layerListen({ channel: db.channel }).pipe(
            Layer.provideMerge(ContextCache.layer()),
            Layer.provideMerge(repo),
            Layer.provideMerge(pgLayer(`${db.schema}_one`, 1))
          )
          const buildExit = <A, E>(layer: Layer.Layer<A, E>) => Effect.exit(Effect.scoped(Layer.build(layer)))
          for (const exit of [yield* buildExit(viaOption), yield* buildExit(viaLayer)]) {
            assert.isTrue(Exit.isFailure(exit))
            if (Exit.isFailure(exit)) {
              const message = Cause.pretty(exit.cause)
              assert.include(message, "maxConnections 1")
              assert.include(message, "listenUrl")
            }
          }
        }),
      20_000
    )

    it.live(
      "listenUrl - the listener on its own direct connection: a pool of one still serves lookups, and changes arrive",
      () =>
        Effect.gen(function* () {
          const db = yield* freshDatabase([ada])
          const listenUrl = `${url}${url.includes("?") ? "&" : "?"}application_name=${db.schema}_listen`
          const context = yield* Layer.build(
            FlagClient.layerTest.pipe(
              Layer.provideMerge(
                ContextCache.layer({ invalidateOn: "notify", notify: { channel: db.channel, listenUrl } })
              ),
              Layer.provideMerge(Layer.mergeAll(UserRepo.layerPg({ table: db.table }), ContextBuilder.layer())),
              Layer.provideMerge(pgLayer(`${db.schema}_pool`, 1))
            )
          )
          yield* Effect.provideContext(
            Effect.gen(function* () {
              yield* (yield* TestFlags).enableForSegments(flag, ["beta"])
            }),
            context
          )
          yield* eventually(
            "the listener listens on its own connection",
            "5 seconds",
            Effect.map(listenerPids(db, `${db.schema}_listen`), (pids) => pids.length === 1)
          )
          assert.lengthOf(yield* listenerPids(db, `${db.schema}_pool`), 0, "the pool's connection is not listening")
          assert.isFalse(yield* isEnabled(context, ada.id))
          yield* db.setSegments(ada.id, ["beta"])
          yield* eventually("the change is served", "2 seconds", isEnabled(context, ada.id))

          // The same from configuration: DATABASE_LISTEN_URL, with layerListenConfig.
          const configured = yield* Layer.build(
            UserChangeNotifier.layerListenConfig({ channel: db.channel }).pipe(
              Layer.provideMerge(ContextCache.layer()),
              Layer.provideMerge(Layer.mergeAll(UserRepo.layerPg({ table: db.table }), ContextBuilder.layer())),
              Layer.provideMerge(pgLayer(`${db.schema}_pool2`, 1)),
              Layer.provide(
                ConfigProvider.layer(
                  ConfigProvider.fromEnv({ env: { DATABASE_LISTEN_URL: listenUrl.replace(/_listen$/, "_listen2") } })
                )
              )
            )
          )
          yield* Context.get(configured, UserChangeNotifier).awaitListening.pipe(Effect.timeout("5 seconds"))
          assert.lengthOf(yield* listenerPids(db, `${db.schema}_listen2`), 1)
          assert.lengthOf(yield* listenerPids(db, `${db.schema}_pool2`), 0)
        }),
      20_000
    )

    it.live(
      "release - closing the listener runs UNLISTEN, and closing the client leaves no backend",
      () =>
        Effect.gen(function* () {
          const db = yield* freshDatabase([])
          const applicationName = `${db.schema}_rel`
          const clientScope = yield* Scope.make()
          const pg = yield* Layer.buildWithScope(pgLayer(applicationName), clientScope)
          const listenerScope = yield* Scope.make()
          const notifier = yield* UserChangeNotifier.make(
            { invalidate: () => Effect.void, invalidateAll: Effect.void },
            { channel: db.channel }
          ).pipe(Effect.provideContext(pg), Scope.provide(listenerScope))
          yield* notifier.awaitListening.pipe(Effect.timeout("5 seconds"))
          assert.lengthOf(yield* listenerPids(db, applicationName), 1)

          yield* Scope.close(listenerScope, Exit.void)
          assert.isFalse(yield* notifier.isListening)
          assert.lengthOf(yield* listenerPids(db, applicationName), 0, "still listening after release")

          yield* Scope.close(clientScope, Exit.void)
          yield* eventually(
            "every backend of the client has ended",
            "2 seconds",
            Effect.map(backends(db, applicationName), (n) => n === 0)
          )
        }),
      20_000
    )
  }
)

describe("userChangeNotifierConfig", () => {
  it.effect("reads DATABASE_LISTEN_URL as listenUrl (redacted); without it, no option", () =>
    Effect.gen(function* () {
      const read = (env: Record<string, string>) =>
        Effect.provide(userChangeNotifierConfig, ConfigProvider.layer(ConfigProvider.fromEnv({ env })))
      const configured = yield* read({ DATABASE_LISTEN_URL: "postgres://direct:5432/app" })
      assert.isTrue(Redacted.isRedacted(configured.listenUrl))
      if (Redacted.isRedacted(configured.listenUrl)) {
        assert.strictEqual(Redacted.value(configured.listenUrl), "postgres://direct:5432/app")
      }
      assert.deepStrictEqual(yield* read({}), {})
    })
  )
})
