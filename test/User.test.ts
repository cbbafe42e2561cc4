import { assert, describe, it } from "@effect/vitest"
import { DateTime, Effect, Result, Schema } from "effect"
import { decodesFast, decodeUserRow } from "../src/internal/userDecoder.js"
import { parseMetadata, User, UserFromJson, UserFromRow, UserId, UserRow } from "../src/User.js"

const decodeRow = Schema.decodeUnknownResult(UserFromRow)
const encodeRow = Schema.encodeSync(UserFromRow)

const row = {
  id: "user-1",
  email: "Ada@Example.com",
  emailVerified: true,
  name: "Ada",
  createdAt: new Date("2024-01-01T00:00:00.000Z"),
  updatedAt: new Date("2024-02-01T00:00:00.000Z"),
  metadata: { role: "admin", plan: "pro" }
}

const failureMessage = (input: unknown): string => {
  const result = decodeRow(input)
  assert.isTrue(Result.isFailure(result), "expected the row to be rejected")
  return Result.isFailure(result) ? result.failure.message : ""
}

describe("UserId", () => {
  it.each(["", "   ", "\t\n", "x".repeat(256)])("rejects %j", (id) => {
    assert.isFalse(Schema.is(UserId)(id))
  })

  it.each(["a", " padded ", "x".repeat(255), '\'; DROP TABLE "User"; --', "../admin", "%00"])("accepts %j", (id) => {
    assert.isTrue(Schema.is(UserId)(id))
  })
})

describe("UserFromRow", () => {
  it("decodes a Prisma row into a snake_case User, ignoring extra columns", () => {
    const user = Schema.decodeUnknownSync(UserFromRow)({ ...row, passwordHash: "secret", tenantId: 7 })
    assert.instanceOf(user, User)
    assert.strictEqual(user.id, "user-1")
    assert.strictEqual(user.email_verified, true)
    assert.strictEqual(user.name, "Ada")
    assert.strictEqual(DateTime.formatIso(user.created_at), "2024-01-01T00:00:00.000Z")
    assert.strictEqual(DateTime.formatIso(user.updated_at), "2024-02-01T00:00:00.000Z")
    assert.deepStrictEqual(user.metadata, { role: "admin", plan: "pro" })
    assert.isFalse("passwordHash" in user)
  })

  it("decodes emailVerified = false as false", () => {
    const user = Schema.decodeUnknownSync(UserFromRow)({ ...row, emailVerified: false })
    assert.strictEqual(user.email_verified, false)
  })

  it("accepts ISO strings for timestamps and a JSON string for metadata", () => {
    const user = Schema.decodeUnknownSync(UserFromRow)({
      ...row,
      createdAt: "2024-01-01T00:00:00Z",
      updatedAt: "2024-03-01T12:00:00.000Z",
      metadata: '{"segments":["beta"]}'
    })
    assert.strictEqual(user.created_at.epochMilliseconds, Date.UTC(2024, 0, 1))
    assert.deepStrictEqual(user.metadata, { segments: ["beta"] })
  })

  it("takes createdAt for a missing updatedAt and {} for missing or null metadata", () => {
    const { updatedAt: _u, metadata: _m, ...rest } = row
    const user = Schema.decodeUnknownSync(UserFromRow)(rest)
    assert.strictEqual(user.updated_at.epochMilliseconds, row.createdAt.getTime())
    assert.deepStrictEqual(user.metadata, {})
    assert.deepStrictEqual(Schema.decodeUnknownSync(UserFromRow)({ ...row, metadata: null }).metadata, {})
  })

  it.each([
    ["not JSON", "{not json", "InvalidJson"],
    ["a JSON array string", "[1,2]", "NotAnObject"],
    ["a JSON number string", "42", "NotAnObject"],
    ["an array", ["a"], "NotAnObject"],
    ["a number", 7, "NotAnObject"]
  ] as const)("decodes metadata that is %s as {} and parseMetadata tells why", (_, metadata, problem) => {
    const user = Schema.decodeUnknownSync(UserFromRow)({ ...row, metadata })
    assert.deepStrictEqual(user.metadata, {})
    assert.strictEqual(parseMetadata(metadata).problem, problem)
  })

  it("parseMetadata reports no problem for a valid object", () => {
    assert.isUndefined(parseMetadata({ a: 1 }).problem)
    assert.isUndefined(parseMetadata('{"a":1}').problem)
    assert.isUndefined(parseMetadata(null).problem)
  })

  it.each(["id", "email", "createdAt"])("fails naming the field when %s is missing", (field) => {
    const { [field as keyof typeof row]: _omitted, ...rest } = row
    const message = failureMessage(rest)
    assert.include(message, "Missing key")
    assert.include(message, `["${field}"]`)
  })

  it.each([
    ["id", 42],
    ["email", 7],
    ["emailVerified", "yes"],
    ["name", 3],
    ["createdAt", "not a date"],
    ["createdAt", new Date("nope")],
    ["updatedAt", 12]
  ] as const)("fails naming the field when %s has the wrong type (%j)", (field, value) => {
    const message = failureMessage({ ...row, [field]: value })
    assert.include(message, `["${field}"]`)
  })

  it("decodes a null email (a table that allows users without one)", () => {
    assert.isNull(Schema.decodeUnknownSync(UserFromRow)({ ...row, email: null }).email)
  })

  it("rejects an invalid id rather than building a half-filled user", () => {
    assert.include(failureMessage({ ...row, id: "  " }), `["id"]`)
  })

  it("encodes a User back into a row", () => {
    const user = Schema.decodeUnknownSync(UserFromRow)(row)
    const encoded = encodeRow(user)
    assert.deepStrictEqual(encoded, {
      id: "user-1",
      email: "Ada@Example.com",
      emailVerified: true,
      name: "Ada",
      createdAt: row.createdAt,
      updatedAt: row.updatedAt,
      metadata: { role: "admin", plan: "pro" }
    })
    assert.deepStrictEqual(Schema.decodeUnknownSync(UserFromRow)(encoded), user)
  })

  it.prop("round-trips every User through a row", { user: User }, ({ user }) => {
    assert.deepStrictEqual(Schema.decodeUnknownSync(UserFromRow)(encodeRow(user)), user)
  })

  // Compared on the JSON side: JSON itself can't tell -0 from 0 in metadata.
  it.effect.prop("round-trips every User through JSON", { user: User }, ({ user }) =>
    Effect.gen(function* () {
      const json = JSON.parse(JSON.stringify(yield* Schema.encodeEffect(UserFromJson)(user)))
      const decoded = yield* Schema.decodeUnknownEffect(UserFromJson)(json)
      assert.deepStrictEqual(decoded.id, user.id)
      assert.deepStrictEqual(yield* Schema.encodeEffect(UserFromJson)(decoded), json)
    })
  )
})

