import { assert, describe, it } from "@effect/vitest"
import { init, integrations } from "@launchdarkly/node-server-sdk"
import { Arbitrary, DateTime, Effect, Schema } from "effect"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import {
  accountAgeDays,
  buildContext,
  contextValidUntil,
  DAY_MS,
  defaultRules,
  emailDomain,
  idOnlyContext,
  makeRules,
  privateAttributeReferences,
  type UserContext,
  withRequestAttributes
} from "../src/Segmentation.js"
import { type Json, type Metadata, User, type UserId } from "../src/User.js"

const NOW = Date.UTC(2026, 10, 24, 12, 0, 0)

const makeUser = (overrides: {
  readonly id?: string
  readonly email?: string
  readonly name?: string | null
  readonly createdAt?: number
  readonly metadata?: Metadata
}): User =>
  new User({
    id: (overrides.id ?? "user-1") as UserId,
    email: overrides.email ?? "someone@example.com",
    email_verified: true,
    name: overrides.name === undefined ? "Someone" : overrides.name,
    created_at: DateTime.makeUnsafe(overrides.createdAt ?? NOW - 400 * DAY_MS),
    updated_at: DateTime.makeUnsafe(NOW),
    metadata: overrides.metadata ?? {}
  })

const segmentsOf = (context: UserContext): ReadonlyArray<string> => context.segments ?? []
const customOf = (context: UserContext): Record<string, unknown> => (context["custom"] ?? {}) as Record<string, unknown>

