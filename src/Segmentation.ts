/**
 * Pure segmentation: from a {@link User}, a clock value and the rules, the LaunchDarkly context.
 *
 * Everything here is a plain function over plain data: no `Effect`, no clock read, no I/O, no
 * mutation of inputs, and no throw for any user the schema accepts. That is what makes it
 * property-testable and cheap enough for the evaluation hot path.
 *
 * @since 0.1.0
 */
import { Predicate, Schema } from "effect"
import type { Json, Metadata, User, UserId } from "./User.js"

/**
 * Milliseconds in a day, the unit of every age rule.
 *
 * @since 0.1.0
 * @category constants
 */
export const DAY_MS = 86_400_000

/**
 * The rules that turn a user into targeting segments and attributes.
 *
 * @since 0.1.0
 * @category models
 */
export interface SegmentationRules {
  /** Ids that get the `system` and `admin` segments. */
  readonly systemUserIds: ReadonlyArray<string>
  /** Email domains (exact, case-insensitive) that get the `employee` segment. */
  readonly employeeDomains: ReadonlyArray<string>
  /** Metadata roles that are also added as segments. */
  readonly privilegedRoles: ReadonlyArray<string>
  /** An account younger than this many days is a `new_user`. */
  readonly newUserDays: number
  /** An account younger than this many days (and not new) is a `recent_user`. */
  readonly recentUserDays: number
  /** Which other metadata keys become `custom_<key>` attributes. */
  readonly metadataAttributes: "all" | "none" | ReadonlyArray<string>
  /** `"pii"` marks email, name and every `custom_*` attribute private; a list names them. */
  readonly privateAttributes: "pii" | ReadonlyArray<string>
}

/**
 * The defaults of every rule.
 *
 * @since 0.1.0
 * @category constructors
 */
export const defaultRules: SegmentationRules = {
  systemUserIds: [],
  employeeDomains: [],
  privilegedRoles: ["admin", "moderator", "employee"],
  newUserDays: 7,
  recentUserDays: 30,
  metadataAttributes: "all",
  privateAttributes: "pii"
}

/**
 * Builds rules from a partial set over {@link defaultRules}.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeRules = (rules: Partial<SegmentationRules> = {}): SegmentationRules => ({ ...defaultRules, ...rules })

/**
 * A LaunchDarkly single-kind `user` context, as this library builds it. It is assignable to the
 * SDK's `LDContext`.
 *
 * @since 0.1.0
 * @category models
 */
export interface UserContext {
  readonly kind: "user"
  readonly key: string
  readonly anonymous?: boolean
  readonly _meta?: { readonly privateAttributes?: ReadonlyArray<string> }
  readonly segments?: ReadonlyArray<string>
  readonly [attribute: string]: unknown
}

/**
 * Attributes a caller adds for one evaluation (`FlagClient` options).
 *
 * @since 0.1.0
 * @category models
 */
export interface RequestAttributes {
  readonly attributes?: Readonly<Record<string, Json>> | undefined
  readonly role?: string | undefined
}

/**
 * Segments only the rules may grant: metadata cannot claim them.
 *
 * @since 0.1.0
 * @category constants
 */
export const reservedSegments: ReadonlyArray<string> = [
  "system",
  "user",
  "employee",
  "new_user",
  "recent_user",
  "established_user"
]

const RESERVED = new Set(reservedSegments)
const PROTECTED_KEYS = new Set(["kind", "key", "_meta"])

/**
 * The domain of an email: the part after the last `@`, lower-cased; `undefined` when there is none.
 *
 * @since 0.1.0
 * @category segmentation
 */
export const emailDomain = (email: string): string | undefined => {
  const at = email.lastIndexOf("@")
  if (at < 0) return undefined
  const domain = email
    .slice(at + 1)
    .trim()
    .toLowerCase()
  return domain.length > 0 ? domain : undefined
}

/**
 * Whole days since `createdAt`, never negative (an account created in the future is 0 days old).
 *
 * @since 0.1.0
 * @category segmentation
 */
export const accountAgeDays = (createdAtMillis: number, nowMillis: number): number =>
  nowMillis <= createdAtMillis ? 0 : Math.floor((nowMillis - createdAtMillis) / DAY_MS)

/**
 * The age bucket of an account: `new_user`, `recent_user` or `established_user`.
 *
 * @since 0.1.0
 * @category segmentation
 */
export const ageBucket = (
  createdAtMillis: number,
  nowMillis: number,
  rules: Pick<SegmentationRules, "newUserDays" | "recentUserDays">
): "new_user" | "recent_user" | "established_user" => {
  const elapsed = Math.max(0, nowMillis - createdAtMillis)
  if (elapsed < rules.newUserDays * DAY_MS) return "new_user"
  if (elapsed < rules.recentUserDays * DAY_MS) return "recent_user"
  return "established_user"
}

/**
 * The first instant after `now` at which the context of this user changes on its own (a new whole
 * day of `account_age_days`, or a new age bucket). A cached context is good until then.
 *
 * @since 0.1.0
 * @category segmentation
 */
export const contextValidUntil = (
  createdAtMillis: number,
  nowMillis: number,
  rules: Pick<SegmentationRules, "newUserDays" | "recentUserDays">
): number => {
  const nextDay = createdAtMillis + (accountAgeDays(createdAtMillis, nowMillis) + 1) * DAY_MS
  let until = nextDay
  for (const days of [rules.newUserDays, rules.recentUserDays]) {
    const boundary = createdAtMillis + days * DAY_MS
    if (boundary > nowMillis && boundary < until) until = boundary
  }
  return until
}

/**
 * The segments a metadata `segments` value contributes: a string or an array of strings; entries
 * that are not non-empty strings, and reserved segments, are ignored.
 *
 * @since 0.1.0
 * @category segmentation
 */
