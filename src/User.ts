/**
 * The application-layer user, and the schema that decodes it from a database row.
 *
 * Database rows (Prisma's camelCase `User` table) never travel past the repository: everything
 * else in the library sees a {@link User}.
 *
 * @since 0.1.0
 */
import { Predicate, Schema, SchemaGetter } from "effect"

/**
 * A user id: non-empty after trimming, at most 255 characters.
 *
 * @since 0.1.0
 * @category models
 */
export const UserId = Schema.String.check(
  Schema.isMinLength(1),
  Schema.makeFilter((s: string) => s.trim().length > 0 || "a user id must not be empty or whitespace", {
    expected: "a non-blank string"
  }),
  Schema.isMaxLength(255)
).pipe(Schema.brand("UserId"))

/**
 * @since 0.1.0
 * @category models
 */
export type UserId = typeof UserId.Type

/**
 * A JSON value.
 *
 * @since 0.1.0
 * @category models
 */
export type Json = Schema.Json

/**
 * A JSON object, as stored in the `metadata` column.
 *
 * @since 0.1.0
 * @category models
 */
export const Metadata = Schema.JsonObject

/**
 * @since 0.1.0
 * @category models
 */
export type Metadata = typeof Metadata.Type

/**
 * The application-layer user (snake_case).
 *
 * @since 0.1.0
 * @category models
 */
export class User extends Schema.Class<User>("effect-flag-context/User")({
  id: UserId,
  /** `null` when the table allows users without an email (no `email_domain`, no `employee` segment). */
  email: Schema.NullOr(Schema.String),
  email_verified: Schema.Boolean,
  name: Schema.NullOr(Schema.String),
  created_at: Schema.DateTimeUtc,
  updated_at: Schema.DateTimeUtc,
  metadata: Metadata
}) {}

/**
 * The JSON form of a {@link User}: timestamps as ISO 8601 strings. This is what the HTTP user
 * service answers and what `examples/users.json` holds.
 *
 * @since 0.1.0
 * @category schemas
 */
export const UserFromJson = Schema.toCodecJson(User)

/**
 * What went wrong with a stored `metadata` value that was replaced by `{}`.
 *
 * @since 0.1.0
 * @category models
 */
export type MetadataProblem = "InvalidJson" | "NotAnObject" | "TooLarge" | "TooManyKeys" | "TooDeep"

/**
 * Reads a raw `metadata` column value (a JSON object, a JSON string, `null` or missing). Anything
 * that is not a JSON object becomes `{}`, and `problem` says why, so that the repository can warn.
 *
 * @since 0.1.0
 * @category decoding
 */
export const parseMetadata = (raw: unknown): { readonly metadata: Metadata; readonly problem?: MetadataProblem } => {
  if (raw === undefined || raw === null) return { metadata: {} }
  let value: unknown = raw
  if (Predicate.isString(raw)) {
    try {
      value = JSON.parse(raw)
    } catch {
      return { metadata: {}, problem: "InvalidJson" }
    }
  }
  return isJsonObject(value) ? { metadata: value } : { metadata: {}, problem: "NotAnObject" }
}

const isJsonObject = (value: unknown): value is Metadata =>
  Predicate.isObject(value) && !Array.isArray(value) && Schema.is(Metadata)(value)

const Timestamp = Schema.Union([Schema.DateTimeUtcFromDate, Schema.DateTimeUtcFromString])

/**
 * A row of the Prisma-compatible `User` table, as the database driver returns it.
 *
 * @since 0.1.0
 * @category schemas
 */
export const UserRow = Schema.Struct({
  id: UserId,
  email: Schema.NullOr(Schema.String),
  emailVerified: Schema.Boolean,
  name: Schema.optionalKey(Schema.NullOr(Schema.String)),
  createdAt: Timestamp,
  updatedAt: Schema.optionalKey(Timestamp),
  metadata: Schema.optionalKey(Schema.Unknown)
})

/**
 * @since 0.1.0
 * @category models
 */
export type UserRow = typeof UserRow.Encoded

/**
 * Decodes a database row into a {@link User} and encodes a user back into a row. Extra columns
 * are ignored; a missing `updatedAt` takes `createdAt`; metadata that is not a JSON object
 * decodes as `{}` (see {@link parseMetadata} to tell).
 *
 * @since 0.1.0
 * @category schemas
 */
export const UserFromRow = UserRow.pipe(
  Schema.decodeTo(Schema.toType(User), {
    decode: SchemaGetter.transform(
      (row) =>
        new User({
          id: row.id,
          email: row.email,
          email_verified: row.emailVerified,
          name: row.name ?? null,
          created_at: row.createdAt,
          updated_at: row.updatedAt ?? row.createdAt,
          metadata: parseMetadata(row.metadata).metadata
        })
    ),
    encode: SchemaGetter.transform((user) => ({
      id: user.id,
      email: user.email,
      emailVerified: user.email_verified,
      name: user.name,
      createdAt: user.created_at,
      updatedAt: user.updated_at,
      metadata: user.metadata
    }))
  })
)