describe("buildContext", () => {
  it("builds a user context keyed by the user id", () => {
    const context = buildContext(makeUser({}), NOW)
    assert.strictEqual(context.kind, "user")
    assert.strictEqual(context.key, "user-1")
    assert.deepStrictEqual(segmentsOf(context), ["established_user", "user"])
    assert.strictEqual(context["email"], "someone@example.com")
    assert.strictEqual(context["email_domain"], "example.com")
    assert.strictEqual(context["email_verified"], true)
    assert.strictEqual(context["name"], "Someone")
    assert.strictEqual(context["account_age_days"], 400)
    assert.strictEqual(context["created_at"], new Date(NOW - 400 * DAY_MS).toISOString())
    assert.isFalse("_meta" in context)
    assert.isFalse("custom" in context)
  })

  describe("system users", () => {
    it("gets system and admin, not user", () => {
      const context = buildContext(makeUser({ id: "svc" }), NOW, makeRules({ systemUserIds: ["svc"] }))
      assert.deepStrictEqual(segmentsOf(context), ["admin", "established_user", "system"])
    })

    it("matches ids exactly", () => {
      const context = buildContext(makeUser({ id: "svc2" }), NOW, makeRules({ systemUserIds: ["svc"] }))
      assert.include(segmentsOf(context), "user")
      assert.notInclude(segmentsOf(context), "system")
    })
  })

  describe("employees", () => {
    const rules = makeRules({ employeeDomains: ["agpt.co", "Corp.Example"] })
    it.each([
      ["ada@agpt.co", true],
      ["ADA@AGPT.CO", true],
      ["ada@corp.example", true],
      ["a@b@agpt.co", true],
      ["ada@mail.agpt.co", false],
      ["ada@agpt.co.evil.com", false],
      ["ada@xagpt.co", false],
      ["agpt.co", false],
      ["ada@", false],
      ["", false]
    ] as const)("%s → employee: %s", (email, expected) => {
      assert.strictEqual(segmentsOf(buildContext(makeUser({ email }), NOW, rules)).includes("employee"), expected)
    })
  })

  describe("verified email", () => {
    const rules = makeRules({ employeeDomains: ["agpt.co"] })
    const unverified = new User({ ...makeUser({ email: "ada@agpt.co" }), email_verified: false })

    it("an unverified email at an employee domain is not an employee by default", () => {
      const context = buildContext(unverified, NOW, rules)
      assert.notInclude(segmentsOf(context), "employee")
      assert.strictEqual(context["email_domain"], "agpt.co")
      assert.strictEqual(context["email_verified"], false)
    })

    it("domainSegmentsRequireVerifiedEmail: false trusts the domain alone", () => {
      const lenient = makeRules({ employeeDomains: ["agpt.co"], domainSegmentsRequireVerifiedEmail: false })
      assert.include(segmentsOf(buildContext(unverified, NOW, lenient)), "employee")
    })
  })

  describe("wide metadata", () => {
    it("turns at most maxCustomAttributes keys into attributes", () => {
      const metadata: Record<string, Json> = { role: "admin", segments: ["beta"] }
      for (let i = 0; i < 100_000; i++) metadata[`k${i}`] = i
      const context = buildContext(makeUser({ metadata }), NOW)
      const custom = Object.keys(customOf(context))
      assert.strictEqual(custom.length, defaultRules.maxCustomAttributes)
      assert.deepStrictEqual(custom.slice(0, 2), ["k0", "k1"])
      assert.isFalse("_meta" in context)
      assert.include(segmentsOf(context), "beta")
      assert.include(segmentsOf(context), "admin")
      const none = buildContext(makeUser({ metadata }), NOW, makeRules({ maxCustomAttributes: 0 }))
      assert.isFalse("custom" in none)
    })
  })

  describe("email_domain", () => {
    it.each([
      ["ada@Example.COM", "example.com"],
      ["a@b@agpt.co", "agpt.co"],
      ["no-at-sign", undefined],
      ["trailing@", undefined]
    ] as const)("%s → %s", (email, domain) => {
      assert.strictEqual(emailDomain(email), domain)
      const context = buildContext(makeUser({ email }), NOW)
      assert.strictEqual(context["email_domain"], domain)
      assert.strictEqual("email_domain" in context, domain !== undefined)
    })
  })

  describe("account age", () => {
    it.each([
      [0, "new_user", 0],
      [6.99, "new_user", 6],
      [7, "recent_user", 7],
      [29, "recent_user", 29],
      [29.99, "recent_user", 29],
      [30, "established_user", 30],
      [400, "established_user", 400],
      [-3, "new_user", 0]
    ] as const)("%s days old → %s, account_age_days %s", (days, bucket, ageDays) => {
      const context = buildContext(makeUser({ createdAt: NOW - days * DAY_MS }), NOW)
      const buckets = segmentsOf(context).filter((s) => s.endsWith("_user") && s !== "user")
      assert.deepStrictEqual(buckets, [bucket])
      assert.strictEqual(context["account_age_days"], ageDays)
    })

    it("honours configured thresholds", () => {
      const rules = makeRules({ newUserDays: 1, recentUserDays: 2 })
      assert.include(segmentsOf(buildContext(makeUser({ createdAt: NOW - 1.5 * DAY_MS }), NOW, rules)), "recent_user")
    })

    it("contextValidUntil is the next day or bucket boundary after now", () => {
      const created = NOW - 6.5 * DAY_MS
      assert.strictEqual(contextValidUntil(created, NOW, defaultRules), created + 7 * DAY_MS)
      assert.strictEqual(contextValidUntil(NOW + DAY_MS, NOW, defaultRules), NOW + 2 * DAY_MS)
      const halfDays = makeRules({ newUserDays: 0.25, recentUserDays: 30 })
      assert.strictEqual(contextValidUntil(NOW - 0.1 * DAY_MS, NOW, halfDays), NOW + 0.15 * DAY_MS)
    })
  })

  describe("metadata", () => {
    it("adds a string segments value", () => {
      assert.include(segmentsOf(buildContext(makeUser({ metadata: { segments: "beta" } }), NOW)), "beta")
    })

    it("adds a list of segments, ignoring numbers, empty strings and nested values", () => {
      const context = buildContext(
        makeUser({ metadata: { segments: ["beta", 3, "", null, ["x"], "alpha", "beta"] } }),
        NOW
      )
      assert.deepStrictEqual(segmentsOf(context), ["alpha", "beta", "established_user", "user"])
    })

    it("cannot claim a segment the rules grant", () => {
      const context = buildContext(
        makeUser({ metadata: { segments: ["system", "employee", "new_user", "user", "beta"] } }),
        NOW
      )
      assert.deepStrictEqual(segmentsOf(context), ["beta", "established_user", "user"])
    })

    it("adds a privileged role as a segment and sets role", () => {
      const context = buildContext(makeUser({ metadata: { role: "moderator" } }), NOW)
      assert.include(segmentsOf(context), "moderator")
      assert.strictEqual(context["role"], "moderator")
    })

    it("sets but does not segment an unprivileged role", () => {
      const context = buildContext(makeUser({ metadata: { role: "viewer" } }), NOW)
      assert.notInclude(segmentsOf(context), "viewer")
      assert.strictEqual(context["role"], "viewer")
    })

    it.each([[42], [["admin"]], [{ name: "admin" }], [null], [true]] as ReadonlyArray<[Json]>)(
      "ignores a role that is not a string: %j",
      (role) => {
        const context = buildContext(makeUser({ metadata: { role } }), NOW)
        assert.isFalse("role" in context)
        assert.notInclude(segmentsOf(context), "admin")
      }
    )

    it("puts every other key under the object attribute custom with its JSON value, and no _meta", () => {
      const context = buildContext(makeUser({ metadata: { plan: "pro", limits: { seats: 5 }, tags: ["a"] } }), NOW)
      assert.deepStrictEqual(context["custom"], { plan: "pro", limits: { seats: 5 }, tags: ["a"] })
      assert.isFalse("custom_plan" in context)
      assert.isFalse("_meta" in context)
    })

    it("keys named key, kind, _meta, segments, role, email or anonymous change nothing built-in", () => {
      const metadata = {
        key: "other",
        kind: "org",
        _meta: { privateAttributes: [] },
        anonymous: true,
        email: "evil@agpt.co",
        segments: ["beta"],
        role: "admin",
        __proto__: { polluted: true }
      }
      const context = buildContext(makeUser({ metadata: JSON.parse(JSON.stringify(metadata)) }), NOW)
      assert.strictEqual(context.kind, "user")
      assert.strictEqual(context.key, "user-1")
      assert.strictEqual(context["email"], "someone@example.com")
      assert.isFalse("anonymous" in context)
      assert.strictEqual(customOf(context)["key"], "other")
      assert.strictEqual(customOf(context)["kind"], "org")
      assert.strictEqual(customOf(context)["anonymous"], true)
      assert.isFalse("_meta" in context)
      assert.isFalse("segments" in customOf(context))
      assert.isFalse("role" in customOf(context))
      assert.isUndefined(({} as Record<string, unknown>)["polluted"])
    })

    it("a metadata key __proto__ stays data", () => {
      const metadata = JSON.parse('{"__proto__": {"polluted": 1}, "plain": 2}')
      const context = buildContext(makeUser({ metadata }), NOW)
      assert.strictEqual(customOf(context)["plain"], 2)
      assert.deepStrictEqual(Object.getOwnPropertyDescriptor(customOf(context), "__proto__")?.value, { polluted: 1 })
      assert.strictEqual(Object.getPrototypeOf(context), Object.prototype)
      assert.strictEqual(Object.getPrototypeOf(customOf(context)), Object.prototype)
      assert.isUndefined(({} as Record<string, unknown>)["polluted"])
    })

    it("metadataAttributes: none and an allow-list", () => {
      const user = makeUser({ metadata: { plan: "pro", team: "core", segments: "beta" } })
      const none = buildContext(user, NOW, makeRules({ metadataAttributes: "none" }))
      assert.isFalse("custom" in none)
      assert.include(segmentsOf(none), "beta")
      const some = buildContext(user, NOW, makeRules({ metadataAttributes: ["team"] }))
      assert.deepStrictEqual(some["custom"], { team: "core" })
    })

    it("privateAttributes as an explicit list: the context is the same, without _meta", () => {
      const rules = makeRules({ privateAttributes: ["email"] })
      const context = buildContext(makeUser({ metadata: { plan: "pro" } }), NOW, rules)
      assert.deepStrictEqual(context, buildContext(makeUser({ metadata: { plan: "pro" } }), NOW))
      assert.isFalse("_meta" in context)
    })
  })

  it("omits name when it is null", () => {
    assert.isFalse("name" in buildContext(makeUser({ name: null }), NOW))
  })
})