describe("the repository's compiled row decoder", () => {
  const unbounded = { maxBytes: Number.MAX_SAFE_INTEGER, maxKeys: Number.MAX_SAFE_INTEGER, maxDepth: 1_000 }
  const decodeSchema = Schema.decodeUnknownResult(UserFromRow)

  // Rows as the driver could hand them over (Dates or strings, any metadata, keys missing or not).
  it.prop("answers exactly what UserFromRow answers", { row: Schema.toEncoded(UserRow) }, ({ row }) => {
    const expected = decodeSchema(row)
    const actual = decodeUserRow(row, unbounded)
    if (Result.isFailure(expected)) {
      assert.isTrue("failure" in actual, "the Schema rejects the row, so must the decoder")
      return
    }
    assert.isFalse("failure" in actual, "the Schema accepts the row, so must the decoder")
    if (!("failure" in actual)) {
      assert.instanceOf(actual.user, User)
      assert.deepStrictEqual(actual.user, expected.success)
    }
  })

  it.prop("takes the fast path for every row the database returns", { user: User }, ({ user }) => {
    const encoded = encodeRow(user)
    const row = {
      ...encoded,
      createdAt: DateTime.toDateUtc(user.created_at),
      updatedAt: DateTime.toDateUtc(user.updated_at)
    }
    assert.isTrue(decodesFast(row, unbounded), JSON.stringify(row))
    const decoded = decodeUserRow(row, unbounded)
    assert.isFalse("failure" in decoded)
    if (!("failure" in decoded)) assert.deepStrictEqual(decoded.user, user)
  })

  // The decoder builds users with Schema's undeclared `makeClassTrusted` (see src/internal/userDecoder.ts):
  // this fails the day effect stops exporting it, before the fallback silently costs 3× per row.
  it("effect still exports the trusted class constructor the decoder uses", () => {
    assert.isFunction((Schema as unknown as { readonly makeClassTrusted?: unknown }).makeClassTrusted)
  })

  it("names the field when a row does not decode", () => {
    const decoded = decodeUserRow({ ...row, createdAt: new Date(Number.NaN) }, unbounded)
    assert.isTrue("failure" in decoded)
    if ("failure" in decoded) assert.include(decoded.failure, `["createdAt"]`)
  })

  it.each([
    ["TooManyKeys", { a: 1, b: 2, c: 3 }],
    ["TooDeep", { a: { b: { c: {} } } }]
  ] as const)("replaces metadata over the limits by {} and says why (%s)", (problem, metadata) => {
    const decoded = decodeUserRow({ ...row, metadata }, { maxBytes: 1_000, maxKeys: 2, maxDepth: 2 })
    assert.isFalse("failure" in decoded)
    if (!("failure" in decoded)) {
      assert.deepStrictEqual([decoded.user.metadata, decoded.problem], [{}, problem])
    }
  })
})
