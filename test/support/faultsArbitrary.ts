/**
 * Hostile input for the fault suite, generated with `effect/Arbitrary` from Schemas: strings for
 * user ids and flag keys, JSON metadata (deep, huge, unicode, `__proto__` keys), and user rows
 * whose columns have the wrong types. Plus the checks every generated case must pass: an exit
 * that is a value or a declared typed error, never a defect; `Object.prototype` untouched.
 */
import { assert } from "@effect/vitest"
import { Arbitrary, Cause, Exit, Schema } from "effect"

// ---------------------------------------------------------------------------------------------
// Strings
// ---------------------------------------------------------------------------------------------

/** Names that mean something to JavaScript objects, and strings that are empty, blank or odd. */
const specialStrings = Schema.Literals([
  "__proto__",
  "constructor",
  "prototype",
  "toString",
  "hasOwnProperty",
  "valueOf",
  "",
  " ",
  "\t\n",
  "\u0000",
  "\ud800",
  "\udc00x",
  "😀",
  "e\u0301",
  "\u202e",
  "kind",
  "key",
  "_meta",
  "segments",
  "role",
  "null",
  "undefined",
  "NaN",
  "../..",
  '\'; DROP TABLE "User"; --',
  "%00",
  "%2e%2e"
])

const anyString = Arbitrary.schema(Schema.String)
const special = Arbitrary.schema(specialStrings)
const length = Arbitrary.schema(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 4 })))

/** A long string: `seed` repeated to around 250, 256 or 100,000 characters (ids are limited to 255). */
const long = Arbitrary.flatMap(length, (size) =>
  Arbitrary.map(anyString, (seed) => {
    const target = [250, 255, 256, 4_096, 100_000][size] ?? 256
    const unit = seed.length > 0 ? seed : "x"
    return unit.repeat(Math.ceil(target / unit.length)).slice(0, target)
  })
)

const stringKind = Arbitrary.schema(Schema.Literals(["any", "special", "long", "padded"]))

/** Arbitrary strings, biased towards the ones that break code: special names, long, padded with blanks. */
export const hostileString: Arbitrary.Arbitrary<string> = Arbitrary.flatMap(stringKind, (kind) => {
  switch (kind) {
    case "special":
      return special
    case "long":
      return long
    case "padded":
      return Arbitrary.map(anyString, (s) => ` ${s}\t`)
    default:
      return anyString
  }
})

/** A string, or now and then one of `known` (so that the real paths — a found user, a set flag — run too). */
export const stringOrKnown = (known: ReadonlyArray<string>): Arbitrary.Arbitrary<string> =>
  Arbitrary.flatMap(Arbitrary.schema(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 3 }))), (pick) =>
    pick === 0 && known.length > 0
      ? Arbitrary.map(Arbitrary.schema(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 1_000 }))), (i) =>
          String(known[i % known.length])
        )
      : hostileString
  )

// ---------------------------------------------------------------------------------------------
// JSON metadata
// ---------------------------------------------------------------------------------------------

type Json = Schema.Json
type JsonObject = Schema.JsonObject

const plainObject = Arbitrary.schema(Schema.JsonObject)
const anyJson = Arbitrary.schema(Schema.Json)
// Mostly moderate, sometimes far deeper than any recursive walk could go.
const depth = Arbitrary.map(
  Arbitrary.schema(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 9 }))),
  (pick) => [2, 10, 50, 100, 500, 1_000, 2_000, 5_000, 10_000, 20_000][pick] ?? 10
)

/** JSON nested `levels` deep, objects and arrays alternating, built without recursion. */
const nested = (levels: number, leaf: Json): Json => {
  let value: Json = leaf
  for (let i = 0; i < levels; i++) value = i % 2 === 0 ? { a: value } : [value]
  return value
}

/** `JSON.stringify` without recursion, for values nested deeper than its stack allows. */
export const jsonText = (value: Json): string => {
  const out: Array<string> = []
  const stack: Array<Json | { readonly text: string }> = [value]
  while (stack.length > 0) {
    const next = stack.pop()
    if (next === undefined) continue
    if (next !== null && typeof next === "object" && isMarker(next)) {
      out.push(next.text)
    } else if (Array.isArray(next)) {
      const items: ReadonlyArray<Json> = next
      stack.push(marker("]"))
      for (let i = items.length - 1; i >= 0; i--) {
        stack.push(items[i] ?? null)
        if (i > 0) stack.push(marker(","))
      }
      out.push("[")
    } else if (next !== null && typeof next === "object") {
      const entries = Object.entries(next as JsonObject)
      stack.push(marker("}"))
      for (let i = entries.length - 1; i >= 0; i--) {
        const [key, item] = entries[i] ?? ["", null]
        stack.push(item)
        stack.push(marker(`${JSON.stringify(key)}:`))
        if (i > 0) stack.push(marker(","))
      }
      out.push("{")
    } else {
      out.push(JSON.stringify(next))
    }
  }
  return out.join("")
}

