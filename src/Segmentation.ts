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
  /**
   * Segments derived from the email domain (`employee`) only when `email_verified` is `true`
   * (default `true`). Turning this off lets anyone who can sign up with an unverified address at
   * an employee domain claim the `employee` segment.
   */
  readonly domainSegmentsRequireVerifiedEmail: boolean
  /** Metadata roles that are also added as segments. */
  readonly privilegedRoles: ReadonlyArray<string>
  /** An account younger than this many days is a `new_user`. */
  readonly newUserDays: number
  /** An account younger than this many days (and not new) is a `recent_user`. */
  readonly recentUserDays: number
  /** Which other metadata keys go into the `custom` object attribute (targeted as `/custom/<key>`). */
  readonly metadataAttributes: "all" | "none" | ReadonlyArray<string>
  /**
   * The most metadata keys put into `custom` (default 100), in the metadata's key order; the rest
   * are left out of the context, so one user with a huge metadata object can't make every
   * evaluation of that user expensive.
   */
  readonly maxCustomAttributes: number
  /**
   * What LaunchDarkly must not record in events: `"pii"` is `email`, `name` and the whole `custom`
   * object; a list names attributes or attribute references (`/custom/plan`; a legacy
   * `custom_<key>` means `/custom/<key>`). Given once to the SDK: see {@link privateAttributeReferences}.
   */
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
  domainSegmentsRequireVerifiedEmail: true,
  privilegedRoles: ["admin", "moderator", "employee"],
  newUserDays: 7,
  recentUserDays: 30,
  metadataAttributes: "all",
  maxCustomAttributes: 100,
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
 * SDK's `LDContext`. The user's metadata is the object attribute `custom` (targeted in LaunchDarkly
 * with the reference `/custom/<key>`). A user's context has no `_meta`: its private attributes are
 * named once, in the SDK's options ({@link privateAttributeReferences}); only per-request private
 * attributes add a `_meta` (see {@link withRequestAttributes}).
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
  /** Attributes for this evaluation; private (redacted from events) unless named in `publicAttributes`. */
  readonly attributes?: Readonly<Record<string, Json>> | undefined
  /** Names of `attributes` sent to LaunchDarkly in clear (in events), for example to see them in its UI. */
  readonly publicAttributes?: ReadonlyArray<string> | undefined
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

const compareStrings = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)

// A user has a handful of segments: an insertion sort that drops repeats allocates only its result
// (a `Set` and `sort` cost more than the rest of the build); long lists take the general way.
const sortedUnique = (values: ReadonlyArray<string>): ReadonlyArray<string> => {
  if (values.length > 16) return Array.from(new Set(values)).sort(compareStrings)
  const out: Array<string> = []
  for (const value of values) {
    let at = out.length
    while (at > 0 && (out[at - 1] ?? "") > value) at--
    if (at > 0 && out[at - 1] === value) continue
    out.push(value)
    for (let i = out.length - 1; i > at; i--) out[i] = out[i - 1] ?? value
    out[at] = value
  }
  return out
}

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
  const email: string | null = user.email
  const domain = email === null ? undefined : emailDomain(email)
  const role = metadata["role"]
  const domainTrusted = user.email_verified || !rules.domainSegmentsRequireVerifiedEmail

  const segments: Array<string> = isSystem ? ["system", "admin"] : ["user"]
  if (domainTrusted && domain !== undefined && includesIgnoreCase(rules.employeeDomains, domain)) {
    segments.push("employee")
  }
  segments.push(ageBucket(createdAt, now, rules))
  segments.push(...metadataSegments(metadata["segments"]))
  if (Predicate.isString(role) && rules.privilegedRoles.includes(role)) segments.push(role)

  // Metadata goes into the one object attribute `custom`, so nothing from it can shadow a built-in
  // and one attribute reference (`/custom`) makes it all private. A key such as `__proto__` is
  // defined as plain data, never assigned (which would set the object's prototype).
  const context: Record<string, unknown> = {}
  let custom: Record<string, unknown> | undefined
  let customCount = 0
  const maxCustom = rules.maxCustomAttributes
  for (const key in metadata) {
    if (customCount >= maxCustom) break
    if (!Object.hasOwn(metadata, key) || key === "segments" || key === "role" || !isCustomKeyAllowed(rules, key)) {
      continue
    }
    custom ??= {}
    defineData(custom, key, metadata[key])
    customCount++
  }
  if (email !== null) context["email"] = email
  if (domain !== undefined) context["email_domain"] = domain
  context["email_verified"] = user.email_verified
  if (user.name !== null) context["name"] = user.name
  context["created_at"] = new Date(createdAt).toISOString()
  context["account_age_days"] = accountAgeDays(createdAt, now)
  if (Predicate.isString(role)) context["role"] = role
  context["segments"] = sortedUnique(segments)
  if (custom !== undefined) context["custom"] = custom
  context["kind"] = "user"
  context["key"] = user.id
  return context as UserContext
}