describe("idOnlyContext", () => {
  it("is only the kind and the key", () => {
    assert.deepStrictEqual(idOnlyContext("u-9"), { kind: "user", key: "u-9" })
  })
})

describe("withRequestAttributes", () => {
  const base = buildContext(makeUser({ metadata: { segments: "beta" } }), NOW)

  it("merges attributes over a copy and unions segments", () => {
    const before = structuredClone(base)
    const merged = withRequestAttributes(base, {
      attributes: { country: "NZ", segments: ["gamma", "beta"], email: "override@x.y" }
    })
    assert.strictEqual(merged["country"], "NZ")
    assert.strictEqual(merged["email"], "override@x.y")
    assert.deepStrictEqual(segmentsOf(merged), ["beta", "established_user", "gamma", "user"])
    assert.deepStrictEqual(base, before)
  })

  it("cannot overwrite kind, key or _meta", () => {
    const merged = withRequestAttributes(base, {
      attributes: { kind: "org", key: "other", _meta: { privateAttributes: [] } }
    })
    assert.strictEqual(merged.kind, "user")
    assert.strictEqual(merged.key, base.key)
    assert.isFalse("_meta" in merged)
  })

  it("a custom object is merged over the user's custom (private unless public); another value is ignored", () => {
    const user = buildContext(makeUser({ metadata: { plan: "free", team: "core" } }), NOW)
    const merged = withRequestAttributes(user, { attributes: { custom: { plan: "pro", seats: 3 } } })
    assert.deepStrictEqual(merged["custom"], { plan: "pro", team: "core", seats: 3 })
    assert.deepStrictEqual(merged._meta?.privateAttributes, ["custom"])
    assert.deepStrictEqual(user["custom"], { plan: "free", team: "core" })
    const ignored = withRequestAttributes(user, { attributes: { custom: "pro" } })
    assert.deepStrictEqual(ignored["custom"], { plan: "free", team: "core" })
    assert.isFalse("_meta" in ignored)
  })

  it("role sets the attribute and adds the segment, on a copy only", () => {
    const withRole = withRequestAttributes(base, { role: "admin" })
    assert.strictEqual(withRole["role"], "admin")
    assert.include(segmentsOf(withRole), "admin")
    assert.notInclude(segmentsOf(base), "admin")
    assert.isFalse("role" in base)
  })

  it("a request attribute named __proto__ stays data", () => {
    const merged = withRequestAttributes(base, { attributes: JSON.parse('{"__proto__": {"polluted": 1}}') })
    assert.strictEqual(Object.getPrototypeOf(merged), Object.prototype)
    assert.isUndefined(({} as Record<string, unknown>)["polluted"])
  })

  it("works on an id-only context", () => {
    const merged = withRequestAttributes(idOnlyContext("u-1"), { role: "support", attributes: { plan: "pro" } })
    assert.deepStrictEqual(merged, {
      kind: "user",
      key: "u-1",
      plan: "pro",
      role: "support",
      segments: ["support"],
      _meta: { privateAttributes: ["plan"] }
    })
  })

  it("request attributes are private unless declared public", () => {
    const merged = withRequestAttributes(base, {
      attributes: { ip: "203.0.113.9", country: "NZ", "/path": 1 },
      publicAttributes: ["country"]
    })
    assert.deepStrictEqual(merged._meta?.privateAttributes, ["ip", "/~1path"])
    assert.isFalse("_meta" in base)
    assert.isFalse(
      "_meta" in withRequestAttributes(base, { attributes: { country: "NZ" }, publicAttributes: ["country"] })
    )
  })
})

