/**
 * Row decoding without per-row Schema overhead: a plain-JS decoder for the rows the repository's
 * own statement returns, which answers exactly what `UserFromRow` answers (a property test holds
 * it to that) and hands anything unusual to the Schema.
 *
 * @internal
 */
import { DateTime, Equal, Predicate, Result, Schema } from "effect"
import { type MetadataProblem, parseMetadata, User, UserFromRow, UserId } from "../User.js"
import type { MetadataLimits } from "./pgUserTable.js"

/** A decoded row, with what was wrong with its metadata (replaced by `{}`) if anything. */
export interface Decoded {
  readonly user: User
  readonly problem?: MetadataProblem | undefined
}

/** The row could not be decoded; `message` names the field and what was wrong. */
export interface DecodeFailure {
  readonly failure: string
}

type UserFields = ConstructorParameters<typeof User>[0]

/**
 * Builds a `User` from fields this module has already checked. `new User(…)` parses every field
 * again (metadata included, ≈ 3× the cost here); effect's own decoder builds class instances with
 * `makeClassTrusted`, which Schema exports without declaring it. Used when present, else the
 * constructor without checks; the property test in test/User.test.ts fails if the two differ.
 */
const trusted = (Schema as unknown as { readonly makeClassTrusted?: unknown }).makeClassTrusted
const makeUserTrusted: (fields: UserFields) => User =
  typeof trusted === "function"
    ? (fields) => (trusted as (self: typeof User, fields: UserFields) => User)(User, fields)
    : (fields) => new User(fields, { disableChecks: true })

/**
 * Cheaper still (≈ 0.2 µs instead of ≈ 2.4 µs per user, on the miss path): `User`'s constructor,
 * once the schema pass is skipped, only copies the fields onto the instance (`Data.Class`), so the
 * fields are copied onto an object of `User`'s prototype directly (the decoder's fields never hold
 * a `__proto__` key). Checked once here against the trusted constructor: should a future effect
 * give instances more than their fields, the trusted constructor is used instead.
 */
const copyOntoPrototype = (fields: UserFields): User => Object.assign(Object.create(User.prototype) as User, fields)

const sameInstances = (): boolean => {
  const sample: UserFields = {
    id: UserId.make("sample"),
    email: null,
    email_verified: false,
    name: null,
    created_at: DateTime.makeUnsafe(0),
    updated_at: DateTime.makeUnsafe(0),
    metadata: {}
  }
  const copied = copyOntoPrototype(sample)
  const built = makeUserTrusted(sample)
  return (
    Object.getPrototypeOf(built) === User.prototype &&
    Reflect.ownKeys(built).join() === Reflect.ownKeys(copied).join() &&
    Equal.equals(built, copied)
  )
}

const makeUser: (fields: UserFields) => User = sameInstances() ? copyOntoPrototype : makeUserTrusted

const isValidDate = (value: unknown): value is Date => value instanceof Date && !Number.isNaN(value.getTime())

const isUserId = (value: unknown): value is UserId =>
  typeof value === "string" && value.length >= 1 && value.length <= 255 && value.trim().length > 0

const objectProto = Object.prototype

/**
 * Walks a parsed JSON object: `undefined` when it is within the limits, the problem otherwise, or
 * `"Unusual"` when it holds something JSON can't (left to the Schema).
 */
const checkJson = (root: object, limits: MetadataLimits): MetadataProblem | "Unusual" | undefined => {
  let keys = 0
  const visit = (value: unknown, depth: number): MetadataProblem | "Unusual" | undefined => {
    if (value === null || typeof value === "string" || typeof value === "boolean") return undefined
    if (typeof value === "number") return Number.isFinite(value) ? undefined : "Unusual"
    if (typeof value !== "object") return "Unusual"
    if (depth >= limits.maxDepth) return "TooDeep"
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        if (!(i in value)) return "Unusual"
        const problem = visit(value[i], depth + 1)
        if (problem !== undefined) return problem
      }
      return undefined
    }
    const proto = Object.getPrototypeOf(value)
    if (proto !== objectProto && proto !== null) return "Unusual"
    if (Object.getOwnPropertySymbols(value).length > 0) return "Unusual"
    const record = value as Record<string, unknown>
    for (const key in record) {
      if (!Object.hasOwn(record, key)) return "Unusual"
      keys++
      if (keys > limits.maxKeys) return "TooManyKeys"
      const problem = visit(record[key], depth + 1)
      if (problem !== undefined) return problem
    }
    return undefined
  }
  return visit(root, 0)
}