const defineData = (target: Record<string, unknown>, key: string, value: unknown): void => {
  if (key === "__proto__")
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true })
  else target[key] = value
}

/** The private attributes of the `"pii"` rule, as attribute references. */
const PII_REFERENCES: ReadonlyArray<string> = ["email", "name", "/custom"]

const LEGACY_CUSTOM = /^custom_(.+)$/s

/**
 * The attribute references the rules make private, for the SDK's `privateAttributes` option
 * (read once, not parsed per evaluation as a context's `_meta` is). `"pii"` gives `email`, `name`
 * and `/custom`; a list keeps attribute references (`/custom/plan`) and names, and turns a name
 * `custom_<key>` of contexts before 0.2.0 into `/custom/<key>`.
 *
 * @since 0.2.0
 * @category segmentation
 */
export const privateAttributeReferences = (
  rules: Pick<SegmentationRules, "privateAttributes"> = defaultRules
): ReadonlyArray<string> => {
  if (rules.privateAttributes === "pii") return PII_REFERENCES
  const references: Array<string> = []
  for (const entry of rules.privateAttributes) {
    const legacy = LEGACY_CUSTOM.exec(entry)
    const reference = legacy === null ? entry : `/custom/${escapeReference(legacy[1] ?? "")}`
    if (reference.length > 0 && !references.includes(reference)) references.push(reference)
  }
  return references
}

// One component of an attribute reference: `~` and `/` escaped as RFC 6901 says.
const escapeReference = (name: string): string => name.replaceAll("~", "~0").replaceAll("/", "~1")

/**
 * The fallback context when the user can't be loaded: only the id.
 *
 * @since 0.1.0
 * @category segmentation
 */
export const idOnlyContext = (userId: UserId | string): UserContext => ({ kind: "user", key: userId })

/**
 * A new context with the caller's attributes merged over `context`: `segments` are unioned, not
 * replaced; `kind`, `key` and `_meta` can't be overwritten; a `custom` object is merged over the
 * user's `custom` (another `custom` value is ignored); every added attribute is private unless
 * listed in `publicAttributes`; `role` sets the (public) `role` attribute and adds the role to the
 * segments. `context` itself is never modified.
 *
 * Added attributes keep their own names (a rule targets `ip`, public or not). Their names vary per
 * call, so the private ones are named in the new context's `_meta.privateAttributes`: only an
 * evaluation with private request attributes carries a `_meta`.
 *
 * @since 0.1.0
 * @category segmentation
 */
export const withRequestAttributes = (context: UserContext, request: RequestAttributes): UserContext => {
  const { attributes, publicAttributes, role } = request
  if (attributes === undefined && role === undefined) return context
  const segments: Array<string> = Array.isArray(context.segments) ? [...context.segments] : []
  const entries: Array<readonly [string, unknown]> = Object.entries(context)
  const privateAttributes: Array<string> = [...(context._meta?.privateAttributes ?? [])]
  const privateBefore = privateAttributes.length
  if (attributes !== undefined) {
    for (const key of Object.keys(attributes)) {
      if (PROTECTED_KEYS.has(key)) continue
      const value = attributes[key]
      if (key === "segments") {
        segments.push(...requestSegments(value))
        continue
      }
      if (key === "custom") {
        if (!isJsonObject(value)) continue
        const merged: Record<string, unknown> = isJsonObject(context["custom"]) ? { ...context["custom"] } : {}
        for (const name of Object.keys(value)) defineData(merged, name, value[name])
        entries.push(["custom", merged])
      } else entries.push([key, value])
      if (publicAttributes === undefined || !publicAttributes.includes(key))
        privateAttributes.push(attributeReference(key))
    }
  }
  if (role !== undefined) {
    entries.push(["role", role])
    if (role.length > 0) segments.push(role)
  }
  entries.push(["segments", sortedUnique(segments)], ["kind", context.kind], ["key", context.key])
  if (privateAttributes.length > privateBefore) entries.push(["_meta", { ...context._meta, privateAttributes }])
  else if (context._meta !== undefined) entries.push(["_meta", context._meta])
  return Object.fromEntries(entries) as UserContext
}

// A top-level attribute name as a LaunchDarkly attribute reference: a name starting with `/` would
// otherwise be read as a path.
const attributeReference = (name: string): string => (name.startsWith("/") ? `/${escapeReference(name)}` : name)

const isJsonObject = (value: unknown): value is Readonly<Record<string, Json>> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

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
  domainSegmentsRequireVerifiedEmail: Schema.Boolean,
  privilegedRoles: Schema.Array(Schema.String),
  newUserDays: Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0)),
  recentUserDays: Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0)),
  metadataAttributes: Schema.Union([Schema.Literals(["all", "none"]), Schema.Array(Schema.String)]),
  maxCustomAttributes: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)),
  privateAttributes: Schema.Union([Schema.Literal("pii"), Schema.Array(Schema.String)])
})