describe("privateAttributeReferences", () => {
  it("pii: email, name and the whole custom object", () => {
    assert.deepStrictEqual(privateAttributeReferences(), ["email", "name", "/custom"])
    assert.deepStrictEqual(privateAttributeReferences(makeRules()), ["email", "name", "/custom"])
  })

  it("a list keeps names and references, and maps a legacy custom_<key> to /custom/<key>", () => {
    assert.deepStrictEqual(
      privateAttributeReferences(
        makeRules({ privateAttributes: ["email", "/custom/plan", "custom_team", "custom_a/b", "email", ""] })
      ),
      ["email", "/custom/plan", "/custom/team", "/custom/a~1b"]
    )
  })
})

// --- Properties over users generated from the User schema itself -------------------------------

const DOMAINS = ["agpt.co", "example.com", "Corp.Example", "mail.agpt.co"] as const
const LISTED = ["agpt.co", "corp.example"] as const
const SEGMENT_NAMES = ["beta", "alpha", "system", "user", "employee", "", "new_user"] as const

/** Users from the schema, with emails and metadata steered towards the interesting rules. */
const RichUser = Arbitrary.all({
  user: Arbitrary.schema(User),
  local: Arbitrary.schema(Schema.String),
  domain: Arbitrary.schema(Schema.Literals(DOMAINS)),
  upper: Arbitrary.schema(Schema.Boolean),
  segments: Arbitrary.schema(Schema.Array(Schema.Union([Schema.Literals(SEGMENT_NAMES), Schema.Finite]))),
  role: Arbitrary.schema(Schema.Union([Schema.Literals(["admin", "viewer", "moderator"]), Schema.Finite])),
  ageMillis: Arbitrary.schema(Schema.Int.check(Schema.isBetween({ minimum: -10 * DAY_MS, maximum: 400 * DAY_MS })))
}).pipe(
  Arbitrary.map(({ user, local, domain, upper, segments, role, ageMillis }) => {
    const email = `${local}@${upper ? domain.toUpperCase() : domain}`
    return new User({
      ...user,
      email,
      created_at: DateTime.makeUnsafe(NOW - ageMillis),
      metadata: { ...user.metadata, segments, role }
    })
  })
)