export const metadataSegments = (value: unknown): ReadonlyArray<string> => {
  const candidates: ReadonlyArray<unknown> = Array.isArray(value) ? value : [value]
  const out: Array<string> = []
  for (const candidate of candidates) {
    if (Predicate.isString(candidate) && candidate.length > 0 && !RESERVED.has(candidate)) out.push(candidate)
  }
  return out
}

const sortedUnique = (values: Iterable<string>): ReadonlyArray<string> =>
  Array.from(new Set(values)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))

const includesIgnoreCase = (list: ReadonlyArray<string>, value: string): boolean => {
  for (const entry of list) {
    if (entry.trim().toLowerCase() === value) return true
  }
  return false
}

const isCustomKeyAllowed = (rules: SegmentationRules, key: string): boolean =>
  rules.metadataAttributes === "all"
    ? true
    : rules.metadataAttributes === "none"
      ? false
      : rules.metadataAttributes.includes(key)

/**
 * Builds the LaunchDarkly context of a user at the instant `now` (epoch milliseconds).
 *
 * @since 0.1.0
 * @category segmentation
 */
export const buildContext = (user: User, now: number, rules: SegmentationRules = defaultRules): UserContext => {
  const metadata: Metadata = user.metadata
  const createdAt = user.created_at.epochMilliseconds
  const isSystem = rules.systemUserIds.includes(user.id)
  const domain = user.email === null ? undefined : emailDomain(user.email)
  const role = metadata["role"]

  const segments: Array<string> = isSystem ? ["system", "admin"] : ["user"]
  if (domain !== undefined && includesIgnoreCase(rules.employeeDomains, domain)) segments.push("employee")
  segments.push(ageBucket(createdAt, now, rules))
  segments.push(...metadataSegments(metadata["segments"]))
  if (Predicate.isString(role) && rules.privilegedRoles.includes(role)) segments.push(role)

  // Custom attributes first, built-ins last: nothing from metadata can shadow a built-in.
  const entries: Array<readonly [string, unknown]> = []
  const custom: Array<string> = []
  for (const key of Object.keys(metadata)) {
    if (key === "segments" || key === "role" || !isCustomKeyAllowed(rules, key)) continue
    const name = `custom_${key}`
    entries.push([name, metadata[key]])
    custom.push(name)
  }
  if (user.email !== null) entries.push(["email", user.email])
  if (domain !== undefined) entries.push(["email_domain", domain])
  entries.push(["email_verified", user.email_verified])
  if (user.name !== null) entries.push(["name", user.name])
  entries.push(["created_at", new Date(createdAt).toISOString()])
  entries.push(["account_age_days", accountAgeDays(createdAt, now)])
  if (Predicate.isString(role)) entries.push(["role", role])
  entries.push(["segments", sortedUnique(segments)])
  entries.push(["kind", "user"], ["key", user.id])
  const privateAttributes =
    rules.privateAttributes === "pii" ? ["email", "name", ...custom] : Array.from(rules.privateAttributes)
  entries.push(["_meta", { privateAttributes }])
  // `Object.fromEntries` defines own properties, so a metadata key such as `__proto__` stays data.
  return Object.fromEntries(entries) as UserContext
}

/**
 * The fallback context when the user can't be loaded: only the id.
 *
 * @since 0.1.0
 * @category segmentation
 */
export const idOnlyContext = (userId: UserId | string): UserContext => ({ kind: "user", key: userId })

/**
 * A new context with the caller's attributes merged over `context`: `segments` are unioned, not
 * replaced; `kind`, `key` and `_meta` can't be overwritten; `role` sets the `role` attribute and
 * adds the role to the segments. `context` itself is never modified.
 *
 * @since 0.1.0
 * @category segmentation
 */
export const withRequestAttributes = (context: UserContext, request: RequestAttributes): UserContext => {
  const { attributes, role } = request
  if (attributes === undefined && role === undefined) return context
  const segments: Array<string> = Array.isArray(context.segments) ? [...context.segments] : []
  const entries: Array<readonly [string, unknown]> = Object.entries(context)
  if (attributes !== undefined) {
    for (const key of Object.keys(attributes)) {
      if (PROTECTED_KEYS.has(key)) continue
      const value = attributes[key]
      if (key === "segments") {
        segments.push(...requestSegments(value))
        continue
      }
      entries.push([key, value])
    }
  }
  if (role !== undefined) {
    entries.push(["role", role])
    if (role.length > 0) segments.push(role)
  }
  entries.push(["segments", sortedUnique(segments)], ["kind", context.kind], ["key", context.key])
  if (context._meta !== undefined) entries.push(["_meta", context._meta])
  return Object.fromEntries(entries) as UserContext
}

const requestSegments = (value: unknown): ReadonlyArray<string> => {
  const candidates: ReadonlyArray<unknown> = Array.isArray(value) ? value : [value]
  return candidates.filter((s): s is string => Predicate.isString(s) && s.length > 0)
}

/**
 * A schema for {@link SegmentationRules}, for reading them from JSON or configuration files.
 *
 * @since 0.1.0
 * @category schemas
 */
export const SegmentationRulesSchema = Schema.Struct({
  systemUserIds: Schema.Array(Schema.String),
  employeeDomains: Schema.Array(Schema.String),
  privilegedRoles: Schema.Array(Schema.String),
  newUserDays: Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0)),
  recentUserDays: Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0)),
  metadataAttributes: Schema.Union([Schema.Literals(["all", "none"]), Schema.Array(Schema.String)]),
  privateAttributes: Schema.Union([Schema.Literal("pii"), Schema.Array(Schema.String)])
})
