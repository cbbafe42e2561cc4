/**
 * The users file of the command-line tool (`examples/users.json`): Prisma-style rows that seed a
 * user table, and ids that are meant to be absent from it.
 *
 * A row may give `createdDaysAgo` instead of `createdAt`, so that the ages of the example users
 * (and the segments that depend on them) stay true whenever the file is read.
 *
 * @since 0.1.0
 */
import { Clock, Effect, Predicate, Result, Schema, SchemaIssue } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"
import { resolveTable } from "../internal/userTable.js"
import { DAY_MS } from "../Segmentation.js"
import { parseMetadata, type User, UserFromRow } from "../User.js"
import * as UserTable from "../UserTable.js"
import { UsersFileError } from "./Errors.js"
import { readRegularFile } from "./RegularFile.js"

/**
 * A users file, decoded.
 *
 * @since 0.1.0
 * @category models
 */
export interface UsersFile {
  readonly path: string
  readonly users: ReadonlyArray<User>
  /** Stored `metadata` values that are not JSON objects, kept verbatim so that seeding stores them as given. */
  readonly rawMetadata: ReadonlyArray<{ readonly id: string; readonly metadata: unknown }>
  /** Ids that are not in the file, to show what an unknown user gets. */
  readonly absentIds: ReadonlyArray<string>
}

const formatIssues = SchemaIssue.makeFormatterStandardSchemaV1()
const decodeRow = Schema.decodeUnknownResult(UserFromRow)

const describeRow = (index: number, row: unknown): string =>
  Predicate.hasProperty(row, "id") && Predicate.isString(row.id)
    ? `row ${index + 1} (id ${JSON.stringify(row.id)})`
    : `row ${index + 1}`

// `createdDaysAgo: n` becomes `createdAt: now - n days`.
const withCreatedAt = (row: object, now: number): Result.Result<object, string> => {
  if (!Predicate.hasProperty(row, "createdDaysAgo")) return Result.succeed(row)
  const { createdDaysAgo: days, ...rest } = row
  if (Predicate.hasProperty(rest, "createdAt")) return Result.fail("give createdAt or createdDaysAgo, not both")
  if (typeof days !== "number" || !Number.isFinite(days) || days < 0) {
    return Result.fail(`createdDaysAgo: expected a number of days ≥ 0, got ${JSON.stringify(days)}`)
  }
  return Result.succeed({ ...rest, createdAt: new Date(now - days * DAY_MS).toISOString() })
}

/**
 * Decodes the text of a users file: `{ "users": [rows], "absentIds": [ids] }` or a bare array of
 * rows. Each row is decoded with `UserFromRow`; the first row that does not decode fails the
 * whole file, naming the row and the field.
 *
 * @since 0.1.0
 * @category decoding
 */
export const parseUsersFile = (path: string, text: string, now: number): Result.Result<UsersFile, UsersFileError> => {
  const fail = (problem: string) => Result.fail(new UsersFileError({ path, problem }))
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (cause) {
    return fail(`not valid JSON: ${cause instanceof Error ? cause.message : String(cause)}`)
  }
  const rows = Array.isArray(json) ? json : Predicate.hasProperty(json, "users") ? json.users : undefined
  if (!Array.isArray(rows)) return fail(`expected { "users": [...] } or an array of users`)
  const absent = Predicate.hasProperty(json, "absentIds") ? json.absentIds : []
  if (!Array.isArray(absent) || !absent.every(Predicate.isString))
    return fail("absentIds: expected an array of strings")

  const users: Array<User> = []
  const rawMetadata: Array<{ readonly id: string; readonly metadata: unknown }> = []
  const ids = new Map<string, number>()
  const emails = new Map<string, number>()
  for (const [index, row] of rows.entries()) {
    const where = describeRow(index, row)
    if (!Predicate.isObject(row) || Array.isArray(row)) return fail(`${where}: expected an object`)
    const prepared = withCreatedAt(row, now)
    if (Result.isFailure(prepared)) return fail(`${where}: ${prepared.failure}`)
    const decoded = decodeRow(prepared.success, { errors: "all" })
    if (Result.isFailure(decoded)) {
      const issues = formatIssues(decoded.failure.issue).issues
      const first = issues[0]
      const path = first?.path ?? []
      const field = path.length === 0 ? "" : `${path.map(String).join(".")}: `
      return fail(`${where}: ${field}${first?.message ?? decoded.failure.message}`)
    }
    const user = decoded.success
    const sameId = ids.get(user.id)
    if (sameId !== undefined) return fail(`${where}: duplicate id (also row ${sameId + 1})`)
    const sameEmail = user.email === null ? undefined : emails.get(user.email)
    if (sameEmail !== undefined) return fail(`${where}: duplicate email ${user.email} (also row ${sameEmail + 1})`)
    ids.set(user.id, index)
    if (user.email !== null) emails.set(user.email, index)
    users.push(user)
    const metadata = Predicate.hasProperty(row, "metadata") ? row.metadata : undefined
    if (parseMetadata(metadata).problem !== undefined) rawMetadata.push({ id: user.id, metadata })
  }
  const present = absent.find((id) => ids.has(id))
  if (present !== undefined) return fail(`absentIds: ${JSON.stringify(present)} is also a user of the file`)
  return Result.succeed({ path, users, rawMetadata, absentIds: absent })
}

/**
 * Reads and decodes a users file, with ages relative to the current time of the `Clock`.
 *
 * @since 0.1.0
 * @category decoding
 */
export const loadUsersFile = Effect.fn("UsersFile.load")(function* (path: string) {
  const text = yield* readRegularFile(path).pipe(Effect.mapError((problem) => new UsersFileError({ path, problem })))
  const now = yield* Clock.currentTimeMillis
  return yield* Effect.fromResult(parseUsersFile(path, text, now))
})

/**
 * Inserts (or updates) the users of a file into the user table. Metadata that is not a JSON object
 * is then stored as given (a JSON string, an array), the way a Prisma application may have stored
 * it, so that the repository meets it as it would in production.
 *
 * @since 0.1.0
 * @category seeding
 */
export const seedUsers = (
  file: UsersFile,
  options: UserTable.UserTableOptions
): Effect.Effect<void, SqlError, SqlClient> =>
  Effect.gen(function* () {
    yield* UserTable.insertUsers(file.users, options)
    if (file.rawMetadata.length === 0) return
    const sql = (yield* SqlClient).withoutTransforms()
    const table = resolveTable(options)
    for (const { id, metadata } of file.rawMetadata) {
      yield* sql`UPDATE ${sql.literal(table.quoted)} SET ${sql.literal(table.column.metadata)} = ${JSON.stringify(
        metadata ?? null
      )}::jsonb WHERE ${sql.literal(table.column.id)} = ${id}`
    }
  })