const rules = makeRules({ employeeDomains: [...LISTED], systemUserIds: ["root", "svc"] })

const deepFreeze = <A>(value: A): A => {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key])
  }
  return value
}

describe("buildContext properties", () => {
  it.prop("segments are sorted and unique", { user: User }, ({ user }) => {
    const segments = segmentsOf(buildContext(user, NOW, rules))
    assert.deepStrictEqual([...segments], [...new Set(segments)].sort())
  })

  it.prop("exactly one of {user} / {system, admin}", { user: RichUser }, ({ user }) => {
    const systemUser = new User({ ...user, id: "svc" as UserId })
    for (const u of [user, systemUser]) {
      const segments = segmentsOf(buildContext(u, NOW, rules))
      const isSystem = rules.systemUserIds.includes(u.id)
      assert.strictEqual(segments.includes("system"), isSystem)
      assert.strictEqual(segments.includes("user"), !isSystem)
      if (isSystem) assert.include(segments, "admin")
    }
  })

  it.prop("exactly one age bucket, consistent with account_age_days", { user: RichUser }, ({ user }) => {
    const context = buildContext(user, NOW, rules)
    const buckets = segmentsOf(context).filter((s) => ["new_user", "recent_user", "established_user"].includes(s))
    assert.strictEqual(buckets.length, 1)
    const days = context["account_age_days"] as number
    assert.isAtLeast(days, 0)
    assert.strictEqual(days, accountAgeDays(user.created_at.epochMilliseconds, NOW))
    const bucket = buckets[0]
    if (bucket === "new_user") assert.isBelow(days, rules.newUserDays)
    if (bucket === "recent_user") assert.isTrue(days >= rules.newUserDays && days < rules.recentUserDays)
    if (bucket === "established_user") assert.isAtLeast(days, rules.recentUserDays)
  })

  it.prop("employee iff the domain is listed and the email verified", { user: RichUser }, ({ user }) => {
    const email: string | null = user.email
    const domain = email === null ? "" : email.slice(email.lastIndexOf("@") + 1).toLowerCase()
    const listed = (LISTED as ReadonlyArray<string>).includes(domain)
    assert.strictEqual(segmentsOf(buildContext(user, NOW, rules)).includes("employee"), listed && user.email_verified)
    const lenient = makeRules({ ...rules, domainSegmentsRequireVerifiedEmail: false })
    assert.strictEqual(segmentsOf(buildContext(user, NOW, lenient)).includes("employee"), listed)
  })

  it.prop("is deterministic and never mutates or chokes on deeply frozen input", { user: RichUser }, ({ user }) => {
    const snapshot = structuredClone({ ...user, created_at: null, updated_at: null })
    const first = buildContext(user, NOW, rules)
    const frozen = deepFreeze(new User({ ...user, metadata: structuredClone(user.metadata) }))
    const second = buildContext(frozen, NOW, deepFreeze(makeRules(rules)))
    assert.deepStrictEqual(second, first)
    assert.deepStrictEqual({ ...user, created_at: null, updated_at: null }, snapshot)
  })

  it.prop("metadata never changes kind, key, _meta, anonymous or built-ins", { user: User }, ({ user }) => {
    const hostile = new User({
      ...user,
      metadata: { ...user.metadata, kind: "org", key: "x", _meta: {}, anonymous: true, email: "x", name: "x" }
    })
    const context = buildContext(hostile, NOW, rules)
    assert.strictEqual(context.kind, "user")
    assert.strictEqual(context.key, user.id)
    assert.isFalse("anonymous" in context)
    assert.strictEqual(context["email"], user.email ?? undefined)
    assert.strictEqual(context["name"], user.name ?? undefined)
    assert.isFalse("_meta" in context)
    for (const key of ["kind", "key", "_meta", "anonymous", "email", "name"]) {
      if (key in customOf(context)) assert.deepStrictEqual(customOf(context)[key], hostile.metadata[key])
    }
  })

  it.prop(
    "withRequestAttributes never changes its input and keeps kind and key",
    {
      user: RichUser,
      attributes: Schema.Record(Schema.String, Schema.Json),
      role: Schema.optional(Schema.String)
    },
    ({ user, attributes, role }) => {
      const context = buildContext(user, NOW, rules)
      const before = structuredClone(context)
      const merged = withRequestAttributes(context, { attributes, role })
      assert.deepStrictEqual(context, before)
      assert.strictEqual(merged.kind, "user")
      assert.strictEqual(merged.key, user.id)
      const added = Object.keys(attributes).filter(
        (key) =>
          !["kind", "key", "_meta", "segments"].includes(key) &&
          (key !== "custom" ||
            (typeof attributes[key] === "object" && attributes[key] !== null && !Array.isArray(attributes[key])))
      )
      assert.isFalse("_meta" in context)
      // Every added attribute is private: named once in the new context's `_meta`.
      assert.strictEqual(merged._meta?.privateAttributes?.length ?? 0, added.length)
      for (const segment of segmentsOf(context)) assert.include(segmentsOf(merged), segment)
      if (role !== undefined && role.length > 0) assert.include(segmentsOf(merged), role)
    }
  )
})

