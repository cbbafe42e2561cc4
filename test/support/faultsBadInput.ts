/**
 * The stack the generated bad-input tests run against: the real SDK on `TestData` with a few
 * flags, a `ContextCache`, and a `UserRepo` swapped per case (each generated row is served by a
 * fresh `UserRepo.layerMemoryRows` while the SDK client is built once). Plus the check of every
 * operation of the client for one user id and flag key.
 */
import { assert } from "@effect/vitest"
import { Arbitrary, Context, DateTime, Effect, Exit, Layer, Schema } from "effect"
import { ContextBuilder } from "../../src/ContextBuilder.js"
import { ContextCache } from "../../src/ContextCache.js"
import { FlagClient, TestFlags } from "../../src/FlagClient.js"
import { User, UserFromRow, type UserId } from "../../src/User.js"
import { UserNotFound, UserRepo } from "../../src/UserRepo.js"
import { assertAnswered, assertNoPollution } from "./faultsArbitrary.js"
import { captureLogs } from "./launchdarkly.js"

export const NOW = Date.UTC(2026, 0, 1)
export const KNOWN_USERS = ["alice", "bob", "carol"]
export const KNOWN_FLAGS = ["on", "off", "by-segment", "by-plan", "json", "number", "string"]
const REPO_ERRORS = ["InvalidUserId", "UserNotFound", "UserRepoError"]

// The repository behind the cache is swapped per case, so that each generated row is served by a
// fresh `UserRepo.layerMemoryRows` while the SDK client is built once.
export const current: { repo: UserRepo["Service"] } = {
  repo: UserRepo.of({ getById: (id) => Effect.fail(new UserNotFound({ userId: id })) })
}
const switchable = Layer.succeed(
  UserRepo,
  UserRepo.of({ getById: (id) => Effect.suspend(() => current.repo.getById(id)) })
)
export const known = (id: string) =>
  new User({
    id: id as UserId,
    email: `${id}@example.com`,
    email_verified: true,
    name: id,
    created_at: DateTime.makeUnsafe(NOW - 40 * 86_400_000),
    updated_at: DateTime.makeUnsafe(NOW),
    metadata: { plan: "pro", segments: ["beta"] }
  })

const Flags = Layer.effectDiscard(
  Effect.gen(function* () {
    const flags = yield* TestFlags
    yield* flags.enable("on")
    yield* flags.disable("off")
    yield* flags.enableForSegments("by-segment", ["beta", "user"])
    yield* flags.update("by-plan", (flag) =>
      flag.booleanFlag().fallthroughVariation(false).ifMatch("user", "/custom/plan", "pro").thenReturn(true)
    )
    yield* flags.set("json", { limit: 10, tiers: ["a", "b"] })
    yield* flags.set("number", 42)
    yield* flags.set("string", "text")
  })
)

// The id-only warnings and the SDK's errors for unknown flags are expected here by the thousand: kept, not printed.
export const logs = captureLogs()

export const Stack = Flags.pipe(
  Layer.provideMerge(FlagClient.layerTest),
  Layer.provideMerge(ContextCache.layer({ capacity: 64, notFoundTimeToLive: 0, lookupTimeout: "2 seconds" })),
  Layer.provideMerge(Layer.mergeAll(switchable, ContextBuilder.layer())),
  Layer.provideMerge(logs.layer)
)

const Limits = Schema.Struct({ limit: Schema.Number, tiers: Schema.Array(Schema.String) })
export const jsonAttributes = Arbitrary.schema(Schema.Record(Schema.String, Schema.Json))

/**
 * The operations of the client, the cache and the repository for one user id and one flag key,
 * each checked: `"all"` of them, or the `"core"` ones (`evaluate`, `isEnabled`, `get`, `getById`).
 */
export const everyOperation = (
  client: FlagClient["Service"],
  cache: ContextCache["Service"],
  repo: UserRepo["Service"],
  userId: string,
  flagKey: string,
  attributes: Readonly<Record<string, Schema.Json>>,
  what: string,
  which: "all" | "core" = "all"
) =>
  Effect.gen(function* () {
    const id = userId as UserId
    const check = <A, E>(label: string, effect: Effect.Effect<A, E>, allowed: ReadonlyArray<string> = []) =>
      Effect.map(Effect.exit(effect), (exit) => {
        assertAnswered(exit, allowed, `${what} ${label}`)
        return exit
      })
    const detail = yield* check("evaluate", client.evaluate(flagKey, id, "default"))
    if (Exit.isSuccess(detail)) {
      // An SDK fallback (or an invalid id) means the caller's default; a context fallback still
      // evaluates, against the id-only context. Either way a value of the asked kind.
      const fallback = detail.value.fallback
      if (fallback !== null && fallback !== "UserNotFound" && fallback !== "UserRepoUnavailable") {
        assert.strictEqual(detail.value.value, "default", `${what} evaluate: ${JSON.stringify(detail.value)}`)
      }
      assert.strictEqual(typeof detail.value.value, "string", what)
    }
    yield* check("isEnabled", client.isEnabled(flagKey, id, { attributes }))
    if (which === "all") {
      yield* check("evaluate(null)", client.evaluate(flagKey, id, null, { attributes, role: flagKey }))
      yield* check("evaluate(object)", client.evaluate(flagKey, id, { fallback: true }, { useUserIdOnly: true }))
      yield* check("variation", client.variation(flagKey, id, Limits, { limit: 0, tiers: [] }, { attributes }))
      yield* check("allFlags", client.allFlags(id, { withReasons: true, attributes }))
      yield* check("require", client.require(flagKey, id), ["FeatureDisabled"])
    }
    yield* check("ContextCache.get", cache.get(userId), REPO_ERRORS)
    yield* check("UserRepo.getById", repo.getById(userId), REPO_ERRORS)
    assertNoPollution(what)
    return true
  })

export const memoryRepo = (users: ReadonlyArray<User>) =>
  Effect.map(Effect.scoped(Layer.build(UserRepo.layerMemory(users))), (context) => Context.get(context, UserRepo))

export const memoryRowsRepo = (rows: ReadonlyArray<unknown>) =>
  Effect.map(Effect.scoped(Layer.build(UserRepo.layerMemoryRows(rows))), (context) => Context.get(context, UserRepo))

const decodeUser = Schema.decodeUnknownExit(UserFromRow)

/** What the row should become: the decoded user, or `undefined` when it can't be one. */
export const decodeRow = (row: unknown): User | undefined => {
  const exit = decodeUser(row)
  return Exit.isSuccess(exit) ? exit.value : undefined
}

export const describeRow = (row: Readonly<Record<string, unknown>>): string =>
  Object.entries(row)
    .map(([key, value]) => {
      const type =
        value instanceof Date ? "Date" : Array.isArray(value) ? "array" : value === null ? "null" : typeof value
      return `${key}:${type}`
    })
    .join(",")
