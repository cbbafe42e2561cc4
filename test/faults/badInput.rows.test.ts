/**
 * Fault suite, bad input (2 of 3): rows whose columns are missing or of the wrong type, and
 * metadata that is deep, huge, unicode or full of `__proto__` keys, served by
 * `UserRepo.layerMemoryRows` (4,000 generated cases). Each evaluation answers the full context
 * exactly when the row decodes, the id-only fallback otherwise; never a defect; `Object.prototype`
 * is never touched.
 */
import { assert, layer } from "@effect/vitest"
import { Effect, Exit } from "effect"
import { ContextCache } from "../../src/ContextCache.js"
import { FlagClient } from "../../src/FlagClient.js"
import { buildContext } from "../../src/Segmentation.js"
import type { UserId } from "../../src/User.js"
import {
  assertAnswered,
  assertNoPollution,
  hostileMetadata,
  hostileRow,
  hostileString,
  stringOrKnown
} from "../support/faultsArbitrary.js"
import {
  current,
  decodeRow,
  describeRow,
  everyOperation,
  KNOWN_FLAGS,
  memoryRowsRepo,
  NOW,
  Stack
} from "../support/faultsBadInput.js"

const REPO_ERRORS = ["InvalidUserId", "UserNotFound", "UserRepoError"]
let rowCount = 0

layer(Stack, { excludeTestServices: true, timeout: "60 seconds" })("faults - bad input: rows and metadata", (it) => {
  it.effect.prop(
    "arbitrary rows (wrong column types, hostile metadata) - the full context exactly when the row decodes",
    { row: hostileRow, flagKey: stringOrKnown(KNOWN_FLAGS), userId: hostileString },
    ({ row, flagKey, userId }) =>
      Effect.gen(function* () {
        // Mostly fresh, valid ids (so that the row is what is tested); every fifth a hostile one.
        const n = rowCount++
        const id = n % 5 === 0 ? userId : `row-${n}`
        const stored = { ...row, id }
        current.repo = yield* memoryRowsRepo([stored])
        const client = yield* FlagClient
        const cache = yield* ContextCache
        // Hostile ids repeat across cases: what an earlier case cached must not answer for this row.
        yield* cache.invalidateAll
        const what = `row ${n} ${describeRow(stored)}`

        const oracle = decodeRow(stored)
        const exit = yield* Effect.exit(client.evaluate("by-segment", id as UserId, false))
        assertAnswered(exit, [], what)
        if (Exit.isSuccess(exit)) {
          const detail = exit.value
          if (oracle === undefined) {
            // The row does not decode (or the id is not valid): never a full context.
            assert.notStrictEqual(detail.context, "full", `${what}: ${JSON.stringify(detail)}`)
            assert.include(["UserRepoUnavailable", "InvalidUserId"], detail.fallback, `${what}: ${detail.fallback}`)
          } else {
            assert.deepStrictEqual(
              [detail.context, detail.fallback],
              ["full", null],
              `${what}: ${JSON.stringify(detail)}`
            )
            // The pure segmentation agrees: the context of the decoded user is well formed.
            assert.strictEqual(buildContext(oracle, NOW).key, oracle.id, what)
          }
        }
        // The repository itself: the row or a typed error. Every operation, for one case in four.
        assertAnswered(yield* Effect.exit(current.repo.getById(id)), REPO_ERRORS, `${what} getById`)
        assertNoPollution(what)
        return n % 4 === 0 ? yield* everyOperation(client, cache, current.repo, id, flagKey, {}, what) : true
      }),
    { timeout: 30_000, arbitrary: { runs: 3_000, size: 20, seed: 7 } }
  )

  it.effect.prop(
    "arbitrary metadata on valid rows - always a full context, whatever the JSON holds",
    { metadata: hostileMetadata },
    ({ metadata }) =>
      Effect.gen(function* () {
        const id = `meta-${rowCount++}`
        current.repo = yield* memoryRowsRepo([
          { id, email: `${id}@example.com`, emailVerified: true, createdAt: new Date(NOW - 3 * 86_400_000), metadata }
        ])
        const client = yield* FlagClient
        for (const flagKey of ["by-segment", "by-plan", "json"]) {
          const exit = yield* Effect.exit(client.evaluate(flagKey, id as UserId, null))
          assertAnswered(exit, [], `${id} ${flagKey}`)
          if (Exit.isSuccess(exit)) {
            assert.deepStrictEqual([exit.value.context, exit.value.fallback], ["full", null], `${id} ${flagKey}`)
          }
        }
        if (rowCount % 4 === 0) {
          const all = yield* client.allFlags(id as UserId)
          assert.notStrictEqual(all.$valid, false, id)
        }
        assertNoPollution(id)
        return true
      }),
    { timeout: 30_000, arbitrary: { runs: 1_000, size: 20, seed: 8 } }
  )
})
