/**
 * The `check` command: validates a table configuration (`--table`, `--column`) against a database,
 * column by column, then prints the context the library would build for one user. Read-only.
 *
 * @since 0.2.0
 */
import { Console, Effect, Option } from "effect"
import { Argument, Command } from "effect/cli"
import { SqlClient } from "effect/sql/SqlClient"
import { acceptsType, type CatalogRow, catalogColumns, catalogSql, expectedTypes } from "../internal/pgUserTable.js"
import { columnKeys, resolveTable } from "../internal/userTable.js"
import { BadUserId, DatabaseError, InvalidOption } from "./Errors.js"
import { checkUserId, printResolved, resolveContext } from "./output.js"
import { databaseError, withContexts, withDatabase } from "./runtime.js"
import { resolveSettings, root, type Settings } from "./settings.js"
import { renderTable } from "./Table.js"

/** One line per key of the User model: where it is read from, what was found, and what is wrong. */
const checkColumns = Effect.fnUntraced(function* (settings: Settings) {
  const sql = yield* SqlClient
  const table = yield* Effect.try({
    try: () => resolveTable({ table: settings.table }),
    catch: (error) =>
      new InvalidOption({ option: "--table", problem: error instanceof Error ? error.message : String(error) })
  })
  // The library's own catalog query and type rules (`UserRepo.layerPg` checks the same at build).
  const catalog = catalogColumns(
    yield* sql
      .unsafe<CatalogRow>(catalogSql, [table.quoted])
      .pipe(Effect.mapError(databaseError(settings.database, "read the table's columns")))
  )
  if (catalog === undefined) {
    return yield* new DatabaseError({
      address: settings.database.address,
      action: `check the user table ${table.quoted}`,
      problem:
        "it does not exist (or this role can't see it); create it with `effect-flag-context setup --database-url URL`, or give --table"
    })
  }
  const found = new Map(catalog.map((column) => [column.name, column]))
  const lines = columnKeys.map((key) => {
    const mapped = settings.columns[key]
    const name = mapped === undefined ? key : mapped
    if (name === null) return { key, column: "(none)", type: "", problem: undefined }
    const column = found.get(name)
    const problem =
      column === undefined
        ? `no column ${JSON.stringify(name)}; name the right one with --column ${key}=COLUMN${key === "id" ? "" : ` (or --column ${key}= if the table has none)`}`
        : !acceptsType(key, column.type)
          ? `type ${column.declared}, expected ${expectedTypes(key)}`
          : !column.readable
            ? `permission denied: GRANT SELECT on ${JSON.stringify(name)} to the role of the connection`
            : undefined
    return { key, column: name, type: column?.declared ?? "(missing)", problem }
  })
  return { table: table.quoted, lines }
})

/**
 * The `check` command.
 *
 * @since 0.2.0
 * @category commands
 */
export const checkCommand = Command.make(
  "check",
  {
    userId: Argument.String("userId").pipe(
      Argument.withDescription("The user whose context to show (default: the first row of the table)"),
      Argument.optional
    )
  },
  Effect.fn("Cli.check")(function* ({ userId }) {
    const settings = yield* resolveSettings(yield* root, "other")
    if (settings.database._tag === "Embedded") {
      return yield* new InvalidOption({
        option: "check",
        problem: "checks a table of yours: give --database-url (or set DATABASE_URL)"
      })
    }
    const report = yield* withDatabase(settings, checkColumns(settings))
    yield* Console.log(`table ${report.table} at ${settings.database.address}`)
    yield* Console.log(
      renderTable(
        [{ header: "field" }, { header: "column" }, { header: "type" }, { header: "" }],
        report.lines.map((line) => [line.key, line.column, line.type, line.problem === undefined ? "ok" : "✗"])
      )
    )
    const problems = report.lines.filter((line) => line.problem !== undefined)
    if (problems.length > 0) {
      return yield* new InvalidOption({
        option: "table configuration",
        problem: problems.map((line) => `${line.key}: ${line.problem}`).join("; ")
      })
    }
    const id = Option.isSome(userId)
      ? yield* checkUserId(userId.value)
      : yield* withDatabase(
          settings,
          Effect.gen(function* () {
            const sql = yield* SqlClient
            const table = resolveTable({ table: settings.table })
            const column = settings.columns.id ?? "id"
            const [first] = yield* sql<{ readonly id: string }>`SELECT ${sql(column)}::text AS id FROM ${sql.literal(
              table.quoted
            )} ORDER BY 1 LIMIT 1`.pipe(Effect.mapError(databaseError(settings.database, "read a user id")))
            if (first === undefined) {
              return yield* new BadUserId({ userId: "", problem: "the table is empty: give a user id to check" })
            }
            return yield* checkUserId(first.id)
          })
        )
    const resolved = yield* withContexts(settings, resolveContext(id, {}))
    yield* printResolved(resolved)
    if (resolved.fallback !== null) {
      return yield* new DatabaseError({
        address: settings.database.address,
        action: `load the user ${JSON.stringify(id)}`,
        problem:
          resolved.fallback === "UserNotFound"
            ? "no user has this id"
            : `${resolved.reason ?? "failed"}${resolved.cause === undefined ? "" : `: ${resolved.cause}`}`
      })
    }
  })
).pipe(
  Command.withDescription(
    "Check the table configuration (--table, --column) against the database, column by column, and print the context built for one user. Read-only; exits 1 on a problem"
  ),
  Command.withExamples([
    {
      command: "effect-flag-context check --database-url postgres://… --table auth_user --column createdAt=date_joined",
      description: "A Django table"
    }
  ])
)