describe("through the LaunchDarkly SDK", () => {
  it.effect("a flag on segments containing S is on exactly when our segments contain S", () =>
    Effect.gen(function* () {
      const td = new integrations.TestData()
      const client = init("sdk-key-test", {
        updateProcessor: td.getFactory(),
        sendEvents: false,
        diagnosticOptOut: true,
        logger: { error() {}, warn() {}, info() {}, debug() {} }
      })
      yield* Effect.addFinalizer(() => Effect.sync(() => client.close()))
      yield* Effect.promise(() => client.waitForInitialization({ timeout: 5 }))
      const targets = ["beta", "employee", "new_user", "admin", "system"] as const
      for (const s of targets) {
        yield* Effect.promise(() =>
          td.update(
            td
              .flag(`seg-${s}`)
              .booleanFlag()
              .fallthroughVariation(false)
              .ifMatch("user", "segments", s)
              .thenReturn(true)
          )
        )
      }
      let cases = 0
      const result = yield* Arbitrary.checkEffect(
        RichUser,
        (user) =>
          Effect.gen(function* () {
            const context = buildContext(user, NOW, rules)
            for (const s of targets) {
              const on = yield* Effect.promise(() => client.variation(`seg-${s}`, context, false))
              if (on !== segmentsOf(context).includes(s)) return false
            }
            cases++
            return true
          }),
        { runs: 200 }
      )
      assert.isUndefined(Arbitrary.formatCheckFailure(result))
      assert.strictEqual(cases, 200)
    })
  )
})