/** How deeply `value` nests arrays and objects, counted without recursion. */
export const nestingDepth = (value: Json): number => {
  let deepest = 0
  const stack: Array<readonly [Json, number]> = [[value, 0]]
  while (stack.length > 0) {
    const [next, depth] = stack.pop() ?? [null, 0]
    if (next === null || typeof next !== "object") continue
    deepest = Math.max(deepest, depth + 1)
    for (const item of Array.isArray(next) ? next : Object.values(next)) stack.push([item, depth + 1])
  }
  return deepest
}

const markers = new WeakSet<object>()
const marker = (text: string): { readonly text: string } => {
  const m = { text }
  markers.add(m)
  return m
}
const isMarker = (value: object): value is { readonly text: string } => markers.has(value)

/** Text whose parse has own `__proto__` / `constructor.prototype` keys, at the top and nested. */
const protoText = (inner: Json) =>
  `{"__proto__":{"polluted":"yes","segments":["admin"]},` +
  `"constructor":{"prototype":{"polluted":"yes"}},` +
  `"nested":{"__proto__":{"polluted":"yes"},"list":[{"__proto__":{"polluted":"yes"}}]},` +
  `"segments":["__proto__","constructor"],"role":"__proto__","inner":${jsonText(inner)}}`

const metadataKind = Arbitrary.schema(Schema.Literals(["plain", "deep", "huge", "proto", "special"]))

/**
 * A metadata object: Schema-derived JSON (unicode, odd keys), nested up to 20,000 levels, with
 * strings up to 1 MB, with own `__proto__` keys (from `JSON.parse`, as a database driver would
 * produce), or with hostile `segments` and `role`.
 */
export const hostileMetadata: Arbitrary.Arbitrary<JsonObject> = Arbitrary.flatMap(metadataKind, (kind) => {
  switch (kind) {
    case "deep":
      return Arbitrary.flatMap(depth, (levels) =>
        Arbitrary.map(anyJson, (leaf): JsonObject => ({ deep: nested(levels, leaf), segments: ["beta"] }))
      )
    case "huge":
      return Arbitrary.flatMap(length, (size) =>
        Arbitrary.map(anyString, (seed): JsonObject => {
          const unit = seed.length > 0 ? seed : "é"
          const target = [1_000, 10_000, 100_000, 500_000, 1_000_000][size] ?? 1_000
          const huge = unit.repeat(Math.ceil(target / unit.length)).slice(0, target)
          return { huge, segments: [huge.slice(0, 300)], role: huge }
        })
      )
    case "proto":
      return Arbitrary.map(anyJson, (inner) => JSON.parse(protoText(inner)) as JsonObject)
    case "special":
      return Arbitrary.flatMap(anyJson, (segments) =>
        Arbitrary.map(anyJson, (role): JsonObject => ({ segments, role, kind: "org", key: "other", _meta: role }))
      )
    default:
      return plainObject
  }
})

// ---------------------------------------------------------------------------------------------
// Rows
// ---------------------------------------------------------------------------------------------

const wrong = Arbitrary.schema(Schema.Union([Schema.Number, Schema.Boolean, Schema.Null, Schema.String, Schema.Json]))
const choice = (max: number) => Arbitrary.schema(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: max })))
const MISSING = Symbol("missing")

/** The value of a column: usually a good one, sometimes missing, sometimes of another type. */
const column = <A>(good: Arbitrary.Arbitrary<A>): Arbitrary.Arbitrary<unknown> =>
  Arbitrary.flatMap(
    choice(5),
    (pick): Arbitrary.Arbitrary<unknown> => (pick <= 2 ? good : pick === 3 ? Arbitrary.Constant(MISSING) : wrong)
  )

