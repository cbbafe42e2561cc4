import { assert, describe, it } from "@effect/vitest"
import { parseQualifiedName, quoteQualifiedName } from "../src/internal/identifier.js"
import { resolveTable } from "../src/internal/userTable.js"

describe("table names", () => {
  it.each([
    ["User", undefined, "User", '"User"'],
    ["app.users", "app", "users", '"app"."users"'],
    ['"app"."users"', "app", "users", '"app"."users"'],
    ['"my.schema".Users', "my.schema", "Users", '"my.schema"."Users"'],
    ['"we""ird"', undefined, 'we"ird', '"we""ird"'],
    ['User"; DROP TABLE x; --', undefined, undefined, undefined]
  ] as const)("%s", (input, schema, name, quoted) => {
    if (name === undefined) {
      assert.throws(() => parseQualifiedName(input), /invalid table name/)
      return
    }
    const parsed = parseQualifiedName(input)
    assert.deepStrictEqual(parsed, { schema, name })
    assert.strictEqual(quoteQualifiedName(parsed), quoted)
  })

  it.each(["", ".", "a.", ".a", "a..b", "a.b.c", '"unterminated', '"a"b', "a\u0000b"])("rejects %j", (input) => {
    assert.throws(() => parseQualifiedName(input), /invalid table name/)
  })

  it("maps columns, aliasing the renamed ones to the names UserRow expects", () => {
    const table = resolveTable({ table: "app.users", columns: { createdAt: "created_at" } })
    assert.include(table.selectList, '"created_at" AS "createdAt"')
    assert.include(table.selectList, '"emailVerified"')
    assert.strictEqual(table.migrationsTable, "app._users_migrations")
    assert.strictEqual(resolveTable({}).migrationsTable, "_User_migrations")
    assert.strictEqual(resolveTable({ table: '"a.b"' }).migrationsTable, "_a_b_migrations")
  })
})
