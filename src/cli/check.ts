/**
 * The `check` command: validates a table configuration (`--table`, `--column`) against a database,
 * column by column, then prints the context the library would build for one user. Read-only.
 *
 * @since 0.2.0
 */
import { Console, Effect, Option } from "effect"
import { Argument, Command } from "effect/cli"
import { SqlClient } from "effect/sql/SqlClient"
import { type ColumnKey, columnKeys, resolveTable } from "../internal/userTable.js"
import { BadUserId, DatabaseError, InvalidOption } from "./Errors.js"
import { checkUserId, printJson, resolveContext } from "./output.js"
import { databaseError, withContexts, withDatabase } from "./runtime.js"
import { resolveSettings, root, type Settings } from "./settings.js"
import { renderTable } from "./Table.js"

const text = ["text", "character varying", "character"]
const timestamps = ["timestamp with time zone", "timestamp without time zone", "date"]

/** The column types each key of the User model can be read from. */
const accepted: Readonly<Record<ColumnKey, ReadonlyArray<string>>> = {
  id: [...text, "uuid", "integer", "bigint"],
  email: text,
  emailVerified: ["boolean", ...timestamps],
  name: text,
  createdAt: timestamps,
  updatedAt: timestamps,
  metadata: ["jsonb", "json", ...text]
}

interface ColumnRow {
  readonly column_name: string
  readonly data_type: string
}

/** One line per key of the User model: where it is read from, what was found, and what is wrong. */
const checkColumns = Effect.fnUntraced(function* (settings: Settings) {
  const sql = yield* SqlClient
  const table = yield* Effect.try({
    try: () => resolveTable({ table: settings.table }),
    catch: (error) =>
      new InvalidOption({ option: "--table", problem: error instanceof Error ? error.message : String(error) })
  })
  const schema = table.name.schema
  const rows = yield* (
    schema === undefined
      ? sql<ColumnRow>`SELECT column_name, data_type FROM information_schema.columns
          WHERE table_name = ${table.name.name} AND table_schema = current_schema()`
      : sql<ColumnRow>`SELECT column_name, data_type FROM information_schema.columns
          WHERE table_name = ${table.name.name} AND table_schema = ${schema}`
  ).pipe(Effect.mapError(databaseError(settings.database, "read the table's columns")))
  if (rows.length === 0) {
    return yield* new DatabaseError({
      address: settings.database.address,
      action: `check the user table ${table.quoted}`,
      problem:
        "it does not exist (or this role can't see it); create it with `effect-flag-context setup --database-url URL`, or give --table"
    })
  }
  const found = new Map(rows.map((row) => [row.column_name, row.data_type]))
  const lines = columnKeys.map((key) => {
    const mapped = settings.columns[key]
    const name = mapped === undefined ? key : mapped
    if (name === null) return { key, column: "(none)", type: "", problem: undefined }
    const type = found.get(name)
    const problem =
      type === undefined
        ? `no column ${JSON.stringify(name)}; name the right one with --column ${key}=COLUMN${key === "id" ? "" : ` (or --column ${key}= if the table has none)`}`
        : accepted[key].includes(type)
          ? undefined
          : `type ${type}, expected ${accepted[key].join(" or ")}`
    return { key, column: name, type: type ?? "(missing)", problem }
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
    yield* printJson({
      userId: resolved.userId,
      fallback: resolved.fallback,
      ...(resolved.reason === undefined ? {} : { reason: resolved.reason }),
      ...(resolved.cause === undefined ? {} : { cause: resolved.cause }),
      context: resolved.context
    })
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