const timestamp: Arbitrary.Arbitrary<unknown> = Arbitrary.flatMap(choice(5), (pick) =>
  Arbitrary.map(Arbitrary.schema(Schema.Int.check(Schema.isBetween({ minimum: -1e15, maximum: 1e15 }))), (ms) => {
    switch (pick) {
      case 0:
        return new Date(ms)
      case 1:
        return new Date(ms).toString() === "Invalid Date" ? "not a date" : new Date(ms).toISOString()
      case 2:
        return new Date(Number.NaN)
      case 3:
        return "2024-02-30T25:61:00Z"
      case 4:
        return ms
      default:
        return new Date(Date.UTC(2024, 0, 1))
    }
  })
)

const metadataColumn: Arbitrary.Arbitrary<unknown> = Arbitrary.flatMap(
  choice(6),
  (pick): Arbitrary.Arbitrary<unknown> => {
    switch (pick) {
      case 0:
      case 1:
        return hostileMetadata
      case 2:
        // jsonb read as text, or a json column.
        return Arbitrary.map(hostileMetadata, jsonText)
      case 3:
        return Arbitrary.map(anyString, (text) => `{${text}`)
      case 4:
        return anyJson
      case 5:
        return Arbitrary.Constant(MISSING)
      default:
        return wrong
    }
  }
)

/** A raw row as a driver might hand it over: Prisma's columns, each possibly missing or of the wrong type. */
export const hostileRow: Arbitrary.Arbitrary<Readonly<Record<string, unknown>>> = Arbitrary.map(
  Arbitrary.all({
    email: column(anyString),
    emailVerified: column(Arbitrary.schema(Schema.Boolean)),
    name: column(Arbitrary.schema(Schema.NullOr(Schema.String))),
    createdAt: timestamp,
    updatedAt: Arbitrary.flatMap(
      choice(2),
      (pick): Arbitrary.Arbitrary<unknown> => (pick === 0 ? Arbitrary.Constant(MISSING) : timestamp)
    ),
    metadata: metadataColumn,
    extra: column(anyJson)
  }),
  (fields) => {
    const row: Record<string, unknown> = {}
    for (const [key, value] of Object.entries(fields)) if (value !== MISSING) row[key] = value
    return row
  }
)

// ---------------------------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------------------------

/**
 * Asserts that `exit` is a success or a failure with one of the `allowed` typed errors: never a
 * defect, an interruption or an undeclared error.
 */
export const assertAnswered = <A, E>(exit: Exit.Exit<A, E>, allowed: ReadonlyArray<string>, what: string): void => {
  if (Exit.isSuccess(exit)) return
  const defects = exit.cause.reasons.filter(Cause.isDieReason)
  assert.deepStrictEqual(
    defects.map((reason) => String(reason.defect)),
    [],
    `${what}: a defect\n${Cause.pretty(exit.cause).slice(0, 2_000)}`
  )
  for (const reason of exit.cause.reasons) {
    assert.isTrue(reason._tag === "Fail", `${what}: ${reason._tag}`)
    if (reason._tag === "Fail") {
      const tag =
        typeof reason.error === "object" && reason.error !== null
          ? (reason.error as { _tag?: unknown })._tag
          : undefined
      assert.include(allowed, String(tag), `${what}: an undeclared error ${String(reason.error)}`)
    }
  }
}

const objectPrototypeNames = Object.getOwnPropertyNames(Object.prototype).sort()
const arrayPrototypeNames = Object.getOwnPropertyNames(Array.prototype).sort()

/** Asserts that nothing was added to `Object.prototype` (or `Array.prototype`). */
export const assertNoPollution = (what: string): void => {
  const probe: Record<string, unknown> = {}
  const objectNames = Object.getOwnPropertyNames(Object.prototype).sort()
  const arrayNames = Object.getOwnPropertyNames(Array.prototype).sort()
  // Compared as text first: this runs for every case.
  if (
    probe["polluted"] === undefined &&
    Reflect.get([], "polluted") === undefined &&
    objectNames.join() === objectPrototypeNames.join() &&
    arrayNames.join() === arrayPrototypeNames.join()
  ) {
    return
  }
  assert.isUndefined(probe["polluted"], `${what}: Object.prototype.polluted is set`)
  assert.deepStrictEqual(objectNames, objectPrototypeNames, `${what}: Object.prototype changed`)
  assert.deepStrictEqual(arrayNames, arrayPrototypeNames, `${what}: Array.prototype changed`)
  assert.fail(`${what}: Array.prototype.polluted is set`)
}