describe("metadata targeted through /custom/<key> by the SDK", () => {
  const flagsFileWith = (flags: Record<string, unknown>): string => {
    const dir = mkdtempSync(join(tmpdir(), "segmentation-"))
    const path = join(dir, "flags.json")
    writeFileSync(path, JSON.stringify({ flags }))
    return path
  }
  const ruleOn = (key: string, attribute: string, values: ReadonlyArray<Json>, contextKind?: string) => ({
    key,
    version: 1,
    on: true,
    salt: key,
    variations: [false, true],
    offVariation: 0,
    fallthrough: { variation: 0 },
    targets: [],
    contextTargets: [],
    prerequisites: [],
    rules: [
      {
        id: `${key}-rule`,
        variation: 1,
        clauses: [{ ...(contextKind === undefined ? {} : { contextKind }), attribute, op: "in", values, negate: false }]
      }
    ]
  })

  it.effect("a flags file's clause on /custom/plan (and nested /custom/limits/seats) matches the user's metadata", () =>
    Effect.gen(function* () {
      const path = flagsFileWith({
        "pro-plan": ruleOn("pro-plan", "/custom/plan", ["pro"], "user"),
        "five-seats": ruleOn("five-seats", "/custom/limits/seats", [5], "user"),
        // A clause without a context kind reads its attribute as a literal name, not a reference.
        "legacy-clause": ruleOn("legacy-clause", "/custom/plan", ["pro"])
      })
      const client = init("sdk-key-test", {
        updateProcessor: new integrations.FileDataSourceFactory({ paths: [path], autoUpdate: false }).getFactory(),
        sendEvents: false,
        diagnosticOptOut: true,
        logger: { error() {}, warn() {}, info() {}, debug() {} }
      })
      yield* Effect.addFinalizer(() => Effect.sync(() => client.close()))
      yield* Effect.promise(() => client.waitForInitialization({ timeout: 5 }))
      const pro = buildContext(makeUser({ metadata: { plan: "pro", limits: { seats: 5 } } }), NOW)
      const free = buildContext(makeUser({ metadata: { plan: "free", limits: { seats: 1 } } }), NOW)
      const bare = buildContext(makeUser({}), NOW)
      const on = (flag: string, context: UserContext) => Effect.promise(() => client.variation(flag, context, false))
      assert.deepStrictEqual(
        [yield* on("pro-plan", pro), yield* on("pro-plan", free), yield* on("pro-plan", bare)],
        [true, false, false]
      )
      assert.deepStrictEqual([yield* on("five-seats", pro), yield* on("five-seats", free)], [true, false])
      assert.isFalse(yield* on("legacy-clause", pro))
    })
  )

  it.effect("TestData's ifMatch on /custom/plan matches the user's metadata", () =>
    Effect.gen(function* () {
      const td = new integrations.TestData()
      const client = init("sdk-key-test", {
        updateProcessor: td.getFactory(),
        sendEvents: false,
        diagnosticOptOut: true,
        logger: { error() {}, warn() {}, info() {}, debug() {} }
      })
      yield* Effect.addFinalizer(() => Effect.sync(() => client.close()))
      yield* Effect.promise(() => client.waitForInitialization({ timeout: 5 }))
      yield* Effect.promise(() =>
        td.update(
          td
            .flag("pro")
            .booleanFlag()
            .fallthroughVariation(false)
            .ifMatch("user", "/custom/plan", "pro")
            .thenReturn(true)
        )
      )
      const context = (plan: string) => buildContext(makeUser({ metadata: { plan } }), NOW)
      assert.isTrue(yield* Effect.promise(() => client.variation("pro", context("pro"), false)))
      assert.isFalse(yield* Effect.promise(() => client.variation("pro", context("free"), false)))
    })
  )
})