/** The fast path: `undefined` when the row is not of the plain shape the database returns. */
const decodeFast = (row: unknown, limits: MetadataLimits): Decoded | undefined => {
  if (typeof row !== "object" || row === null) return undefined
  const r = row as Record<string, unknown>
  const id = r["id"]
  const email = r["email"]
  const verified = r["emailVerified"]
  const createdAt = r["createdAt"]
  if (!isUserId(id) || (email !== null && typeof email !== "string") || typeof verified !== "boolean") return undefined
  if (!isValidDate(createdAt)) return undefined
  let name: string | null = null
  if ("name" in r) {
    const value = r["name"]
    if (value !== null && typeof value !== "string") return undefined
    name = value
  }
  let updatedAt = createdAt
  if ("updatedAt" in r) {
    const value = r["updatedAt"]
    if (!isValidDate(value)) return undefined
    updatedAt = value
  }
  let metadata: Record<string, Schema.Json> = {}
  let problem: MetadataProblem | undefined
  if ("metadata" in r) {
    const raw = r["metadata"]
    if (raw === undefined) return undefined
    if (typeof raw === "object" && raw !== null && !Array.isArray(raw)) {
      const checked = checkJson(raw, limits)
      if (checked === "Unusual") return undefined
      if (checked === undefined) metadata = raw as Record<string, Schema.Json>
      else problem = checked
    } else if (typeof raw === "string") {
      const parsed = parseMetadata(raw)
      if (parsed.problem !== undefined) problem = parsed.problem
      else {
        const checked = checkJson(parsed.metadata, limits)
        if (checked === "Unusual") return undefined
        if (checked === undefined) metadata = parsed.metadata as Record<string, Schema.Json>
        else problem = checked
      }
    } else if (raw !== null) {
      return undefined
    }
  }
  return {
    user: makeUser({
      id,
      email,
      email_verified: verified,
      name,
      created_at: DateTime.fromDateUnsafe(createdAt),
      updated_at: DateTime.fromDateUnsafe(updatedAt),
      metadata
    }),
    problem
  }
}

const decodeSchema = Schema.decodeUnknownResult(UserFromRow)

/** The slow path: the Schema, then the same metadata limits. */
const decodeSlow = (row: unknown, limits: MetadataLimits): Decoded | DecodeFailure => {
  const decoded = decodeSchema(row)
  // One line for logs: `Expected a valid Date at ["createdAt"]`.
  if (Result.isFailure(decoded)) return { failure: decoded.failure.message.replace(/\s*\n\s*/g, " ") }
  const user = decoded.success
  const parsed = Predicate.hasProperty(row, "metadata") ? parseMetadata(row.metadata).problem : undefined
  if (parsed !== undefined) return { user, problem: parsed }
  const checked = checkJson(user.metadata, limits)
  if (checked === undefined || checked === "Unusual") return { user }
  return { user: new User({ ...user, metadata: {} }), problem: checked }
}

/** Decodes one row as `UserFromRow` would, within the metadata limits. */
export const decodeUserRow = (row: unknown, limits: MetadataLimits): Decoded | DecodeFailure => {
  const decoded = decodeFast(row, limits) ?? decodeSlow(row, limits)
  // The statement measured the metadata and sent `null` in its place: say why it is `{}`.
  if ("user" in decoded && decoded.problem === undefined && Predicate.hasProperty(row, "metadataBytes")) {
    const bytes = row.metadataBytes
    if (typeof bytes === "number" && bytes > limits.maxBytes) return { user: decoded.user, problem: "TooLarge" }
  }
  return decoded
}

/** `true` when the fast path handled the row (for tests). */
export const decodesFast = (row: unknown, limits: MetadataLimits): boolean => decodeFast(row, limits) !== undefined
