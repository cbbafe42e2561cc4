/**
 * Fault suite, long identifiers: Postgres keeps the first 63 bytes of a name. Table names of 63
 * bytes (ASCII and multibyte) migrate, with every derived name (constraints, bookkeeping tables of
 * the table and of the notify trigger) whole and distinct; a longer table name is refused with a
 * clear message instead of being truncated. On the server of `DATABASE_URL`, else PGlite.
 */
import { assert, layer } from "@effect/vitest"
import { Cause, DateTime, Effect, Exit, Layer } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { fitIdentifier, identifierBytes } from "../../src/internal/identifier.js"
import { User, type UserId } from "../../src/User.js"
import { UserChangeNotifier } from "../../src/UserChangeNotifier.js"
import { UserRepo } from "../../src/UserRepo.js"
import * as UserTable from "../../src/UserTable.js"
import { TestDatabase } from "../support/TestDatabase.js"

const ada = new User({
  id: "user-ada" as UserId,
  email: "ada@example.com",
  email_verified: true,
  name: "Ada",
  created_at: DateTime.makeUnsafe(Date.UTC(2024, 0, 1)),
  updated_at: DateTime.makeUnsafe(Date.UTC(2024, 0, 1)),
  metadata: {}
})

/** Names of exactly `bytes` UTF-8 bytes. */
const ascii63 = `U${"s".repeat(62)}`
const multibyte63 = `${"é".repeat(31)}x` // 2-byte characters: 62 + 1
const cjk63 = "用".repeat(21) // 3-byte characters
const sharedPrefixA = `${"p".repeat(62)}a`
const sharedPrefixB = `${"p".repeat(62)}b`
const sixtyTwo = `N${"n".repeat(61)}` // both bookkeeping names, truncated, would be `_${sixtyTwo}`

/** The non-internal relations and constraints Postgres holds for `table` in the current schema. */
const derivedNames = (table: string) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient
    const constraints = yield* sql<{ readonly name: string }>`SELECT conname AS name FROM pg_constraint
      WHERE contype IN ('p', 'u') AND conrelid = (SELECT c.oid FROM pg_class c WHERE c.relname = ${table}
        AND c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema()))`
    return constraints.map((row) => row.name).sort()
  })

const tablesInSchema = Effect.gen(function* () {
  const sql = yield* SqlClient
  const rows = yield* sql<{ readonly name: string }>`SELECT tablename AS name FROM pg_tables
    WHERE schemaname = current_schema()`
  return rows.map((row) => row.name)
})

const lookup = (table: string) =>
  Effect.gen(function* () {
    const context = yield* Layer.build(UserRepo.layerPg({ table }))
    return yield* Effect.provideContext(
      Effect.gen(function* () {
        return yield* (yield* UserRepo).getById(ada.id)
      }),
      context
    )
  })

layer(TestDatabase.layer, { timeout: 60_000 })("long identifiers", (it) => {
  it("fitIdentifier - short names unchanged; long ones 63 bytes at most, cut between characters, distinct", () => {
    assert.strictEqual(fitIdentifier("User_pkey"), "User_pkey")
    assert.strictEqual(fitIdentifier("x".repeat(63)), "x".repeat(63))
    for (const name of [ascii63, multibyte63, cjk63, sharedPrefixA]) {
      for (const suffix of ["_pkey", "_email_key", "_migrations"]) {
        const fitted = fitIdentifier(`${name}${suffix}`)
        assert.isAtMost(identifierBytes(fitted), 63)
        assert.notInclude(fitted, "\ufffd")
        assert.isTrue(`${name}${suffix}`.startsWith(fitted.slice(0, fitted.lastIndexOf("_"))))
      }
    }
    assert.notStrictEqual(fitIdentifier(`${sharedPrefixA}_pkey`), fitIdentifier(`${sharedPrefixB}_pkey`))
    assert.notStrictEqual(fitIdentifier(`${ascii63}_pkey`), fitIdentifier(`${ascii63}_email_key`))
  })

  it.effect.each([ascii63, multibyte63, cjk63])(
    "a 63-byte table name migrates, serves users, and gets its notify trigger: %s",
    (table) =>
      Effect.gen(function* () {
        assert.strictEqual(identifierBytes(table), 63)
        assert.deepStrictEqual(yield* UserTable.migrate({ table }), [[1, "create_user_table"]])
        assert.deepStrictEqual(yield* UserTable.migrate({ table }), [], "applied twice")
        yield* UserTable.insertUsers([ada], { table })
        assert.strictEqual((yield* Effect.scoped(lookup(table))).email, ada.email)

        const constraints = yield* derivedNames(table)
        assert.lengthOf(constraints, 2)
        for (const name of constraints) assert.isAtMost(identifierBytes(name), 63)

        assert.lengthOf(yield* UserChangeNotifier.migrate({ table }), 2)
        assert.deepStrictEqual(yield* UserChangeNotifier.migrate({ table }), [], "applied twice")
        const tables = yield* tablesInSchema
        assert.include(tables, table)
        const bookkeeping = tables.filter((name) => name.startsWith("_"))
        assert.includeMembers(bookkeeping, [
          fitIdentifier(`_${table}_migrations`),
          fitIdentifier(`_${table}_notify_migrations`)
        ])
        const sql = yield* SqlClient
        const triggers = yield* sql<{ readonly def: string }>`SELECT pg_get_triggerdef(t.oid) AS def
        FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
        WHERE c.relname = ${table} AND c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())
          AND NOT t.tgisinternal`
        assert.lengthOf(triggers, 1)
        assert.include(triggers[0]?.def ?? "", "AFTER INSERT OR DELETE OR UPDATE")
      })
  )

  it.effect("two 63-byte names that share 62 bytes are two tables with their own constraints", () =>
    Effect.gen(function* () {
      yield* UserTable.migrate({ table: sharedPrefixA })
      yield* UserTable.migrate({ table: sharedPrefixB })
      yield* UserTable.insertUsers([ada], { table: sharedPrefixA })
      yield* UserTable.insertUsers([ada], { table: sharedPrefixB })
      const a = yield* derivedNames(sharedPrefixA)
      const b = yield* derivedNames(sharedPrefixB)
      assert.lengthOf(a, 2)
      assert.lengthOf(b, 2)
      assert.lengthOf(
        a.filter((name) => b.includes(name)),
        0
      )
    })
  )

  it.effect("a 62-byte name: the notify trigger's bookkeeping table is not the table's own", () =>
    Effect.gen(function* () {
      yield* UserTable.migrate({ table: sixtyTwo })
      // Truncated to 63 bytes, both bookkeeping names were the same table, and the trigger was
      // recorded as applied without being installed.
      assert.lengthOf(yield* UserChangeNotifier.migrate({ table: sixtyTwo }), 2)
    })
  )

  it.effect("a table or schema name over 63 bytes is refused with a clear message, before any statement", () =>
    Effect.gen(function* () {
      const tooLong = `V${"v".repeat(63)}`
      for (const table of [tooLong, `${"é".repeat(32)}`, `${"s".repeat(64)}.User`]) {
        const exit = yield* Effect.exit(UserTable.migrate({ table }))
        assert.isTrue(Exit.isFailure(exit), table)
        if (Exit.isFailure(exit)) assert.include(Cause.pretty(exit.cause), "longer than 63 bytes")
        const notify = yield* Effect.exit(UserChangeNotifier.migrate({ table }))
        assert.isTrue(Exit.isFailure(notify), table)
      }
      assert.notInclude(yield* tablesInSchema, tooLong.slice(0, 63))
    })
  )
})
